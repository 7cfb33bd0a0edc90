"""Run a per-value Python function once per distinct value of an Arrow array."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


def as_array(values: pa.Array | pa.ChunkedArray | list[Any]) -> pa.Array:
    """One contiguous string array from whatever a caller has."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    elif not isinstance(values, pa.Array):
        values = pa.array(values, pa.string())
    if pa.types.is_large_string(values.type) or pa.types.is_dictionary(values.type):
        values = values.cast(pa.string())
    return values


def map_distinct(values: pa.Array, fn: Callable[[str], Any], out_type: pa.DataType) -> pa.Array:
    """`fn` applied to each distinct non-null value, spread back to every row.

    Raw values repeat heavily (the same phone on many rows, the same ZIP), so the
    costly parsers run on the dictionary only. Null in, null out.
    """
    encoded = pc.dictionary_encode(values)
    results = pa.array([fn(v) for v in encoded.dictionary.to_pylist()], out_type)
    return results.take(encoded.indices)
