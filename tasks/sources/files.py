"""Checks every file source makes before reading a byte of it."""

from __future__ import annotations

from pathlib import Path

from tasks.sources.errors import SourceError

MAX_FILE_BYTES = 5 * 1024**3
"""Files above this are refused before reading: an operator's limit, not a memory need
(every source streams)."""


def check_file(path: Path) -> None:
    """Refuse a missing path, a folder, or a file over `MAX_FILE_BYTES`.

    Raises:
        SourceError: naming the file and the problem.
    """
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    if not path.is_file():
        raise SourceError(f"{path}: not a file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SourceError(
            f"{path}: {size:,} bytes is over the {MAX_FILE_BYTES:,}-byte limit for one file; "
            "split it or load it from the database"
        )
