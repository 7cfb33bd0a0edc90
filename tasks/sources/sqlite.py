"""The old campaign tools' SQLite files: a table (default `leads`) read in rowid order.

Rows are keyed by rowid, so `source_key` and `row_number` are the rowid and a read
resumes with `WHERE rowid > ?`: each batch is one indexed range query, and nothing
depends on a cursor staying open between batches. The file is opened read-only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import numpy as np
import pyarrow as pa

from tasks.sources.columns import Synonyms
from tasks.sources.errors import SourceError
from tasks.sources.schema import BATCH_ROWS, MIN_KEY, SourceKind
from tasks.sources.shape import BatchShape
from tasks.sources.text import text_array


def quote_identifier(name: str) -> str:
    """A SQLite identifier in double quotes, safe whatever the table is called."""
    return '"' + name.replace('"', '""') + '"'


class SqliteSource:
    """One SQLite file's person table."""

    kind: SourceKind = "legacy_sqlite"

    def __init__(self, path: str | Path, synonyms: Synonyms, *, table: str = "leads") -> None:
        """Open the file, find the table and match its columns.

        Raises:
            SourceError: not a SQLite database, no such table, or no column that could
                identify a person.
        """
        self.path = Path(path)
        self.name = str(self.path)
        self.table = table
        with closing(self._connect()) as connection:
            names = self._column_names(connection)
        self.shape = BatchShape(self.name, names, synonyms)
        self._select = (f"SELECT rowid, * FROM {quote_identifier(table)} "
                        "WHERE rowid > ? ORDER BY rowid LIMIT ?")

    def _connect(self) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as error:
            raise SourceError(f"{self.name}: cannot open ({error})") from None
        try:
            connection.execute("PRAGMA schema_version").fetchone()
        except sqlite3.DatabaseError as error:
            connection.close()
            raise SourceError(f"{self.name}: not a SQLite database ({error})") from None
        return connection

    def _column_names(self, connection: sqlite3.Connection) -> list[str]:
        names = [row[0] for row in connection.execute(
            "SELECT name FROM pragma_table_info(?)", (self.table,))]
        if not names:
            tables = [row[0] for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            raise SourceError(f"{self.name}: no table {self.table!r} "
                              f"(tables: {', '.join(tables) or 'none'})")
        return names

    def batches(self, start_after: int | None = None,
                batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """Stream the rows in rowid order; see `base.Source.batches`."""
        last = start_after if start_after is not None else MIN_KEY
        with closing(self._connect()) as connection:
            while True:
                rows = self._fetch(connection, last, batch_rows)
                if not rows:
                    return
                columns = list(zip(*rows, strict=True))
                keys = np.fromiter(columns[0], dtype=np.int64, count=len(rows))
                yield self.shape.batch([text_array(c) for c in columns[1:]], pa.array(keys))
                last = int(keys[-1])
                if len(rows) < batch_rows:
                    return

    def _fetch(self, connection: sqlite3.Connection, last: int, limit: int) -> list[tuple]:
        try:
            return connection.execute(self._select, (last, limit)).fetchall()
        except sqlite3.OperationalError as error:
            if "decode" not in str(error):
                raise SourceError(f"{self.name}: {error}") from None
        # Some text in this range is not UTF-8: read it as bytes (cp1252 fallback per value).
        connection.text_factory = bytes
        try:
            return connection.execute(self._select, (last, limit)).fetchall()
        finally:
            connection.text_factory = str

    def estimate(self) -> int | None:
        """The highest rowid: the row count unless rows were deleted."""
        with closing(self._connect()) as connection:
            row = connection.execute(
                f"SELECT max(rowid) FROM {quote_identifier(self.table)}").fetchone()
        return row[0] if row and row[0] is not None else 0
