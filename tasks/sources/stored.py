"""A migrated batch read back from the database: the rows its source delivered, as kept.

Every row a legacy migration read is kept whole: a loaded row in `stg_person.raw`
(json), a rejected row in the `raw_row` of its findings (text), each a JSON object
of the source's own column name -> text value. Reading those objects back through
the same `BatchShape` (the tenant's header synonyms) gives the batches the original
source gave, so a batch can be processed again (`leadpipe replay`) without its file
or its MySQL server. Row numbers and source keys are the original ones: a loaded
row keeps its stored source key; a rejected row's key is its row number, which is
what every source uses (a MySQL primary key is its row number, a file row's key is
its row number).

Column order comes from a finding's raw text when the batch has one (rows staged while
`raw` was jsonb have their keys sorted): the order decides nothing but the key order of
a rejected row's raw text, which is then written back exactly as it was.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from db.queries import sql
from tasks.sources.columns import Synonyms
from tasks.sources.errors import SourceError
from tasks.sources.raw_json import text_bytes
from tasks.sources.schema import BATCH_ROWS, MIN_KEY, SourceKind
from tasks.sources.shape import BatchShape

_STORED = pa.schema([("row_number", pa.int64()), ("source_key", pa.string()),
                     ("raw", pa.string())])


class StoredSource:
    """The kept rows of one migrated batch: all of them, or only the rejected ones.

    `source_key` and `row_number` are those the batch's original source gave.
    """

    def __init__(self, conninfo: str, batch_id: int, *, name: str, kind: SourceKind,
                 synonyms: Synonyms, errors_only: bool = False) -> None:
        """Learn the source's column names from one kept row and match them.

        Args:
            conninfo: the database (each read opens its own connection).
            batch_id: the migrated batch.
            name: the batch's source name (its `filename`), for reports and messages.
            kind: the batch's source type.
            synonyms: the tenant's `legacy.header_synonyms`, as the migration used them.
            errors_only: read only the rejected rows.

        Raises:
            SourceError: a kept row is not a JSON object, or its columns identify no one.
        """
        self.conninfo = conninfo
        self.batch_id = batch_id
        self.name = name
        self.kind: SourceKind = kind
        self.errors_only = errors_only
        with psycopg.connect(conninfo) as conn:
            found = conn.execute(sql("stored_row_names"), {"batch_id": batch_id}).fetchone()
        names = _keys(name, found[0]) if found else []
        self.shape = BatchShape(name, names, synonyms) if names else None
        self._schema = pa.schema([(column, pa.string()) for column in names])

    def batches(self, start_after: int | None = None,
                batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """Stream the kept rows in row_number order; see `base.Source.batches`."""
        if self.shape is None:
            return
        after = start_after if start_after is not None else MIN_KEY
        with psycopg.connect(self.conninfo) as conn:
            while True:
                stored = self._fetch(conn, after, batch_rows)
                if stored.num_rows == 0:
                    return
                numbers = stored.column("row_number").combine_chunks()
                columns = self._columns(stored.column("raw").combine_chunks())
                keys = stored.column("source_key").combine_chunks()
                yield self.shape.batch(columns, numbers, keys)
                after = numbers[-1].as_py()
                if stored.num_rows < batch_rows:
                    return

    def estimate(self) -> int | None:
        """Not known without counting; progress runs without a total."""
        return None

    def _fetch(self, conn: psycopg.Connection, after: int, limit: int) -> pa.Table:
        """The next `limit` kept rows after row `after`, read by COPY as Arrow columns."""
        params = {"batch_id": self.batch_id, "after": after, "limit": limit,
                  "errors_only": self.errors_only}
        with conn.cursor() as cur, cur.copy(sql("stored_rows"), params) as copy:
            data = b"".join(bytes(block) for block in copy)
        if not data:
            return _STORED.empty_table()
        return pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=_STORED.names),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types=_STORED,
                                                 strings_can_be_null=False))

    def _columns(self, raw: pa.Array) -> list[pa.Array]:
        """The JSON objects as one string column per source column (null where null)."""
        lines = pc.binary_join_element_wise(raw, "", "\n")
        try:
            parsed = pajson.read_json(
                pa.BufferReader(pa.py_buffer(text_bytes(lines))),
                parse_options=pajson.ParseOptions(explicit_schema=self._schema,
                                                  unexpected_field_behavior="error"))
        except pa.ArrowInvalid as error:
            raise SourceError(f"{self.name}: a kept row does not match the source's "
                              f"columns ({error})") from None
        if parsed.num_rows != len(raw):
            raise SourceError(f"{self.name}: {len(raw)} kept rows gave {parsed.num_rows}")
        return [column.combine_chunks() for column in parsed.columns]


def _keys(name: str, raw: str) -> list[str]:
    """The keys of one kept row, in its order."""
    try:
        row = json.loads(raw)
    except json.JSONDecodeError as error:
        raise SourceError(f"{name}: a kept row is not JSON ({error})") from None
    if not isinstance(row, dict):
        raise SourceError(f"{name}: a kept row is not a JSON object")
    return list(row)
