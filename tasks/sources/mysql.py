"""The legacy MySQL/MariaDB table, read in primary-key ranges through a streaming cursor.

Each batch is one `WHERE id > last ORDER BY id LIMIT n` query read with PyMySQL's
unbuffered `SSCursor` and turned into Arrow a few thousand rows at a time, so
memory holds one batch, no result set is left open while the caller works on a
batch, and a dropped connection costs at most the batch in flight: the error says
the last key delivered, and reading resumes from it (`start_after`). Values come
back as the server's text (no Python type conversion), which is both the fastest
path and exactly the raw form.

PyMySQL parses a result in Python, value by value; so where every column's text is the
same inside CONCAT as on the wire (text, integer, decimal and date columns), the server
packs each row into one value, its columns' text (a 0xFF byte for NULL) joined by a unit
separator, and Arrow splits them: the 1M benchmark's 638,105 rows took 1.5-1.8 CPU s to fetch
instead of 5.3-5.5 (one-off probe). A batch in which some value holds the separator is
read again column by column.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from urllib.parse import unquote, urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pymysql
from pymysql import converters
from pymysql.cursors import SSCursor

from tasks.sources.columns import Synonyms
from tasks.sources.errors import RetryableSourceError, SourceError
from tasks.sources.schema import BATCH_ROWS, MIN_KEY, SourceKind
from tasks.sources.shape import BatchShape
from tasks.sources.text import decode_text, text_array

FETCH_ROWS = 10_000
"""Rows taken from the socket and converted to Arrow at a time (bounds Python objects)."""
CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 600

RETRYABLE_CODES = frozenset({
    1053,  # server shutdown in progress
    1927,  # connection killed (MariaDB)
    2003,  # can't connect
    2006,  # server has gone away
    2013,  # lost connection during query
    2055,  # lost connection at a system call
})
_INTEGER_TYPES = frozenset({"tinyint", "smallint", "mediumint", "int", "integer", "bigint"})
_PACKABLE_TYPES = _INTEGER_TYPES | frozenset({
    "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set",
    "decimal", "date", "datetime", "timestamp", "time", "year"})
"""Column types whose text inside CONCAT is their text on the wire (a float's is not:
CONCAT writes a FLOAT's double, 1.100000023841858 for 1.1)."""
SEPARATOR = b"\x1f"
NULL = b"\xff"
"""A packed row's NULL: no byte of UTF-8 text (every packable column's value on the wire)."""
# Encoders only: parameters are escaped as usual, but results stay the server's text.
_TEXT_RESULTS = {k: v for k, v in converters.conversions.items() if not isinstance(k, int)}


class _StreamingCursor(SSCursor):
    """PyMySQL's unbuffered cursor, able to let go of a result its connection lost.

    Closing an unbuffered cursor reads the rest of its result; on a broken connection
    PyMySQL then fails with AttributeError (from `close()` and again when the result is
    collected), which would hide the network error that matters.
    """

    def abandon(self) -> None:
        """Forget the unread rest of the result without touching the connection."""
        if self._result is not None:
            self._result.unbuffered_active = False
        self.connection = None


def quote_identifier(name: str) -> str:
    """A MySQL identifier in backticks, safe whatever the table is called."""
    return "`" + name.replace("`", "``") + "`"


@dataclass(frozen=True)
class MysqlLocation:
    """Where a table lives: `mysql://user:password@host:port/database[.table]`."""

    host: str
    port: int
    user: str
    password: str
    database: str
    table: str

    @classmethod
    def parse(cls, url: str, default_table: str = "contacts") -> MysqlLocation:
        """Read a mysql:// (or mariadb://) URL; the table defaults to `default_table`.

        Raises:
            SourceError: not such a URL, or it names no database.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("mysql", "mariadb"):
            raise SourceError(f"not a mysql:// URL: {parts.scheme}://{parts.hostname}")
        path = unquote(parts.path.strip("/"))
        database, _, table = path.replace("/", ".", 1).partition(".")
        if not database:
            raise SourceError(f"mysql://{parts.hostname}: the URL names no database")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            database=database,
            table=table or default_table,
        )

    @property
    def name(self) -> str:
        """The location for reports: no user, no password."""
        return f"mysql://{self.host}:{self.port}/{self.database}.{self.table}"


class MysqlSource:
    """A MySQL/MariaDB table with a single-column integer primary key.

    `source_key` is the key as text and `row_number` the key itself.
    """

    kind: SourceKind = "legacy_mysql"

    def __init__(self, url: str, synonyms: Synonyms, *, table: str | None = None,
                 default_table: str = "contacts") -> None:
        """Connect once to find the primary key and match the columns.

        Raises:
            SourceError: no such table, no usable primary key, or no column that could
                identify a person.
            RetryableSourceError: the server could not be reached.
        """
        location = MysqlLocation.parse(url, default_table)
        if table:
            location = replace(location, table=table)
        self.location = location
        self.name = location.name
        connection = self._connect()
        try:
            names, kinds, self.key = self._describe(connection)
        except pymysql.MySQLError as error:
            raise self._error(error, None) from None
        finally:
            connection.close()
        self.key_index = names.index(self.key)
        self.shape = BatchShape(self.name, names, synonyms)
        table_sql, key_sql = quote_identifier(location.table), quote_identifier(self.key)
        where = f"FROM {table_sql} WHERE {key_sql} > %s ORDER BY {key_sql} LIMIT %s"
        self._select = f"SELECT * {where}"
        self._width = len(names)
        packed = ", X'1F', ".join(
            f"IFNULL(CAST(CONVERT({quote_identifier(n)} USING utf8mb4) AS BINARY), X'FF')"
            for n in names)
        packable = all(kind in _PACKABLE_TYPES for kind in kinds)
        self._select_packed = (f"SELECT CAST(CONCAT({packed}) AS BINARY) {where}"
                               if packable else None)

    def _connect(self) -> pymysql.Connection:
        where = self.location
        try:
            return pymysql.connect(
                host=where.host, port=where.port, user=where.user, password=where.password,
                database=where.database, charset="utf8mb4", conv=_TEXT_RESULTS,
                connect_timeout=CONNECT_TIMEOUT_S, read_timeout=READ_TIMEOUT_S,
            )
        except pymysql.MySQLError as error:
            raise self._error(error, None) from None

    def _describe(self, connection: pymysql.Connection) -> tuple[list[str], list[str], str]:
        """The table's column names and types (lower case), and its primary key."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_KEY FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
                (self.location.database, self.location.table))
            columns = cursor.fetchall()
        if not columns:
            raise SourceError(f"{self.name}: no such table")
        keys = [(name, kind) for name, kind, key in columns if key == "PRI"]
        if len(keys) != 1 or keys[0][1].lower() not in _INTEGER_TYPES:
            raise SourceError(f"{self.name}: the table needs a single-column integer primary "
                              f"key to be read in key ranges (found: "
                              f"{', '.join(k for k, _ in keys) or 'none'})")
        return ([name for name, _, _ in columns], [kind.lower() for _, kind, _ in columns],
                keys[0][0])

    def _error(self, error: pymysql.MySQLError, last: int | None) -> Exception:
        code = error.args[0] if error.args else None
        message = error.args[1] if len(error.args) > 1 else str(error)
        if code in RETRYABLE_CODES or isinstance(error, pymysql.err.InterfaceError):
            after = f"; resume after key {last}" if last is not None else ""
            return RetryableSourceError(f"{self.name}: MySQL error {code}: {message}{after}",
                                        resume_after=last)
        return SourceError(f"{self.name}: MySQL error {code}: {message}")

    def batches(self, start_after: int | None = None,
                batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """Stream the rows in key order; see `base.Source.batches`.

        Raises:
            RetryableSourceError: the connection failed; `resume_after` is the last key
                delivered.
        """
        last = start_after if start_after is not None else MIN_KEY
        delivered = start_after
        connection = self._connect()
        try:
            while True:
                try:
                    columns = self._range(connection, last, batch_rows)
                except pymysql.MySQLError as error:
                    raise self._error(error, delivered) from None
                if columns is None:
                    return
                keys = columns[self.key_index]
                numbers = keys.cast(pa.int64())
                yield self.shape.batch(columns, numbers, keys)
                last = delivered = numbers[-1].as_py()
                if len(numbers) < batch_rows:
                    return
        finally:
            connection.close()

    def _range(self, connection: pymysql.Connection, last: int, limit: int
               ) -> list[pa.Array] | None:
        """The next `limit` rows after key `last` as string columns, or None at the end."""
        if self._select_packed is not None:
            packed = self._fetch(connection, self._select_packed, last, limit,
                                 lambda rows: [pa.array([r[0] for r in rows], pa.binary())])
            if packed is None:
                return None
            columns = unpack(packed[0], self._width)
            if columns is not None:
                return columns
        return self._fetch(connection, self._select, last, limit, lambda rows: [
            text_array(column) for column in zip(*rows, strict=True)])

    @staticmethod
    def _fetch(connection: pymysql.Connection, query: str, last: int, limit: int,
               convert: Callable[[list[tuple[object, ...]]], list[pa.Array]]
               ) -> list[pa.Array] | None:
        """A query's rows through a streaming cursor, converted `FETCH_ROWS` at a time."""
        chunks: list[list[pa.Array]] = []
        cursor = _StreamingCursor(connection)
        try:
            cursor.execute(query, (last, limit))
            while rows := cursor.fetchmany(FETCH_ROWS):
                chunks.append(convert(rows))
        except BaseException:
            cursor.abandon()
            raise
        cursor.close()
        if not chunks:
            return None
        return [pa.concat_arrays(parts) for parts in zip(*chunks, strict=True)]

    def estimate(self) -> int | None:
        """The server's row estimate for the table (InnoDB: within tens of percent)."""
        connection = self._connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT TABLE_ROWS FROM information_schema.TABLES "
                               "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                               (self.location.database, self.location.table))
                row = cursor.fetchone()
        except pymysql.MySQLError as error:
            raise self._error(error, None) from None
        finally:
            connection.close()
        return int(row[0]) if row and row[0] is not None else None


def unpack(rows: pa.Array, width: int) -> list[pa.Array] | None:
    """Packed rows (each column's text or `NULL`, `SEPARATOR` between) as `width` string
    columns; None when some row does not split into `width` values (a value holding the
    separator)."""
    parts = pc.split_pattern(rows, SEPARATOR)
    if not pc.all(pc.equal(pc.list_value_length(parts), width)).as_py():
        return None
    values = parts.flatten()
    columns = []
    for index in range(width):
        column = values.take(np.arange(index, len(values), width))
        text = pc.if_else(pc.equal(column, NULL), pa.scalar(None, pa.binary()), column)
        columns.append(decode_text(text))
    return columns
