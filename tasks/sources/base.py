"""What every source is, and `open_source`, which picks the right one for a reference.

A source is read by calling `batches()`; each call opens its own file or
connection and closes it when the iteration ends, so a source object can be
kept, passed to a worker and read again. `start_after` resumes after the last
`row_number` a previous read delivered.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import pyarrow as pa

from tasks.sources.csv import CsvSource
from tasks.sources.errors import SourceError
from tasks.sources.files import check_file
from tasks.sources.mysql import MysqlSource
from tasks.sources.schema import BATCH_ROWS, SourceKind
from tasks.sources.sql_dump import SqlDumpSource
from tasks.sources.sqlite import SqliteSource

if TYPE_CHECKING:
    from leadpipe.tenant import Tenant

CSV_SUFFIXES = (".csv",)
SQL_SUFFIXES = (".sql",)
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
MYSQL_SCHEMES = ("mysql://", "mariadb://")
TENANT_MYSQL = "mysql"
"""The reference that means the tenant's own `legacy.mysql_url`."""


@runtime_checkable
class Source(Protocol):
    """A readable legacy source or upload.

    Attributes:
        name: what reports call it: a file path or `mysql://host:port/db.table`
            (never a password).
        kind: the import_batches source type of its rows.
    """

    name: str
    kind: SourceKind

    def batches(self, start_after: int | None = None,
                batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """Stream the rows as `schema.BATCH_SCHEMA` batches in row_number order.

        Args:
            start_after: skip rows up to and including this row_number (resume).
            batch_rows: rows per batch (the last may be shorter).
        """
        ...

    def estimate(self) -> int | None:
        """About how many rows the source holds (for progress), or None if unknown."""
        ...


def open_source(ref: str, tenant: Tenant, *, upload: bool = False,
                table: str | None = None) -> Source:
    """The source a reference names, checked enough to fail early.

    Args:
        ref: `mysql://user:password@host:port/db[.table]` (or `mariadb://`), `mysql` for
            the tenant's `legacy.mysql_url`, or a file path ending .csv, .sql, .sqlite,
            .sqlite3 or .db.
        tenant: gives the header synonyms and the default MySQL table.
        upload: a CSV an operator uploaded (`upload_csv`) rather than a legacy campaign
            file (`legacy_csv`). A .sql file is always an upload.
        table: the table to read: MySQL (default: the URL's, else the tenant's
            `legacy.mysql_table`), SQLite (default `leads`) or a dump (default: the first
            table with INSERTs).

    Raises:
        SourceError: unknown format, missing or oversized file, or no column that could
            identify a person (the message names the file and the columns seen).
        RetryableSourceError: the MySQL server could not be reached.
    """
    synonyms = tenant.legacy.header_synonyms
    if ref == TENANT_MYSQL or ref.startswith(MYSQL_SCHEMES):
        if ref == TENANT_MYSQL:
            if tenant.legacy.mysql_url is None:
                raise SourceError("mysql: the tenant has no legacy.mysql_url")
            ref = tenant.legacy.mysql_url.resolve()
        return MysqlSource(ref, synonyms, table=table, default_table=tenant.legacy.mysql_table)
    path = Path(ref)
    suffix = path.suffix.lower()
    known = (*CSV_SUFFIXES, *SQL_SUFFIXES, *SQLITE_SUFFIXES)
    if suffix not in known:
        raise SourceError(
            f"{path}: unknown source format {suffix or '(no suffix)'!r}; expected one of "
            f"{', '.join(known)} or a mysql:// URL"
        )
    check_file(path)
    if suffix in CSV_SUFFIXES:
        return CsvSource(path, synonyms, kind="upload_csv" if upload else "legacy_csv")
    if suffix in SQL_SUFFIXES:
        return SqlDumpSource(path, synonyms, table=table)
    return SqliteSource(path, synonyms, table=table or "leads")
