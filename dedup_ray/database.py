"""PostgreSQL in and out for dedup: people in the core's input shape, COPY helpers.

People are read with one ``COPY (SELECT ...) TO STDOUT`` in CSV, parsed by pyarrow
(about 4 s for a million people with their primary address here); fixed-width integer
data goes out with PostgreSQL's binary COPY format, encoded by numpy. The run itself is
`dedup_ray.runs`, the write-back `dedup_ray.writeback`, the key store `dedup_ray.store`.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg.copy import QueuedLibpqWriter

from db.queries import sql
from dedup_ray.normalize import INPUT_SCHEMA
from dedup_ray.settings import DedupSettings
from tasks.copy import copy_arrow

I64 = npt.NDArray[np.int64]

_CSV_READ = pacsv.ReadOptions(autogenerate_column_names=True, block_size=1 << 24)
_PEOPLE = INPUT_SCHEMA.set(
    INPUT_SCHEMA.get_field_index("source_updated_at"), pa.field("source_updated_at", pa.int64())
).append(pa.field("golden_id", pa.int64()))
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_COPY_TRAILER = b"\xff\xff"
#: Rows encoded per chunk handed to the COPY writer thread.
_CHUNK_ROWS = 1_000_000


# COPY.


def copy_out(
    conn: psycopg.Connection,
    statement: str,
    schema: pa.Schema,
    params: dict[str, object] | None = None,
) -> pa.Table:
    """Run a ``COPY (...) TO STDOUT (FORMAT csv)`` and parse its output with pyarrow.

    PostgreSQL's CSV writes NULL unquoted and empty and quoted strings quoted, which is what
    pyarrow reads back as null and "" with these options; booleans come as ``t``/``f``.

    Args:
        conn: an open connection.
        statement: the COPY statement (no parameters).
        schema: names and types of the output columns, in order.
        params: parameters of the statement.
    """
    buffer = io.BytesIO()
    with conn.cursor() as cur, cur.copy(statement, params) as copy:
        for chunk in copy:
            buffer.write(chunk)
    if buffer.tell() == 0:
        return schema.empty_table()
    buffer.seek(0)
    convert = pacsv.ConvertOptions(
        column_types={f"f{i}": f.type for i, f in enumerate(schema)},
        true_values=["t"],
        false_values=["f"],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    table = pacsv.read_csv(buffer, read_options=_CSV_READ, convert_options=convert)
    return table.rename_columns(schema.names).cast(schema)


def fetch_packed(
    conn: psycopg.Connection,
    statement: str,
    dtype: np.dtype,
    params: dict[str, object] | None = None,
) -> np.ndarray:
    """Rows of fixed-width numbers a query packed into one ``bytea`` (big-endian fields).

    Each row of a COPY or a SELECT costs a round of the client's read loop (about 8 us here
    under load: a key-store answer of 800k rows took 7 s); the query aggregates its rows
    server-side (``string_agg(int8send(...) || ..., '')``) and numpy reads them at once.

    Args:
        conn: an open connection.
        statement: a query returning one row with one ``bytea`` (NULL for no rows).
        dtype: the layout of one packed row.
        params: parameters of the statement.
    """
    row = conn.execute(statement, params, binary=True).fetchone()
    data = row[0] if row is not None and row[0] is not None else b""
    return np.frombuffer(data, dtype)


def fill_ids(conn: psycopg.Connection, person_ids: I64) -> None:
    """Put person ids in the ``dedup_ids`` temporary table (emptied first)."""
    conn.execute(sql("dedup_tmp_ids"))
    conn.execute(sql("dedup_ids_clear"))
    copy_arrow(conn, "dedup_ids", pa.table({"person_id": np.asarray(person_ids, np.int64)}))
    conn.execute(sql("dedup_analyze_ids"))


def binary_field(name: str, kind: str, width: int = 0) -> list[tuple[str, Any]]:
    """A binary COPY field: its byte length, then its big-endian value.

    With `width`, a ``bytea`` of `width` big-endian values of `kind`.
    """
    if width:
        return [(f"{name}_len", ">i4"), (name, kind, (width,))]
    return [(f"{name}_len", ">i4"), (name, kind)]


def _encode(dtype: np.dtype, columns: dict[str, npt.NDArray[Any]]) -> bytes:
    """Rows of binary COPY data: fixed-width fields, every length filled in by type."""
    rows = np.empty(len(next(iter(columns.values()))), dtype)
    rows["fields"] = len(columns)
    for name, values in columns.items():
        rows[f"{name}_len"] = values.dtype.itemsize * (values.shape[1] if values.ndim == 2 else 1)
        rows[name] = values
    return rows.tobytes()


def copy_binary(
    conn: psycopg.Connection,
    statement: str,
    dtype: np.dtype,
    columns: dict[str, npt.NDArray[Any]],
) -> int:
    """COPY fixed-width numpy columns in PostgreSQL's binary format.

    The band keys are integers only (17M rows for 1M people), for which the binary format
    is encoded by numpy in one pass and parsed by PostgreSQL without text conversion; a
    writer thread sends one chunk while the next is encoded.

    Args:
        conn: a connection inside the caller's transaction.
        statement: ``COPY table (columns) FROM STDIN (FORMAT binary ...)``.
        dtype: the row layout: a leading ``fields`` int16, then `binary_field` fields.
        columns: values per field, in statement order.

    Returns:
        Rows copied.
    """
    n = len(next(iter(columns.values())))
    chunks = (
        {k: v[lo : lo + _CHUNK_ROWS] for k, v in columns.items()}
        for lo in range(0, n, _CHUNK_ROWS)
    )
    return copy_binary_chunks(conn, statement, dtype, chunks)


def copy_binary_chunks(
    conn: psycopg.Connection,
    statement: str,
    dtype: np.dtype,
    chunks: Iterable[dict[str, npt.NDArray[Any]]],
) -> int:
    """`copy_binary` of columns made chunk by chunk (rows too many to hold twice)."""
    n = 0
    with conn.cursor() as cur, cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
        copy.write(_COPY_HEADER)
        for chunk in chunks:
            n += len(next(iter(chunk.values())))
            copy.write(_encode(dtype, chunk))
        copy.write(_COPY_TRAILER)
    return n


# Reading.


def read_people(conn: psycopg.Connection, person_ids: I64 | None = None) -> pa.Table:
    """People in the core's input schema (`dedup_ray.INPUT_SCHEMA`), ordered by id.

    One more column, ``golden_id`` (stored golden record, null for golden records), is not
    an input of the core; the write-back uses it to send only what may have changed.

    Args:
        conn: an open connection (inside a transaction when `person_ids` is given).
        person_ids: only these people; all of them when None.
    """
    if person_ids is None:
        return _as_input(copy_out(conn, sql("dedup_people_all"), _PEOPLE))
    fill_ids(conn, person_ids)
    return _as_input(copy_out(conn, sql("dedup_people_ids"), _PEOPLE))


def read_queued_people(conn: psycopg.Connection) -> pa.Table:
    """The people of this run's queue snapshot (``dedup_seen``) that still exist."""
    conn.execute(sql("dedup_tmp_ids"))
    conn.execute(sql("dedup_ids_clear"))
    conn.execute(sql("dedup_queue_ids"))
    conn.execute(sql("dedup_analyze_ids"))
    return _as_input(copy_out(conn, sql("dedup_people_ids"), _PEOPLE))


def _as_input(table: pa.Table) -> pa.Table:
    index = table.schema.get_field_index("source_updated_at")
    updated = table.column(index).cast(pa.timestamp("us", tz="UTC"))
    return table.set_column(index, "source_updated_at", updated)


def exclusions(conn: psycopg.Connection) -> I64:
    """The pairs operators separated, as a ``(k, 2)`` array of person ids."""
    rows = conn.execute(sql("dedup_exclusions_all")).fetchall()
    return np.array(rows, dtype=np.int64).reshape(-1, 2)


def stored_settings(conn: psycopg.Connection) -> DedupSettings | None:
    """The settings of the last completed run (the ones the stored keys were built with)."""
    row = conn.execute(sql("dedup_run_last")).fetchone()
    return DedupSettings.from_dict(row[1]) if row else None


def golden_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Persons, golden records, duplicates and golden records with duplicates."""
    cur = conn.execute(sql("dedup_golden_counts"))
    names = [d.name for d in cur.description or []]
    row = cur.fetchone() or ()
    return dict(zip(names, (int(v) for v in row), strict=True))


# Loading lists (benchmarks, tests, a list a user wants kept in the database).


def load_people(conn: psycopg.Connection, people: pa.Table) -> int:
    """Insert people rows (`dedup_ray.INPUT_SCHEMA`, explicit ids) into persons and addresses.

    Emails are lower-cased as the ingest path stores them; the street, city and state
    become each person's primary address. Returns the number of people loaded.
    """
    p = people
    persons = pa.table(
        {
            "id": p.column("id"),
            "first_name": p.column("first_name"),
            "middle_name": p.column("middle_name"),
            "last_name": p.column("last_name"),
            "primary_email": pc.utf8_lower(p.column("email")),
            "primary_phone_e164": p.column("phone_e164"),
            "zip5": p.column("zip5"),
            "source_updated_at": p.column("source_updated_at"),
            "manual_override": p.column("manual_override"),
            "email_verified": p.column("email_verified"),
            "phone_verified": p.column("phone_verified"),
        }
    )
    addresses = pa.table(
        {
            "person_id": p.column("id"),
            "street": p.column("street"),
            "city": p.column("city"),
            "state": p.column("state"),
            "zip": p.column("zip5"),
            "is_primary": pa.array(np.ones(p.num_rows, dtype=np.bool_)),
        }
    )
    copy_arrow(conn, "persons", persons)
    copy_arrow(conn, "addresses", addresses)
    conn.execute(sql("dedup_persons_sequence"))
    return p.num_rows
