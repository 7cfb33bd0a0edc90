"""Whole source rows as JSON objects, built column-wise with Arrow.

Every staged row keeps its source row as JSON (`raw`). Building it per row
with `json.dumps` costs more than the rest of the read; escaping each column
once and joining the columns is the same text at Arrow speed. Rows holding
rare control characters fall back to `json.dumps`.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc

_RARE_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"


def _quoted(values: pa.Array) -> pa.Array:
    text = values.cast(pa.string())
    for raw, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"),
                         ("\t", "\\t")):
        text = pc.replace_substring(text, raw, escaped)
    quoted = pc.binary_join_element_wise('"', text, '"', "")
    return pc.fill_null(quoted, "null")


def json_objects(columns: dict[str, pa.Array], optional: frozenset[str] = frozenset()
                 ) -> pa.Array:
    """One JSON object per row, mapping each column name to the row's value (or null).

    Columns named in `optional` (a ragged row's fields beyond the header) appear
    only in rows that have a value there, so a row's object does not depend on
    the other rows read with it.
    """
    names = list(columns)
    if not names:
        raise ValueError("a row needs at least one column")
    if names[0] in optional:
        raise ValueError("the first column cannot be optional")
    rows = len(columns[names[0]])
    parts = []
    for i, name in enumerate(names):
        key = ("{" if i == 0 else ", ") + json.dumps(name, ensure_ascii=False) + ": "
        part = pc.binary_join_element_wise(key, _quoted(columns[name]), "")
        if name in optional:
            part = pc.if_else(pc.is_valid(columns[name]), part, pa.scalar("", pa.string()))
        parts.append(part)
    joined = pc.binary_join_element_wise(*parts, "}", "")
    rare = pa.array([False] * rows, pa.bool_())
    for values in columns.values():
        found = pc.match_substring_regex(values.cast(pa.string()), _RARE_CONTROL)
        rare = pc.or_(rare, pc.fill_null(found, False))
    if not pc.any(rare).as_py():
        return joined
    slow = [json.dumps({k: v for k, v in zip(names, row, strict=True)
                        if v is not None or k not in optional}, ensure_ascii=False)
            if flag else None
            for flag, row in zip(rare.to_pylist(),
                                 zip(*(columns[n].to_pylist() for n in names), strict=True),
                                 strict=True)]
    return pc.if_else(rare, pa.array(slow, pa.string()), joined)
