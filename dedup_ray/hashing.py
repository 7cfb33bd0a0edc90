"""Stable 64-bit hashes of Arrow string columns and of integer tuples, vectorized.

Bucket keys are persisted (``bucket_hash bigint``) and compared across runs and machines, so
they cannot use Python's salted ``hash``; pyarrow has no public hash kernel. A polynomial
hash over the Arrow byte buffer, finished with the MurmurHash3 64-bit finalizer, is computed
for a whole column with a handful of numpy passes. A collision only adds a candidate pair
(scoring decides), so 64 bits are ample.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from dedup_ray.types import NO_KEY

U64 = npt.NDArray[np.uint64]

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_POLY = np.uint64(0x100000001B3)  # FNV-1a 64-bit prime: odd, well spread bits
_S33 = np.uint64(33)


def fmix64(h: U64) -> U64:
    """MurmurHash3's 64-bit finalizer: an avalanching bijection on uint64."""
    h = h ^ (h >> _S33)
    h = h * _M1
    h = h ^ (h >> _S33)
    h = h * _M2
    return h ^ (h >> _S33)


def combine(*parts: npt.NDArray[np.integer]) -> U64:
    """Hash tuples of equal-length integer arrays (order matters) to uint64."""
    h = np.full(len(parts[0]), _GOLDEN, dtype=np.uint64)
    for part in parts:
        h = fmix64((h ^ part.astype(np.uint64, copy=False)) * _M1 + _GOLDEN)
    return h


def as_key(h: U64, missing: npt.NDArray[np.bool_] | None = None) -> npt.NDArray[np.int64]:
    """View uint64 hashes as int64 bucket keys; `missing` rows (and a zero hash) get NO_KEY."""
    out = h.view(np.int64).copy()
    out[out == NO_KEY] = 1
    if missing is not None:
        out[missing] = NO_KEY
    return out


def string_buffers(arr: pa.Array | pa.ChunkedArray) -> tuple[npt.NDArray[np.int64], np.ndarray]:
    """The (offsets, bytes) of a string column, nulls as empty strings, without copying text.

    Returns:
        ``offsets`` (n + 1, int64, starting at 0) and ``data`` (uint8) such that record ``i`` is
        ``data[offsets[i]:offsets[i + 1]]``.
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    if pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type):
        off_type = np.int64
    elif pa.types.is_string(arr.type) or pa.types.is_binary(arr.type):
        off_type = np.int32
    else:
        raise TypeError(f"expected a string column, got {arr.type}")
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=off_type)[arr.offset : arr.offset + n + 1]
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    start = int(offsets[0]) if n else 0
    data = data[start : int(offsets[-1])] if n else data[:0]
    return offsets - start, data


def hash_strings(arr: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.int64]:
    """A stable int64 hash per string; null and empty strings get NO_KEY.

    Args:
        arr: a string column.

    Returns:
        One int64 per record.
    """
    offsets, data = string_buffers(arr)
    lengths = np.diff(offsets)
    n = len(lengths)
    h = np.zeros(n, dtype=np.uint64)
    nonempty = lengths > 0
    if data.size:
        pos = np.arange(data.size, dtype=np.int64) - np.repeat(offsets[:-1], lengths)
        powers = np.cumprod(np.full(int(lengths.max()), _POLY, dtype=np.uint64))
        terms = (data.astype(np.uint64) + np.uint64(1)) * powers[pos]
        h[nonempty] = np.add.reduceat(terms, offsets[:-1][nonempty])
    h = fmix64(h ^ (lengths.astype(np.uint64) * _GOLDEN))
    return as_key(h, ~nonempty)
