"""Legacy sources and uploads as Arrow record batches of one shape (`schema.BATCH_SCHEMA`).

`open_source(ref, tenant)` picks the reader for a `mysql://` URL or a .csv, .sql,
.sqlite/.db file; every reader maps its columns to the logical person fields through
the tenant's `legacy.header_synonyms` and streams `batches(start_after, batch_rows)`,
resumable after the last row_number delivered. Failures are `SourceError` (fix the
input) or `RetryableSourceError` (try again, resuming).
"""

from tasks.sources.base import Source, open_source
from tasks.sources.columns import match_columns
from tasks.sources.csv import CsvSource
from tasks.sources.errors import RetryableSourceError, SourceError, is_retryable
from tasks.sources.mysql import MysqlSource
from tasks.sources.schema import BATCH_ROWS, BATCH_SCHEMA, LOGICAL_FIELDS, SourceKind
from tasks.sources.sql_dump import SqlDumpSource
from tasks.sources.sqlite import SqliteSource

__all__ = [
    "BATCH_ROWS",
    "BATCH_SCHEMA",
    "LOGICAL_FIELDS",
    "CsvSource",
    "MysqlSource",
    "RetryableSourceError",
    "Source",
    "SourceError",
    "SourceKind",
    "SqlDumpSource",
    "SqliteSource",
    "is_retryable",
    "match_columns",
    "open_source",
]
