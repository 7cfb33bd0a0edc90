"""Source values to Arrow text: UTF-8 where it is, cp1252 for the stray value that is not.

Legacy files are UTF-8 but sometimes carry a value typed on an old system in
latin-1 (cp1252). As for partner files (`tasks.parsers.text`), such a value is
decoded as cp1252 instead of failing the file. Validation runs in Arrow over a
whole column; only a column that fails goes value by value through Python.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa


def decode_bytes(value: bytes) -> str:
    """UTF-8 text of `value`, or its cp1252 reading when it is not UTF-8."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("cp1252", errors="replace")


def decode_text(values: pa.Array) -> pa.Array:
    """A binary column as strings; values that are not UTF-8 are read as cp1252."""
    try:
        return values.cast(pa.string())
    except pa.ArrowInvalid:
        return pa.array(
            [None if v is None else decode_bytes(v) for v in values.to_pylist()], pa.string()
        )


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return decode_bytes(value)
    if isinstance(value, str):
        # A str carrying surrogate escapes holds bytes that were not UTF-8.
        return decode_bytes(value.encode("utf-8", "surrogateescape"))
    return str(value)


def text_array(values: Sequence[object]) -> pa.Array:
    """Python values (str, bytes, numbers, None) as one string column.

    The common case, all str or None, is one Arrow call; anything else (numbers
    in a SQLite text column, bytes from a binary column, undecodable text) is
    converted value by value.
    """
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowException, UnicodeError, TypeError):
        return pa.array([_text(v) for v in values], pa.string())
