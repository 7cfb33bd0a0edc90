"""A local folder: the demo channel, and a drop folder mounted from elsewhere.

A relative folder is under LEADPIPE_HOME. Hidden files (a partner's upload
still in progress is often one) are not listed. Processed files move to
`<folder>/processed/`; a file of the same name there is replaced, since its
bytes were landed already.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from tasks.transports.base import PROCESSED, FolderTransport, MoveRefused, RemoteFile, home_path
from tasks.transports.errors import TerminalTransportError


class LocalTransport(FolderTransport):
    """A folder on this machine."""

    def _root(self) -> Path:
        return home_path(self.folder or ".")

    def _list(self) -> list[RemoteFile]:
        root = self._root()
        try:
            entries = list(os.scandir(root))
        except OSError as error:
            raise TerminalTransportError(
                f"{self.name}: cannot list {root}: {error.strerror}"
            ) from None
        return [
            RemoteFile(
                name=entry.name,
                size=entry.stat().st_size,
                ref=entry.path,
                modified=datetime.fromtimestamp(entry.stat().st_mtime, UTC),
            )
            for entry in entries
            if entry.is_file() and not entry.name.startswith(".")
        ]

    def _read(self, file: RemoteFile) -> bytes:
        try:
            return Path(file.ref).read_bytes()
        except OSError as error:
            raise TerminalTransportError(
                f"{self.name}: cannot read {file.ref}: {error.strerror}"
            ) from None

    def _move_to_processed(self, file: RemoteFile) -> None:
        target = self._root() / PROCESSED
        try:
            target.mkdir(exist_ok=True)
            os.replace(file.ref, target / file.name)
        except OSError as error:
            raise MoveRefused(error.strerror or str(error)) from None
