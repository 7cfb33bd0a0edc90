"""Blocking: which pairs of records are worth scoring.

Two kinds of bucket keys, both stable int64 hashes that can be persisted as
``(person_id, band, bucket_hash)``:

- LSH bands: the MinHash signature of name + street + ZIP is cut into ``bands`` slices of
  ``rows`` values; each slice hashes (with its band number) to one key.
- Exact keys for the deterministic tiers (seed E2): email, E.164 phone, first-name key +
  last + ZIP, first-name key + last + last 7 phone digits, and first initial + last + ZIP
  (nicknames whose keys differ, ``jody``/``joseph``). They are joins (group-bys on a hash),
  not LSH, so an exact match is never lost to chance.

Records sharing a key are candidates. A bucket with more than ``bucket_cap`` members (a common
name in a big ZIP, a shared office phone) would cost ``size**2 / 2`` comparisons, so it is
*capped*: its members are paired only within sub-buckets of a finer key (name key + last
name + ZIP + street), and a sub-bucket still above the cap only within a sorted-neighbourhood
window. Every capped bucket is reported with its size and the pairs it still produced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from dedup_ray.arrays import ranks_within, runs, sorted_unique
from dedup_ray.hashing import as_key, combine, hash_strings, string_buffers
from dedup_ray.settings import DedupSettings
from dedup_ray.signatures import empty_rows, minhash_signatures
from dedup_ray.types import EXACT_BANDS, NO_KEY, Keys, Rows, Signatures

I64 = npt.NDArray[np.int64]


def lsh_keys(sig: Signatures, bands: int, rows: int, empty: npt.NDArray[np.bool_]) -> Keys:
    """One bucket key per (record, band); records without shingles get NO_KEY.

    Args:
        sig: ``(n, num_perm)`` signatures; the first ``bands * rows`` columns are used.
        bands: number of bands.
        rows: signature values per band.
        empty: rows whose text had no shingle (they would all share every bucket).

    Returns:
        ``(n, bands)`` int64 keys.
    """
    n = sig.shape[0]
    out = np.empty((n, bands), dtype=np.int64)
    for band in range(bands):
        cols = [sig[:, band * rows + r] for r in range(rows)]
        out[:, band] = as_key(combine(np.full(n, band, np.uint64), *cols), empty)
    return out


def _with_band(band: int, *hashes: I64) -> I64:
    missing = np.zeros(len(hashes[0]), dtype=np.bool_)
    for h in hashes:
        missing |= h == NO_KEY
    return as_key(combine(np.full(len(missing), band, np.uint64), *hashes), missing)


class _FieldHashes:
    """`hash_strings` of normalised columns, each computed once per batch."""

    def __init__(self, norm: pa.Table) -> None:
        self.norm = norm
        self.cache: dict[str, I64] = {}

    def __getitem__(self, column: str) -> I64:
        if column not in self.cache:
            if column == "initial":
                values = pc.utf8_slice_codeunits(self.norm.column("first").combine_chunks(), 0, 1)
            else:
                values = self.norm.column(column)
            self.cache[column] = hash_strings(values)
        return self.cache[column]


def exact_keys(norm: pa.Table, hashes: _FieldHashes | None = None) -> Keys:
    """Keys of the deterministic tiers, one column per band of `EXACT_BANDS`."""
    h = hashes or _FieldHashes(norm)
    email_band, phone_band, name_zip_band, name_phone_band, initial_band = EXACT_BANDS
    return np.column_stack(
        [
            _with_band(email_band, h["email"]),
            _with_band(phone_band, h["phone"]),
            _with_band(name_zip_band, h["first_key"], h["last"], h["zip5"]),
            _with_band(name_phone_band, h["first_key"], h["last"], h["phone7"]),
            _with_band(initial_band, h["initial"], h["last"], h["zip5"]),
        ]
    )


def sub_keys(norm: pa.Table, hashes: _FieldHashes | None = None) -> I64:
    """The finer key used inside capped buckets: name key + last name + ZIP + street."""
    h = hashes or _FieldHashes(norm)
    return as_key(combine(h["first_key"], h["last"], h["zip5"], h["street"]))


def name_order(norm: pa.Table) -> I64:
    """A sort key per record: the first 5 bytes of the last name, then 3 of the name key.

    Orders the members of an oversized sub-bucket (ties by person id) so that a sliding
    window compares look-alikes; packed big-endian into an int64, so no string sort is needed.
    """
    out = np.zeros(norm.num_rows, dtype=np.uint64)
    for column, width in (("last", 5), ("first_key", 3)):
        offsets, data = string_buffers(norm.column(column))
        lengths = np.diff(offsets)
        padded = np.concatenate([data, np.zeros(width, np.uint8)]).astype(np.uint64)
        for j in range(width):
            byte = np.where(lengths > j, padded[np.minimum(offsets[:-1] + j, data.size)], 0)
            out = (out << np.uint64(8)) | byte.astype(np.uint64)
    return out.view(np.int64)


@dataclass(frozen=True)
class RecordKeys:
    """The blocking keys of a batch of records (rows refer to the batch's table).

    Attributes:
        bands: band number of each column of `keys` (LSH bands, then `EXACT_BANDS`).
        keys: ``(n, len(bands))`` int64 bucket keys, NO_KEY where absent.
        subkey: ``(n,)`` finer key for capped buckets.
    """

    bands: npt.NDArray[np.int16]
    keys: Keys
    subkey: I64


def record_keys(norm: pa.Table, settings: DedupSettings) -> RecordKeys:
    """Signatures, LSH band keys, exact keys and sub-keys of a normalised batch."""
    sig = minhash_signatures(
        norm.column("text"),
        num_perm=settings.bands * settings.rows,
        seed=settings.seed,
        scheme=settings.scheme,
        shingle_size=settings.shingle_size,
    )
    lsh = lsh_keys(sig, settings.bands, settings.rows, empty_rows(sig, settings.scheme))
    bands = np.array([*range(settings.bands), *EXACT_BANDS], dtype=np.int16)
    hashes = _FieldHashes(norm)
    return RecordKeys(bands, np.hstack([lsh, exact_keys(norm, hashes)]), sub_keys(norm, hashes))


def long_form(rk: RecordKeys, rows: Rows) -> pa.Table:
    """``(row, band, bucket_hash, subkey)`` per present key: the shape buckets are built from.

    Args:
        rk: keys of a batch.
        rows: the batch's row numbers in the table candidates will index.
    """
    present = rk.keys != NO_KEY
    c, r = np.nonzero(present.T)
    return pa.table(
        {
            "row": rows[r],
            "band": rk.bands[c],
            "bucket_hash": rk.keys[r, c],
            "subkey": rk.subkey[r],
        }
    )


@dataclass(frozen=True)
class BucketSizes:
    """Known global bucket sizes (for incremental runs on part of the data).

    Attributes:
        keys: sorted bucket hashes.
        sizes: members of each bucket across all data.
    """

    keys: I64
    sizes: I64

    def lookup(self, keys: I64) -> I64:
        """Size of each key, 0 where unknown."""
        if self.keys.size == 0:
            return np.zeros(len(keys), dtype=np.int64)
        pos = np.clip(np.searchsorted(self.keys, keys), 0, self.keys.size - 1)
        return np.where(self.keys[pos] == keys, self.sizes[pos], 0)


def all_pairs(starts: I64, sizes: I64) -> tuple[I64, I64]:
    """Every (i, j), i < j, of positions within each group ``[start, start + size)``.

    Vectorized: position p at index k of its group pairs with the ``size - 1 - k`` positions
    after it.
    """
    if starts.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    member = np.repeat(starts, sizes) + ranks_within(sizes)
    after = np.repeat(sizes, sizes) - 1 - ranks_within(sizes)
    left = np.repeat(member, after)
    right = left + 1 + ranks_within(after)
    return left, right


def window_pairs(groups: I64, window: int) -> tuple[I64, I64]:
    """Pairs (p, p + d), ``1 <= d <= window``, of positions with equal `groups` value."""
    lefts, rights = [], []
    for d in range(1, window + 1):
        p = np.flatnonzero(groups[d:] == groups[:-d]) if groups.size > d else np.zeros(0, int)
        lefts.append(p)
        rights.append(p + d)
    return np.concatenate(lefts).astype(np.int64), np.concatenate(rights).astype(np.int64)


def _buckets(key: I64) -> tuple[I64, I64, I64]:
    """Entries grouped by bucket, buckets of one member dropped.

    Sorting plain integers is about twice as fast as ``argsort``, so each key's high bits
    are packed with the entry's index and sorted; truncating the key to the remaining bits
    can only merge two buckets by accident (a few extra candidate pairs, which scoring then
    rejects), never split one.

    Returns:
        ``(index, starts, sizes)``: entry indices in bucket order (multi-member buckets only)
        and each bucket's start and size within `index`.
    """
    if key.size == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    bits = np.uint64(max(1, int(key.size - 1).bit_length()))
    packed = np.sort(((key.view(np.uint64) >> bits) << bits) | np.arange(key.size, dtype=np.uint64))
    _, sizes = runs(packed >> bits)
    multi = sizes > 1
    member = np.repeat(multi, sizes)
    index = (packed[member] & ((np.uint64(1) << bits) - np.uint64(1))).astype(np.int64)
    sizes = sizes[multi]
    return index, np.cumsum(sizes) - sizes, sizes


def candidate_pairs(
    entries: pa.Table,
    settings: DedupSettings,
    order: I64,
    ids: I64,
    known_sizes: BucketSizes | None = None,
) -> tuple[I64, I64, pa.Table]:
    """Candidate pairs of rows from shared buckets, with capping.

    Args:
        entries: `long_form` rows; whole buckets must be present (partition by bucket hash).
        settings: ``bucket_cap`` and ``window``.
        order: `name_order` of every row `entries` refers to (windows in capped buckets).
        ids: person id of every row (ties in `order`, so windows do not depend on row order).
        known_sizes: global sizes to decide capping with when `entries` holds only part of
            the data (incremental runs); the larger of local and known size decides.

    Returns:
        ``(left, right, capped)``: row pairs with ``left < right`` (possibly repeated across
        bands; `unique_pairs` removes repeats) and one report row per capped bucket
        (``band``, ``bucket_hash``, ``size``, ``sub_buckets``, ``windowed_members``,
        ``pairs``).
    """
    index, starts, sizes = _buckets(entries.column("bucket_hash").to_numpy())
    key = entries.column("bucket_hash").to_numpy()[index]
    row = entries.column("row").to_numpy()[index]
    band = entries.column("band").to_numpy()[index]
    sub = entries.column("subkey").to_numpy()[index]
    decide = sizes if known_sizes is None else np.maximum(sizes, known_sizes.lookup(key[starts]))
    capped = decide > settings.bucket_cap
    small = ~capped
    li, ri = all_pairs(starts[small], sizes[small])
    lefts, rights = [row[li]], [row[ri]]
    report = empty_report()
    if capped.any():
        in_capped = np.repeat(capped, sizes)
        c_key, c_row, c_sub = key[in_capped], row[in_capped], sub[in_capped]
        c_bucket = np.repeat(np.arange(capped.sum()), sizes[capped])
        sub_bucket = as_key(combine(c_key.view(np.uint64), c_sub.view(np.uint64)))
        o = np.lexsort((ids[c_row], order[c_row], sub_bucket))
        sub_bucket, c_row, c_bucket = sub_bucket[o], c_row[o], c_bucket[o]
        s_starts, s_sizes = runs(sub_bucket)
        s_small = s_sizes <= settings.bucket_cap
        sl, sr = all_pairs(s_starts[s_small & (s_sizes > 1)], s_sizes[s_small & (s_sizes > 1)])
        windowed = ~np.repeat(s_small, s_sizes)
        w_pos = np.flatnonzero(windowed)
        wl, wr = window_pairs(sub_bucket[w_pos], settings.window)
        pl = np.concatenate([sl, w_pos[wl]])
        pr = np.concatenate([sr, w_pos[wr]])
        lefts.append(c_row[pl])
        rights.append(c_row[pr])
        n_capped = int(capped.sum())
        report = pa.table(
            {
                "band": band[starts[capped]].astype(np.int16),
                "bucket_hash": key[starts[capped]],
                "size": decide[capped],
                "sub_buckets": np.bincount(c_bucket[s_starts], minlength=n_capped),
                "windowed_members": np.bincount(c_bucket[windowed], minlength=n_capped),
                "pairs": np.bincount(c_bucket[pl], minlength=n_capped),
            }
        )
    left, right = np.concatenate(lefts), np.concatenate(rights)
    swap = left > right
    left[swap], right[swap] = right[swap], left[swap]
    keep = left != right
    return left[keep], right[keep], report


def unique_pairs(left: I64, right: I64, n_rows: int) -> tuple[I64, I64]:
    """Distinct pairs, sorted by (left, right)."""
    codes = sorted_unique(left.astype(np.int64) * n_rows + right)
    return codes // n_rows, codes % n_rows


def empty_report() -> pa.Table:
    """A capped-bucket report with no rows (for concatenation)."""
    return pa.table(
        {
            "band": pa.array([], pa.int16()),
            "bucket_hash": pa.array([], pa.int64()),
            "size": pa.array([], pa.int64()),
            "sub_buckets": pa.array([], pa.int64()),
            "windowed_members": pa.array([], pa.int64()),
            "pairs": pa.array([], pa.int64()),
        }
    )
