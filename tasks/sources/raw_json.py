"""The `raw` column: each source row as a JSON object of column name -> text, built by Arrow.

`json.dumps` per row costs several microseconds for a ten-column row, more than
reading the row; one element-wise join of the columns between constant
`{"name":"` pieces costs about a fifth of that (benchmarks/sources_bench.py
measures both). A column is escaped only when its bytes hold a quote, a
backslash or a control character, which a lookup over the column's data buffer
finds at about a nanosecond a byte; nearly every column has none.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_SHORT_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))
_NEEDS_ESCAPE = np.zeros(256, dtype=bool)
_NEEDS_ESCAPE[:0x20] = True
_NEEDS_ESCAPE[[ord('"'), ord("\\")]] = True
_NEEDS_U_ESCAPE = np.zeros(256, dtype=bool)
_NEEDS_U_ESCAPE[:0x20] = True
_NEEDS_U_ESCAPE[[ord("\n"), ord("\r"), ord("\t")]] = False


def text_bytes(values: pa.Array) -> np.ndarray:
    """The UTF-8 bytes of a string array's values, as one uint8 array (no copy)."""
    offsets, data = values.buffers()[1:3]
    if data is None or len(values) == 0:
        return np.zeros(0, dtype=np.uint8)
    ends = np.frombuffer(offsets, dtype=np.int32, count=len(values) + 1, offset=values.offset * 4)
    return np.frombuffer(data, dtype=np.uint8)[ends[0]:ends[-1]]


def json_escaped(values: pa.Array) -> pa.Array:
    """String values with JSON's escapes applied (no surrounding quotes); nulls stay null."""
    data = text_bytes(values)
    if not _NEEDS_ESCAPE[data].any():
        return values
    if _NEEDS_U_ESCAPE[data].any():
        return pa.array([None if v is None else json.dumps(v, ensure_ascii=False)[1:-1]
                         for v in values.to_pylist()], pa.string())
    for old, new in _SHORT_ESCAPES:
        values = pc.replace_substring(values, old, new)
    return values


def json_objects(names: Sequence[str], columns: Sequence[pa.Array]) -> pa.Array:
    """One JSON object per row, keys in column order.

    Args:
        names: the column names (unique; see `shape.unique_names`).
        columns: string columns of equal length, one per name.

    Returns:
        A string column, e.g. `{"Name":"Ann Lee","Zip":null}`.
    """
    if not names:
        return pa.array(["{}"] * (len(columns[0]) if columns else 0), pa.string())
    parts: list[object] = []
    before = "{"
    for name, column in zip(names, columns, strict=True):
        key = json.dumps(name, ensure_ascii=False) + ":"
        text = json_escaped(column)
        if text.null_count:
            # Quoted here so that a null becomes a bare `null` in the join below.
            parts += [before + key, pc.binary_join_element_wise('"', text, '"', "")]
            before = ","
        else:
            parts += [before + key + '"', text]
            before = '",'
    parts.append(before.removesuffix(",") + "}")
    return pc.binary_join_element_wise(*parts, "", null_handling="replace",
                                       null_replacement="null")
