"""The one batch shape every legacy source and upload produces.

Whatever the source (a MySQL table, a SQLite file, a campaign CSV, a mysqldump
upload), rows come out as Arrow record batches with these columns, so staging,
hygiene and the person upsert have a single input to handle. Values stay text
exactly as the source held them; cleaning is hygiene's job, and `raw` keeps the
whole source row so nothing is lost on the way.
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa

LOGICAL_FIELDS = (
    "first_name", "last_name", "full_name", "email", "phone", "phone2", "street", "street2",
    "city", "state", "zip", "created_at", "updated_at", "source_name",
)
"""Person fields a source column can be mapped to (through `legacy.header_synonyms`)."""

IDENTITY_FIELDS = (
    "first_name", "last_name", "full_name", "email", "phone", "phone2", "street",
)
"""A source must map at least one of these, or its rows could never be matched to a person."""

BATCH_SCHEMA = pa.schema([
    pa.field("source_key", pa.string(), nullable=False),
    pa.field("row_number", pa.int64(), nullable=False),
    *(pa.field(name, pa.string()) for name in LOGICAL_FIELDS),
    pa.field("raw", pa.string(), nullable=False),
])
"""`source_key`: the row's identity in its source (MySQL primary key, SQLite rowid, CSV or
dump data-row number); `row_number`: the position resumption counts in (the key for keyed
sources); the logical fields (null where the source has no such column); `raw`: the whole
source row as a JSON object of original column name -> text value."""

SourceKind = Literal["legacy_mysql", "legacy_sqlite", "legacy_csv", "upload_csv", "upload_sql"]
"""The `import_batches.source_type` of rows read from a source."""

MIN_KEY = -(2**63)
"""Where a keyed source (MySQL, SQLite) starts reading: `key > MIN_KEY` holds for every
signed 64-bit key but this smallest one."""

BATCH_ROWS = 50_000
"""Rows per batch unless the caller asks otherwise: a few tens of MB of Arrow data."""
