"""Named SQL statements kept as plain files in `db/queries/`, so SQL stays SQL."""

from __future__ import annotations

from functools import cache
from pathlib import Path

QUERIES_DIR = Path(__file__).parent / "queries"


@cache
def sql(name: str) -> str:
    """The text of `db/queries/<name>.sql`."""
    return (QUERIES_DIR / f"{name}.sql").read_text(encoding="utf-8")
