"""Bulk loading Arrow data into PostgreSQL with COPY, the fastest path in.

Arrow's CSV writer quotes every string and leaves nulls unquoted, which is
exactly PostgreSQL's CSV convention (`""` is an empty string, nothing is
NULL), so no value is reinterpreted on the way in.
"""

from __future__ import annotations

import io

import psycopg
import pyarrow as pa
import pyarrow.csv as pcsv
from psycopg import sql

_CHUNK_ROWS = 50_000


def copy_arrow(conn: psycopg.Connection, table: str, data: pa.Table | pa.RecordBatch) -> int:
    """COPY an Arrow table into `table`, columns matched by name.

    Args:
        conn: an open connection; the caller owns the transaction.
        table: the target table name.
        data: rows to load; every column must exist in the target.

    Returns:
        The number of rows loaded.
    """
    if data.num_rows == 0:
        return 0
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in data.schema.names)
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(table), columns
    )
    options = pcsv.WriteOptions(include_header=False, quoting_style="needed")
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for start in range(0, data.num_rows, _CHUNK_ROWS):
            buffer = io.BytesIO()
            pcsv.write_csv(data.slice(start, _CHUNK_ROWS), buffer, options)
            copy.write(buffer.getbuffer())
    return data.num_rows
