"""MinHash signatures for a whole Arrow column, equal to datasketch's value for value.

A record's shingles are the ``k``-byte windows of its UTF-8 text (a text shorter than ``k``
is one shingle; an empty text has none). ``datasketch.MinHash(num_perm, seed=seed,
scheme=scheme)`` updated with the same shingle bytes has exactly the same ``hashvalues``
(the tests prove it). Instead of one MinHash object per record (about 100 us each):

1. every shingle window of the batch becomes an integer code straight from the Arrow byte
   buffer (no Python strings);
2. the distinct codes are found once (a dense table for ``k <= 3``, else a sort);
3. each distinct shingle is hashed once with datasketch's SHA-1 hash and permuted for all
   ``num_perm`` functions at once;
4. each record's signature is the column-wise minimum over its shingles' rows of that
   table (``np.minimum.reduceat``), a few thousand records at a time to bound memory.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from dedup_ray.arrays import unique_inverse
from dedup_ray.hashing import string_buffers
from dedup_ray.settings import Scheme
from dedup_ray.types import Signatures

_MERSENNE = np.uint64((1 << 61) - 1)
_MAX32 = np.uint64((1 << 32) - 1)
_FMIX = {
    32: (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16),
    64: (33, 0xFF51AFD7ED558CCD, 33, 0xC4CEB9FE1A85EC53, 33),
}
_DENSE_MAX_K = 3
_BLOCK_RECORDS = 512
_PAD_MIN = 64


def shingles(text: str, k: int) -> set[bytes]:
    """The shingle set of one text, by the definition the batch code implements.

    Used as the reference in tests and to feed datasketch; never on large inputs.
    """
    raw = text.encode("utf-8")
    if not raw:
        return set()
    if len(raw) < k:
        return {raw}
    return {raw[i : i + k] for i in range(len(raw) - k + 1)}


def dtype_of(scheme: Scheme) -> type[np.unsignedinteger]:
    """The hash-value dtype datasketch stores for a scheme."""
    return np.uint32 if scheme == "affine32" else np.uint64


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int, scheme: Scheme) -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` permutation parameters datasketch generates for this seed and scheme.

    Mirrors ``MinHash._init_permutations`` in datasketch 2.0 (numpy ``RandomState(seed)``).
    """
    gen = np.random.RandomState(seed)
    if scheme == "legacy":
        ab = np.array(
            [
                (
                    gen.randint(1, _MERSENNE, dtype=np.uint64),
                    gen.randint(0, _MERSENNE, dtype=np.uint64),
                )
                for _ in range(num_perm)
            ],
            dtype=np.uint64,
        ).T
        return ab[0].copy(), ab[1].copy()
    width = 32 if scheme == "affine32" else 64
    dt = dtype_of(scheme)
    a = gen.randint(0, 1 << (width - 1), num_perm, dtype=dt) * dt(2) + dt(1)
    b = gen.randint(0, 1 << width, num_perm, dtype=dt)
    return a, b


def _fmix(h: np.ndarray, width: int) -> np.ndarray:
    s1, m1, s2, m2, s3 = (h.dtype.type(c) for c in _FMIX[width])
    h = h ^ (h >> s1)
    h = h * m1
    h = h ^ (h >> s2)
    h = h * m2
    return h ^ (h >> s3)


def hash_shingles(values: list[bytes], scheme: Scheme) -> np.ndarray:
    """datasketch's default hash of each shingle: the first 4 (or 8) bytes of SHA-1, LE."""
    size = 8 if scheme == "affine64" else 4
    sha1 = hashlib.sha1
    joined = b"".join([sha1(v).digest()[:size] for v in values])
    return np.frombuffer(joined, dtype="<u8" if size == 8 else "<u4").astype(
        np.uint64 if size == 8 else np.uint32
    )


def permute(hashes: np.ndarray, num_perm: int, seed: int, scheme: Scheme) -> np.ndarray:
    """Permuted hash values, one row per input hash and one column per permutation."""
    a, b = permutations(num_perm, seed, scheme)
    if scheme == "legacy":
        hv = hashes.astype(np.uint64)[:, None]
        return ((hv * a + b) % _MERSENNE) & _MAX32
    width = 32 if scheme == "affine32" else 64
    hv = _fmix(hashes.astype(dtype_of(scheme)), width)[:, None]
    return hv * a + b


def _codes(offsets: np.ndarray, data: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer code of every shingle, in record order, and the number of shingles per record.

    A code packs the window's bytes big-endian; a short text's single shingle packs only its
    own bytes. UTF-8 text has no NUL bytes, so the code is unique per byte string.
    """
    lengths = np.diff(offsets)
    starts, ends = offsets[:-1], offsets[1:]
    m = data.size
    dt = np.uint32 if k <= 4 else np.uint64
    padded = np.concatenate([data, np.zeros(k, np.uint8)]).astype(dt)
    codes = padded[:m].copy()
    for j in range(1, k):
        codes <<= dt(8)
        codes |= padded[j : j + m]
    take = np.ones(m, dtype=np.bool_)
    for back in range(1, k):
        tail = ends - back
        take[tail[tail >= starts]] = False
    short = (lengths > 0) & (lengths < k)
    if short.any():
        first = starts[short]
        codes[first] >>= dt(8) * (k - lengths[short]).astype(dt)
        take[first] = True
    counts = np.where(short, 1, np.maximum(lengths - k + 1, 0))
    return codes[take], counts


def _unique(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct codes and each code's index among them."""
    if k <= _DENSE_MAX_K:
        seen = np.zeros(1 << (8 * k), dtype=np.bool_)
        seen[codes] = True
        uniq = np.flatnonzero(seen).astype(np.uint64)
        index = np.zeros(seen.size, dtype=np.int32)
        index[uniq] = np.arange(uniq.size, dtype=np.int32)
        return uniq, index[codes]
    uniq, inverse = unique_inverse(codes)
    return uniq, inverse.astype(np.int32)


def _code_bytes(uniq: np.ndarray, k: int) -> list[bytes]:
    return [int(c).to_bytes(k, "big").lstrip(b"\0") for c in uniq.tolist()]


def minhash_signatures(
    texts: pa.Array | pa.ChunkedArray,
    num_perm: int = 128,
    seed: int = 1,
    scheme: Scheme = "affine32",
    shingle_size: int = 3,
) -> Signatures:
    """MinHash signatures of every text in a column.

    Args:
        texts: a string column; null is treated as an empty text.
        num_perm: permutations, as ``datasketch.MinHash(num_perm=...)``.
        seed: as ``datasketch.MinHash(seed=...)``.
        scheme: as ``datasketch.MinHash(scheme=...)``.
        shingle_size: bytes per shingle.

    Returns:
        An ``(n, num_perm)`` array equal to the ``hashvalues`` of a datasketch MinHash updated
        with `shingles` of each text; a text without shingles keeps datasketch's initial
        all-maximum values.
    """
    offsets, data = string_buffers(texts)
    n = len(offsets) - 1
    dt = dtype_of(scheme)
    out = np.full((n, num_perm), empty_value(scheme), dtype=dt)
    if n == 0 or data.size == 0:
        return out
    codes, counts = _codes(offsets, data, shingle_size)
    uniq, index = _unique(codes, shingle_size)
    table = permute(hash_shingles(_code_bytes(uniq, shingle_size), scheme), num_perm, seed, scheme)
    # A sentinel row of initial values pads short records in the dense gather below.
    table = np.vstack([table.astype(dt, copy=False), out[:1]])
    _min_over_shingles(table, index, counts, out)
    return out


def _min_over_shingles(
    table: np.ndarray, index: np.ndarray, counts: np.ndarray, out: np.ndarray
) -> None:
    """out[i] = column-wise min of table rows of record i's shingles.

    Records are padded to the longest in their block (pointing at the sentinel last row of
    `table`) so the min is one dense reduction; the rare very long records, which would blow
    up the padding, take ``np.minimum.reduceat`` instead.
    """
    n = len(counts)
    sentinel = len(table) - 1
    starts = np.concatenate([[0], np.cumsum(counts)])
    limit = max(_PAD_MIN, 2 * int(np.percentile(counts, 99)) if n else 0)
    long_rows = np.flatnonzero(counts > limit)
    dense_counts = np.where(counts > limit, 0, counts)
    padded_index = np.append(index, np.int32(sentinel))
    for lo in range(0, n, _BLOCK_RECORDS):
        hi = min(n, lo + _BLOCK_RECORDS)
        width = int(dense_counts[lo:hi].max())
        if width == 0:
            continue
        cols = np.arange(width)
        pos = starts[lo:hi, None] + cols[None, :]
        pos = np.where(cols[None, :] < dense_counts[lo:hi, None], pos, len(index))
        out[lo:hi] = table[padded_index[pos]].min(axis=1)
    for row in np.array_split(long_rows, max(1, long_rows.size // 256)):
        if row.size:
            spans = [index[starts[r] : starts[r + 1]] for r in row.tolist()]
            gathered = table[np.concatenate(spans)]
            seg = np.concatenate([[0], np.cumsum([len(x) for x in spans])[:-1]])
            out[row] = np.minimum.reduceat(gathered, seg, axis=0)


def empty_value(scheme: Scheme) -> int:
    """datasketch's initial hash value (a MinHash that saw no shingle keeps it everywhere)."""
    return (1 << 64) - 1 if scheme == "affine64" else (1 << 32) - 1


def empty_rows(sig: Signatures, scheme: Scheme) -> npt.NDArray[np.bool_]:
    """Rows whose text had no shingle."""
    return np.all(sig == sig.dtype.type(empty_value(scheme)), axis=1)
