"""Incremental runs: a day's new or changed people against everything resolved before.

The previous runs' keys are persisted as ``(person_id, band, bucket_hash)`` rows
(`DedupResult.band_keys`): LSH bands, exact-key bands, each person's capped-bucket sub-key
and the matching component (pre-split) each person belongs to. A `KeyStore` answers four
indexed questions about them; `InMemoryKeyStore` answers from Arrow tables, a PostgreSQL
store answers with index lookups on ``(band, bucket_hash)`` and ``person_id``.

`run_incremental` re-resolves exactly the part of the data the new rows can affect:

1. keys of the new rows; the existing members of every bucket they fall into (only the
   new row's sub-bucket for a bucket that is capped before and after the update, the whole
   bucket when the update moves it across the cap);
2. the old components of those members and of the changed people, whole;
3. the core pipeline over new rows + that closure, deciding caps on the global bucket sizes.

Components outside the closure cannot change, and inside it every candidate pair of a full
run is present, so the result equals a full run on the final data restricted to the affected
people (the tests check it). The one exception is a sub-bucket that is itself above the cap,
where the sorted-neighbourhood window depends on which members are present.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from dedup_ray.arrays import ranks_within, sorted_unique
from dedup_ray.blocking import BucketSizes, RecordKeys, long_form, record_keys
from dedup_ray.engine import DedupResult, Progress, conform, run
from dedup_ray.hashing import as_key, combine
from dedup_ray.normalize import normalize
from dedup_ray.settings import DedupSettings
from dedup_ray.types import BAND_COMPONENT, BAND_SUBKEY, NO_KEY

I64 = npt.NDArray[np.int64]


class KeyStore(Protocol):
    """What an incremental run needs to know about previously resolved people."""

    def bucket_sizes(self, band: npt.NDArray[np.int16], bucket_hash: I64) -> I64:
        """Number of stored people in each ``(band, bucket_hash)`` bucket (0 if none)."""
        ...

    def members(
        self, band: npt.NDArray[np.int16], bucket_hash: I64, subkey: I64 | None = None
    ) -> I64:
        """Ids of the stored people in any of the buckets.

        Where ``subkey[i]`` is not NO_KEY, only the people of bucket ``i`` whose
        ``BAND_SUBKEY`` row equals it (one sub-bucket of a capped bucket).
        """
        ...

    def keys_of(self, person_ids: I64) -> pa.Table:
        """All stored ``(person_id, band, bucket_hash)`` rows of these people."""
        ...

    def people(self, person_ids: I64) -> pa.Table:
        """The stored input rows (``INPUT_SCHEMA``) of these people."""
        ...


def _composite(band: npt.NDArray[np.integer], bucket_hash: I64) -> I64:
    return as_key(combine(band.astype(np.int64), bucket_hash))


class InMemoryKeyStore:
    """A `KeyStore` over Arrow tables, for tests, small lists and in-memory daily runs."""

    def __init__(self, people: pa.Table, band_keys: pa.Table) -> None:
        """Index the people rows and their key rows.

        Args:
            people: input rows of every stored person.
            band_keys: their `DedupResult.band_keys` rows.
        """
        self._people = conform(people).sort_by([("id", "ascending")])
        self._ids = self._people.column("id").to_numpy()
        self._set_keys(band_keys)

    @classmethod
    def from_result(cls, people: pa.Table, result: DedupResult) -> InMemoryKeyStore:
        """The state after writing back a full run: keys stored, golden flags updated."""
        store = cls(people, result.band_keys())
        store._apply_golden(result)
        return store

    def _set_keys(self, band_keys: pa.Table) -> None:
        person = band_keys.column("person_id").to_numpy()
        band = band_keys.column("band").to_numpy()
        bucket = band_keys.column("bucket_hash").to_numpy()
        comp = _composite(band, bucket)
        order = np.argsort(comp, kind="stable")
        self._comp, self._comp_person = comp[order], person[order]
        by_person = np.lexsort((band, person))
        self._k_person = person[by_person]
        self._k_band = band[by_person]
        self._k_bucket = bucket[by_person]
        sub = band == BAND_SUBKEY
        o = np.argsort(person[sub])
        self._sub_person, self._sub_key = person[sub][o], bucket[sub][o]

    def band_keys(self) -> pa.Table:
        """Every stored key row."""
        return pa.table(
            {"person_id": self._k_person, "band": self._k_band, "bucket_hash": self._k_bucket}
        )

    def all_people(self) -> pa.Table:
        """Every stored person row (golden flags as last written)."""
        return self._people

    def _ranges(self, composite: I64) -> tuple[I64, I64]:
        lo = np.searchsorted(self._comp, composite, side="left")
        hi = np.searchsorted(self._comp, composite, side="right")
        return lo, hi - lo

    def bucket_sizes(self, band: npt.NDArray[np.int16], bucket_hash: I64) -> I64:
        """See `KeyStore.bucket_sizes`."""
        return self._ranges(_composite(band, bucket_hash))[1]

    def members(
        self, band: npt.NDArray[np.int16], bucket_hash: I64, subkey: I64 | None = None
    ) -> I64:
        """See `KeyStore.members`."""
        lo, size = self._ranges(_composite(band, bucket_hash))
        pos = np.repeat(lo, size) + ranks_within(size)
        person = self._comp_person[pos]
        if subkey is not None:
            wanted = np.repeat(subkey, size)
            limited = wanted != NO_KEY
            at = np.clip(np.searchsorted(self._sub_person, person), 0, len(self._sub_person) - 1)
            theirs = self._sub_key[at] if len(self._sub_person) else np.zeros(0, np.int64)
            person = person[~limited | (theirs == wanted)]
        return sorted_unique(person)

    def keys_of(self, person_ids: I64) -> pa.Table:
        """See `KeyStore.keys_of`."""
        lo = np.searchsorted(self._k_person, person_ids, side="left")
        hi = np.searchsorted(self._k_person, person_ids, side="right")
        pos = np.repeat(lo, hi - lo) + ranks_within(hi - lo)
        return pa.table(
            {
                "person_id": self._k_person[pos],
                "band": self._k_band[pos],
                "bucket_hash": self._k_bucket[pos],
            }
        )

    def people(self, person_ids: I64) -> pa.Table:
        """See `KeyStore.people`."""
        pos = np.searchsorted(self._ids, person_ids)
        ok = (pos < len(self._ids)) & (self._ids[np.minimum(pos, len(self._ids) - 1)] == person_ids)
        return self._people.take(pa.array(pos[ok]))

    def apply(self, people: pa.Table, result: DedupResult) -> None:
        """Write back an incremental result: its people's rows, keys and golden flags.

        Args:
            people: the new and changed rows given to `run_incremental`.
            result: its result.
        """
        touched = result.ids
        keep_people = ~np.isin(self._ids, conform(people).column("id").to_numpy())
        merged = pa.concat_tables([self._people.filter(pa.array(keep_people)), conform(people)])
        self._people = merged.sort_by([("id", "ascending")])
        self._ids = self._people.column("id").to_numpy()
        old = self.band_keys()
        keep = ~np.isin(old.column("person_id").to_numpy(), touched)
        self._set_keys(pa.concat_tables([old.filter(pa.array(keep)), result.band_keys()]))
        self._apply_golden(result)

    def _apply_golden(self, result: DedupResult) -> None:
        a = result.assignments
        pos = np.searchsorted(self._ids, a.column("person_id").to_numpy())
        flags = self._people.column("is_original").to_numpy(zero_copy_only=False).copy()
        flags[pos] = a.column("is_golden").to_numpy(zero_copy_only=False)
        index = self._people.schema.get_field_index("is_original")
        self._people = self._people.set_column(index, "is_original", pa.array(flags))


def _key_counts(
    band: npt.NDArray[np.int16], bucket: I64
) -> tuple[I64, npt.NDArray[np.int16], I64, I64]:
    """Distinct (band, bucket) pairs: composite key (ascending), band, bucket and count."""
    comp = _composite(band, bucket)
    order = np.argsort(comp)
    comp, band, bucket = comp[order], band[order], bucket[order]
    first = np.r_[True, comp[1:] != comp[:-1]] if comp.size else np.zeros(0, bool)
    counts = np.diff(np.r_[np.flatnonzero(first), comp.size])
    return comp[first], band[first], bucket[first], counts


def run_incremental(
    new_people: pa.Table,
    store: KeyStore,
    settings: DedupSettings | None = None,
    *,
    use_ray: bool = False,
    progress: Progress | None = None,
    exclude: I64 | None = None,
) -> DedupResult:
    """Match new or changed people against the stored ones and re-resolve what they touch.

    Args:
        new_people: rows in `INPUT_SCHEMA`; an id the store knows is a changed person.
        store: the previously resolved people and their keys.
        settings: must equal the settings the stored keys were built with.
        use_ray: distribute the core pipeline (worth it only for large batches).
        progress: optional ``progress(stage, done, total)`` callback.
        exclude: person id pairs to keep apart (see `dedup_ray.engine.run`).

    Returns:
        A `DedupResult` over the new people and every stored person whose cluster they can
        affect; its rows replace those people's previous assignments, pairs and keys.
    """
    settings = settings or DedupSettings()
    new = conform(new_people)
    new_ids = new.column("id").to_numpy()
    rk = record_keys(normalize(new), settings)
    entries = long_form(rk, np.arange(new.num_rows, dtype=np.int64))
    e_band = entries.column("band").to_numpy()
    e_bucket = entries.column("bucket_hash").to_numpy()
    e_sub = entries.column("subkey").to_numpy()

    old_keys = store.keys_of(new_ids)
    real = ~np.isin(old_keys.column("band").to_numpy(), (BAND_SUBKEY, BAND_COMPONENT))
    old_band = old_keys.column("band").to_numpy()[real]
    old_bucket = old_keys.column("bucket_hash").to_numpy()[real]

    # Global size of every bucket the update touches: stored - changed people's old keys + new.
    comp, band, bucket, _ = _key_counts(
        np.concatenate([e_band, old_band]), np.concatenate([e_bucket, old_bucket])
    )
    stored = store.bucket_sizes(band, bucket)
    final = (
        stored
        - _count_in(comp, _composite(old_band, old_bucket))
        + _count_in(comp, _composite(e_band, e_bucket))
    )
    cap = settings.bucket_cap
    whole = (stored <= cap) | (final <= cap)

    found = [store.members(band[whole], bucket[whole])]
    capped = np.isin(_composite(e_band, e_bucket), comp[~whole])
    if capped.any():
        found.append(store.members(e_band[capped], e_bucket[capped], e_sub[capped]))
    touched = sorted_unique(np.concatenate([*found, new_ids]))
    comps = store.keys_of(touched)
    is_comp = comps.column("band").to_numpy() == BAND_COMPONENT
    comp_ids = sorted_unique(comps.column("bucket_hash").to_numpy()[is_comp])
    closure = store.members(np.full(len(comp_ids), BAND_COMPONENT, np.int16), comp_ids)
    old_ids = np.setdiff1d(np.union1d(touched, closure), new_ids)
    work = pa.concat_tables([new, conform(store.people(old_ids))])

    def known(keys: RecordKeys) -> BucketSizes:
        return _global_sizes(keys, new.num_rows, store, old_band, old_bucket)

    return run(
        work, settings, use_ray=use_ray, progress=progress, known_sizes=known, exclude=exclude
    )


def _count_in(keys: I64, values: I64) -> I64:
    """How often each of the sorted distinct `keys` occurs in `values`."""
    if len(keys) == 0:  # a daily run whose work rows share no bucket
        return np.zeros(0, np.int64)
    pos = np.searchsorted(keys, values)
    ok = (pos < len(keys)) & (keys[np.minimum(pos, len(keys) - 1)] == values)
    return np.bincount(pos[ok], minlength=len(keys))


def _global_sizes(
    keys: RecordKeys,
    n_new: int,
    store: KeyStore,
    old_band: npt.NDArray[np.int16],
    old_bucket: I64,
) -> BucketSizes:
    """Bucket sizes over all data after the update, for the keys of the work rows.

    The work table holds the new rows first, then the stored people it pulled in. Only
    buckets with two or more work rows are asked about: `candidate_pairs` drops a bucket
    of one member before it looks at sizes, so its size cannot change the result (and
    most keys of a work set are such singletons, each a store lookup).
    """
    entries = long_form(keys, np.arange(len(keys.subkey), dtype=np.int64))
    band = entries.column("band").to_numpy()
    bucket = entries.column("bucket_hash").to_numpy()
    is_new = entries.column("row").to_numpy() < n_new
    comp, u_band, u_bucket, counts = _key_counts(band, bucket)
    shared = counts > 1
    comp, u_band, u_bucket = comp[shared], u_band[shared], u_bucket[shared]
    sizes = (
        store.bucket_sizes(u_band, u_bucket)
        - _count_in(comp, _composite(old_band, old_bucket))
        + _count_in(comp, _composite(band[is_new], bucket[is_new]))
    )
    order = np.argsort(u_bucket)
    return BucketSizes(u_bucket[order], sizes[order])
