"""MySQL-dump `.sql` uploads, parsed as a stream: no server, never the whole file in memory.

The file is read in chunks of `CHUNK_BYTES`. Between statements a line-anchored
search finds the next `CREATE TABLE` (its column names), `INSERT`/`REPLACE`, or
`DELIMITER` block (triggers and routines, skipped); everything else (comments,
`SET`, `LOCK TABLES`) is passed over. An INSERT's VALUES list is read by
`sql_values`: a whole statement at a time when it fits, else cut at a row
boundary, so a single INSERT of any length streams. Where a statement ends is
decided by quote parity (a `;` with every string closed before it), so `;` and
`),(` inside strings are values, not syntax. Rows of one table are read (by name,
or else the first table with INSERTs); other tables' INSERTs are skipped unparsed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from tasks.sources.columns import Synonyms
from tasks.sources.errors import SourceError
from tasks.sources.schema import BATCH_ROWS, SourceKind
from tasks.sources.shape import BatchShape
from tasks.sources.sql_values import (
    csv_ready,
    parse_exact,
    parse_fast,
    quotes_balanced,
    to_csv_dialect,
)
from tasks.sources.text import decode_bytes

CHUNK_BYTES = 8 << 20
"""Bytes read at a time; a mysqldump INSERT (about 1 MB) fits many times over."""
ROW_SLACK_BYTES = 16 << 20
"""A value that does not parse this far before the end of the bytes at hand is an error,
not a row cut off by the chunk boundary (MySQL's default max_allowed_packet is 16 MB)."""
_END_TRIES = 4

_IDENT = rb"(?:`(?:[^`]|``)+`|[\w$]+)"
_STATEMENT = re.compile(
    rb"^[ \t]*(?:(?P<create>CREATE\s+TABLE\b)|(?P<insert>(?:INSERT|REPLACE)\b)"
    rb"|(?P<delimiter>DELIMITER[ \t]))", re.M | re.I)
_CREATE = re.compile(
    rb"[ \t]*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<table>" + _IDENT
    + rb"(?:\." + _IDENT + rb")?)\s*\(", re.I)
_INSERT = re.compile(
    rb"[ \t]*(?:INSERT|REPLACE)\s+(?:(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE)\s+)*"
    rb"(?:INTO\s+)?(?P<table>" + _IDENT + rb"(?:\." + _IDENT + rb")?)\s*"
    rb"(?:\((?P<columns>[^)]*)\)\s*)?VALUES?\s*", re.I)
_DELIMITER_END = re.compile(rb"^[ \t]*DELIMITER[ \t]+;[ \t]*\r?$", re.M | re.I)
_DEFINITION_TOKEN = re.compile(
    rb"'(?:[^'\\]|\\.|'')*+'|\"(?:[^\"\\]|\\.|\"\")*+\"|`(?:[^`]|``)++`|[(),]"
    rb"|[^'\"`(),]++", re.S)
_NAME = re.compile(rb"\s*(`(?:[^`]|``)+`|[\w$]+)")
_NOT_COLUMNS = frozenset({"primary", "key", "unique", "index", "constraint", "foreign",
                          "fulltext", "spatial", "check", "period"})
_HEADER_BYTES = 64 << 10


def _identifier(raw: bytes) -> str:
    """The last part of a possibly qualified, possibly back-quoted name."""
    parts = re.findall(rb"`((?:[^`]|``)+)`|([\w$]+)", raw)
    quoted, plain = parts[-1]
    return decode_bytes(quoted.replace(b"``", b"`") if quoted else plain)


def _column_names(body: bytes) -> list[str]:
    """Column names from a CREATE TABLE body: the first name of each top-level definition
    that is not a key, index or constraint."""
    names: list[str] = []
    depth, definition = 0, b""
    for token in [*_DEFINITION_TOKEN.findall(body), b","]:
        if token == b"(":
            depth += 1
        elif token == b")":
            depth -= 1
        if depth < 0 or (token == b"," and depth == 0):
            found = _NAME.match(definition)
            if found and _identifier(found[1]).casefold() not in _NOT_COLUMNS:
                names.append(_identifier(found[1]))
            if depth < 0:
                break
            definition = b""
        elif depth == 0 and not definition.strip():
            definition = token
    return names


def _odd_quotes(segment: bytes) -> int:
    """1 when `segment` opens (or closes) a single-quoted string without the other end."""
    if b"\\" in segment:
        segment = segment.replace(b"\\\\", b"").replace(b"\\'", b"")
    return segment.count(b"'") & 1


class _Window:
    """The bytes at hand: the unread rest of the last chunk and whatever is read after it."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.data = b""
        self.pos = 0
        self.base = 0
        self.eof = False

    def more(self) -> bool:
        """Read the next chunk, dropping what lies before `pos`; False at the end of file."""
        if self.eof:
            return False
        chunk = self.handle.read(CHUNK_BYTES)
        if not chunk:
            self.eof = True
            return False
        self.data = self.data[self.pos:] + chunk
        self.base += self.pos
        self.pos = 0
        return True


class DumpReader:
    """The rows of one table of a dump, as lists of string columns.

    Attributes:
        table: the table read; None until the first INSERT when not given.
        tables: column names of every CREATE TABLE seen so far.
    """

    def __init__(self, path: Path, table: str | None = None) -> None:
        self.path = path
        self.table = table
        self.tables: dict[str, list[str]] = {}

    def _error(self, window: _Window, offset: int, message: str) -> SourceError:
        return SourceError(f"{self.path}: byte {window.base + offset:,}: {message}")

    def rows(self) -> Iterator[tuple[list[str], list[pa.Array]]]:
        """Yield (column names, string columns) for each run of rows of the table, in order.

        Raises:
            SourceError: the dump does not parse (naming the file and the byte offset).
        """
        with self.path.open("rb") as handle:
            window = _Window(handle)
            while (kind := self._next_statement(window)) is not None:
                if kind == "create":
                    self._create_table(window)
                elif kind == "delimiter":
                    self._skip_delimited(window)
                else:
                    yield from self._insert(window)

    def _next_statement(self, window: _Window) -> str | None:
        while True:
            found = _STATEMENT.search(window.data, window.pos)
            if found:
                window.pos = found.start()
                return found.lastgroup
            line_start = window.data.rfind(b"\n", window.pos)
            if line_start != -1:
                window.pos = line_start + 1
            if not window.more():
                return None

    def _header(self, window: _Window, pattern: re.Pattern[bytes]) -> re.Match[bytes] | None:
        while True:
            found = pattern.match(window.data, window.pos)
            # A match that reaches the end of the bytes at hand may grow with the next chunk.
            whole = found is not None and found.end() < len(window.data)
            if whole or window.eof or len(window.data) - window.pos > _HEADER_BYTES:
                return found
            window.more()

    def _statement_end(self, window: _Window, start: int, keep: bool) -> int:
        """The index of the `;` that ends the statement running from `start`.

        With `keep` false the bytes before it are dropped as they are passed, so a
        statement of any length can be skipped.
        """
        odd, begin = 0, start
        while True:
            data = window.data
            semicolon = data.find(b";", begin)
            while semicolon != -1:
                odd ^= _odd_quotes(data[begin:semicolon])
                if not odd:
                    return semicolon
                begin = semicolon + 1
                semicolon = data.find(b";", begin)
            # A backslash at the very end may escape the first byte of the next chunk.
            stop = len(data) - ((len(data) - len(data.rstrip(b"\\"))) & 1)
            odd ^= _odd_quotes(data[begin:stop])
            begin = stop
            if not keep:
                window.pos = begin
            dropped = window.pos
            if not window.more():
                raise self._error(window, len(window.data), "the file ends inside a statement")
            begin -= dropped

    def _create_table(self, window: _Window) -> None:
        found = self._header(window, _CREATE)
        if found is None:
            window.pos = self._statement_end(window, window.pos, keep=False) + 1
            return
        end = self._statement_end(window, window.pos, keep=True)
        found = _CREATE.match(window.data, window.pos)
        assert found is not None
        names = _column_names(window.data[found.end():end])
        self.tables[_identifier(found["table"]).casefold()] = names
        window.pos = end + 1

    def _skip_delimited(self, window: _Window) -> None:
        """Pass over a `DELIMITER ;;` block (triggers, routines) to its `DELIMITER ;`."""
        while (line_end := window.data.find(b"\n", window.pos)) == -1 and window.more():
            pass
        if re.match(rb"[ \t]*DELIMITER[ \t]+;[ \t]*\r?$",
                    window.data[window.pos:line_end if line_end != -1 else None], re.I):
            window.pos = line_end + 1 if line_end != -1 else len(window.data)
            return
        window.pos = line_end + 1 if line_end != -1 else len(window.data)
        while True:
            found = _DELIMITER_END.search(window.data, window.pos)
            if found:
                window.pos = found.end()
                return
            line_start = window.data.rfind(b"\n", window.pos)
            if line_start != -1:
                window.pos = line_start + 1
            if not window.more():
                return

    def _insert(self, window: _Window) -> Iterator[tuple[list[str], list[pa.Array]]]:
        found = self._header(window, _INSERT)
        if found is None:  # INSERT ... SELECT or ... SET: no rows of ours
            window.pos = self._statement_end(window, window.pos, keep=False) + 1
            return
        table = _identifier(found["table"])
        if self.table is None:
            self.table = table
        if table.casefold() != self.table.casefold():
            window.pos = self._statement_end(window, found.end(), keep=False) + 1
            return
        if found["columns"] is not None:
            names = [_identifier(part.strip()) for part in found["columns"].split(b",")]
        elif table.casefold() in self.tables:
            names = self.tables[table.casefold()]
        else:
            raise self._error(window, window.pos, f"INSERT INTO `{table}` names no columns "
                              "and the dump has no CREATE TABLE for it")
        window.pos = found.end()
        for columns in self._values(window, len(names)):
            yield names, columns

    def _values(self, window: _Window, count: int) -> Iterator[list[pa.Array]]:
        continued = False
        while True:
            region = self._fast_region(window, continued)
            if region is not None:
                csv_rows, end, ended = region
                columns = parse_fast(csv_rows, count)
                if columns is not None:
                    window.pos, continued = end, True
                    yield columns
                    if ended:
                        return
                    continue
            elif not window.eof and len(window.data) - window.pos < 2 * CHUNK_BYTES:
                window.more()
                continue
            result = parse_exact(window.data, window.pos, count, final=window.eof,
                                 continued=continued)
            window.pos = result.end
            if result.columns is not None:
                continued = True
                yield result.columns
            if result.ended:
                return
            problem = result.problem
            if problem is not None and (
                    window.eof or len(window.data) - problem.offset > ROW_SLACK_BYTES):
                raise self._error(window, problem.offset, f"in INSERT values: {problem}")
            if not window.more() and problem is None and result.columns is None:
                raise self._error(window, window.pos, "the file ends inside an INSERT")

    def _fast_region(self, window: _Window, continued: bool
                     ) -> tuple[bytes, int, bool] | None:
        """The next run of whole rows in mysqldump's layout, ready for `parse_fast`.

        Returns the run in CSV dialect, where the next run starts, and whether the
        statement ends there; None when the bytes at hand hold no such run.
        """
        data, start = window.data, window.pos
        if continued and data[start:start + 1] == b",":
            start += 1  # the exact reader stopped between two rows
        if data[start:start + 1] != b"(":
            return None
        end = data.find(b";", start)
        for _ in range(_END_TRIES):
            if end == -1:
                break
            if data[end - 1:end] == b")":
                found = self._whole_rows(data[start + 1:end - 1])
                if found is not None:
                    return found, end + 1, True
            end = data.find(b";", end + 1)
        if end != -1 or len(data) - start < CHUNK_BYTES:
            return None
        cut = data.rfind(b"),(", start)
        for _ in range(_END_TRIES):
            if cut <= start:
                break
            found = self._whole_rows(data[start + 1:cut])
            if found is not None:
                return found, cut + 2, False
            cut = data.rfind(b"),(", start, cut)
        return None

    @staticmethod
    def _whole_rows(values: bytes) -> bytes | None:
        """`values` in CSV dialect if it is whole rows that `parse_fast` may read."""
        if not csv_ready(values):
            return None
        csv_rows = to_csv_dialect(values)
        return csv_rows if quotes_balanced(csv_rows) else None


class SqlDumpSource:
    """A mysqldump `.sql` upload: one table's rows.

    `source_key` and `row_number` are the data-row number from 1 over the table's
    INSERTs in file order.
    """

    kind: SourceKind = "upload_sql"

    def __init__(self, path: str | Path, synonyms: Synonyms, *, table: str | None = None
                 ) -> None:
        """Read as far as the table's first INSERT to learn and match its columns.

        Args:
            path: the dump file.
            synonyms: the tenant's header synonyms.
            table: the table to read; the first table with INSERTs when None.

        Raises:
            SourceError: no INSERT (of that table), a dump that does not parse, or no
                column that could identify a person.
        """
        self.path = Path(path)
        self.name = str(self.path)
        reader = DumpReader(self.path, table)
        with closing(reader.rows()) as runs:
            first = next(runs, None)
        if first is None:
            wanted = f"INSERT INTO `{table}`" if table else "INSERT statement"
            raise SourceError(f"{self.path}: no {wanted} in the file")
        self.table = reader.table
        self.columns = first[0]
        self.shape = BatchShape(f"{self.name} (table {self.table})", self.columns, synonyms)

    def batches(self, start_after: int | None = None,
                batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """Stream the rows in file order; see `base.Source.batches`."""
        return self.shape.numbered(self._runs(), start_after or 0, batch_rows)

    def _runs(self) -> Iterator[list[pa.Array]]:
        for names, columns in DumpReader(self.path, self.table).rows():
            if names != self.columns:
                raise SourceError(f"{self.path}: INSERTs into `{self.table}` name different "
                                  f"columns ({', '.join(names)} after "
                                  f"{', '.join(self.columns)})")
            yield columns

    def estimate(self) -> int | None:
        """Rows extrapolated from the file size and the first INSERT's bytes per row."""
        size = self.path.stat().st_size
        with self.path.open("rb") as handle:
            sample = handle.read(CHUNK_BYTES)
        start = sample.find(b"VALUES (")
        rows = sample.count(b"),(", start) + sample.count(b");\n", start)
        if start == -1 or rows == 0:
            return None
        return round((size - start) * rows / (len(sample) - start))
