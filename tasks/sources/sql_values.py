"""The rows of an INSERT's VALUES list, as Arrow string columns.

Two readers with one result. The fast one handles what mysqldump writes (one
statement per line, single-quoted strings with backslash escapes, NULL, numbers):
it rewrites the bytes into a CSV dialect in three `bytes.replace` calls (`\\\\` to a
placeholder byte, `\\'` to `''`, each `),(` to a newline) and lets Arrow's C++ CSV
parser split the fields of many statements at once. It declines (returns None)
whenever it cannot be sure: a raw newline or placeholder byte in the input, a
field count Arrow rejects, an empty unquoted field, or a value that looks like a
charset introducer, hex/bit literal or double-quoted string. The exact reader is a
regex tokenizer over the same bytes that understands all of those, the `''`
doubling, and stops cleanly at the end of the data it has, so it also serves
statements too long to hold whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from tasks.sources.text import decode_bytes, decode_text, text_array

PLACEHOLDER = b"\x01"
"""Stands for an escaped backslash while Arrow parses; never in a mysqldump line."""

_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a",
            "%": "\\%", "_": "\\_"}
"""MySQL string escapes; any other escaped character stands for itself (\\' \\" \\\\).
`\\%` and `\\_` keep their backslash, as MySQL does outside LIKE patterns."""

_SINGLE_ESCAPE = re.compile(r"\\(.)|''", re.S)
_DOUBLE_ESCAPE = re.compile(r'\\(.)|""', re.S)
_BACKSLASH_ESCAPE = re.compile(r"\\(.)", re.S)
_NULLS = ["NULL", "null", "Null"]


def _replace_escape(match: re.Match[str]) -> str:
    char = match[1]
    if char is None:
        return match[0][0]
    return _ESCAPES.get(char, char)


def unescape_single(text: str) -> str:
    """The value of a single-quoted MySQL string's content (backslash escapes, `''`)."""
    return _SINGLE_ESCAPE.sub(_replace_escape, text) if "\\" in text or "'" in text else text


def unescape_double(text: str) -> str:
    """The value of a double-quoted MySQL string's content (backslash escapes, `""`)."""
    return _DOUBLE_ESCAPE.sub(_replace_escape, text) if "\\" in text or '"' in text else text


def to_csv_dialect(values: bytes) -> bytes:
    """mysqldump's `1,'a'),(2,'b\\'c'` as CSV rows `1,'a'` / `2,'b''c'` (quote char ')."""
    if b"\\" in values:
        values = values.replace(b"\\\\", PLACEHOLDER).replace(b"\\'", b"''")
    return values.replace(b"),(", b"\n")


def quotes_balanced(csv_rows: bytes) -> bool:
    """Whether every string in `to_csv_dialect` output is closed: each quote is paired."""
    return csv_rows.count(b"'") % 2 == 0


def csv_ready(values: bytes) -> bool:
    """Whether `to_csv_dialect(values)` can go to `parse_fast`: no raw newline (its
    newlines must all be row breaks) and no placeholder byte of its own."""
    return b"\n" not in values and PLACEHOLDER not in values


def parse_fast(csv_rows: bytes, count: int) -> list[pa.Array] | None:
    """Rows through Arrow's CSV parser, or None where it cannot be sure of them.

    Args:
        csv_rows: `to_csv_dialect` of one or more whole VALUES lists (joined by newlines),
            each `csv_ready` and with `quotes_balanced`.
        count: the number of columns every row must have.
    """
    names = [f"c{i}" for i in range(count)]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(csv_rows),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False,
                                           block_size=max(len(csv_rows) + 1, 1 << 20)),
            parse_options=pacsv.ParseOptions(quote_char="'", double_quote=True,
                                             escape_char=False, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.binary()), null_values=_NULLS,
                strings_can_be_null=True, quoted_strings_can_be_null=False),
        )
    except pa.ArrowInvalid:
        return None
    columns = [decode_text(table.column(i).combine_chunks()) for i in range(count)]
    if any(_looks_unquoted_literal(column) for column in columns):
        return None
    if any(_has_empty_text(column) for column in columns) and _has_empty_field(csv_rows):
        return None  # `''` is an empty string, but `,,` is no value at all
    if table.num_rows != csv_rows.count(b"\n") + 1:
        # Some "),(" sat inside a string: Arrow kept the newline in the value.
        columns = [pc.replace_substring(c, "\n", "),(") for c in columns]
    if b"\\" in csv_rows:
        columns = [_unescape_column(c) for c in columns]
    if PLACEHOLDER in csv_rows:
        columns = [pc.replace_substring(c, "\x01", "\\") for c in columns]
    return columns


def _looks_unquoted_literal(column: pa.Array) -> bool:
    """Whether a value starts with `_` or `"` or ends with `'`: what Arrow leaves of a
    charset introducer (`_binary '..'`), a double-quoted string or a hex/bit literal
    (`X'..'`, `b'..'`). A quoted string that merely looks so costs only the exact path."""
    if len(column) == 0 or column.null_count == len(column):
        return False
    ends = np.frombuffer(column.buffers()[1], dtype=np.int32, count=len(column) + 1,
                         offset=column.offset * 4)
    data = np.frombuffer(column.buffers()[2], dtype=np.uint8)
    filled = ends[1:] > ends[:-1]
    first = data[ends[:-1][filled]]
    last = data[ends[1:][filled] - 1]
    return bool(((first == ord("_")) | (first == ord('"')) | (last == ord("'"))).any())


def _has_empty_text(column: pa.Array) -> bool:
    ends = np.frombuffer(column.buffers()[1], dtype=np.int32, count=len(column) + 1,
                         offset=column.offset * 4)
    empty = ends[1:] == ends[:-1]
    if column.null_count:
        empty &= column.is_valid().to_numpy(zero_copy_only=False)
    return bool(empty.any())


def _has_empty_field(csv_rows: bytes) -> bool:
    """Whether a field may be empty and unquoted (possibly a false alarm inside a string)."""
    return (csv_rows[:1] in (b",", b"") or csv_rows[-1:] == b"," or b",," in csv_rows
            or b"\n," in csv_rows or b",\n" in csv_rows)


def _unescape_column(column: pa.Array) -> pa.Array:
    if not pc.any(pc.match_substring(column, "\\")).as_py():
        return column
    values = column.to_pylist()
    return pa.array([None if v is None else _BACKSLASH_ESCAPE.sub(_replace_escape, v)
                     for v in values], pa.string())


_TOKEN = re.compile(rb"""
    \s*+(?:
        (?P<punct>[(),;])
      | (?:_[A-Za-z0-9]++\s*+)?'(?P<single>(?:[^'\\]|\\.|'')*+)'
      | "(?P<double>(?:[^"\\]|\\.|"")*+)"
      | (?P<literal>[xXbB]'[0-9A-Fa-f]*+')
      | (?P<bare>[^\s(),;'"]++)
    )""", re.X | re.S)


class ValuesSyntaxError(ValueError):
    """The VALUES list does not parse; `offset` is the byte where it stopped making sense."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass
class ExactRows:
    """What `parse_exact` read.

    Attributes:
        columns: the whole rows read, as string columns; None when there were none.
        end: the position after the last whole row (after the `;` when `ended`).
        ended: the statement's `;` was reached.
        problem: why reading stopped before the bytes ran out; it may only be a token
            cut off at the end of the bytes at hand, so the caller decides.
    """

    columns: list[pa.Array] | None
    end: int
    ended: bool
    problem: ValuesSyntaxError | None


def _value(match: re.Match[bytes]) -> str | None:
    kind = match.lastgroup
    text = decode_bytes(match[kind])
    if kind == "single":
        return unescape_single(text)
    if kind == "double":
        return unescape_double(text)
    return None if kind == "bare" and text.upper() == "NULL" else text


def parse_exact(data: bytes, pos: int, count: int, final: bool,
                continued: bool = False) -> ExactRows:
    """Rows of a VALUES list from `pos`, as far as `data` holds whole rows.

    Args:
        data: the bytes at hand.
        pos: where reading starts: the list's first `(`, or (when `continued`) anywhere
            after a whole row.
        count: the number of columns every row must have.
        final: no bytes follow `data` (the file ends there).
        continued: rows of this list were read before `pos`.
    """
    rows: list[list[str | None]] = []
    done, ended, problem = pos, False, None
    row: list[str | None] = []
    state = "continue" if continued else "row"
    while True:
        match = _TOKEN.match(data, pos)
        if match is None or (match.end() == len(data) and not final):
            # Out of whole tokens: the rest is blank, cut off, or not SQL.
            rest = data[pos:].strip()
            if final and not rest:
                problem = ValuesSyntaxError(pos, "the file ends inside an INSERT statement")
            elif match is None and rest:
                problem = ValuesSyntaxError(pos, "cannot read a value here")
            break
        start, pos, punct = match.start(), match.end(), match["punct"]
        if state == "value":
            if punct is not None:
                problem = ValuesSyntaxError(start, "expected a value")
                break
            row.append(_value(match))
            state = "after_value"
        elif state == "after_value" and punct in (b",", b")"):
            if punct == b",":
                state = "value"
                continue
            if len(row) != count:
                problem = ValuesSyntaxError(
                    start, f"a row of {len(row)} values where the table has {count}")
                break
            rows.append(row)
            row, done, state = [], pos, "after_row"
        elif state in ("row", "continue") and punct == b"(":
            state = "value"
        elif state in ("after_row", "continue") and punct == b",":
            state = "row"
        elif state in ("after_row", "continue") and punct == b";":
            ended, done = True, pos
            break
        else:
            expected = {"row": "'(' to start a row", "after_value": "',' or ')' after a value",
                        "after_row": "',' or ';' after a row",
                        "continue": "the next row"}[state]
            problem = ValuesSyntaxError(start, f"expected {expected}")
            break
    columns = [text_array(c) for c in zip(*rows, strict=True)] if rows else None
    return ExactRows(columns, done, ended, problem)
