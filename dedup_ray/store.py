"""Band keys in PostgreSQL: the `KeyStore` of daily runs and the rows a run writes for it.

Two tables (``db/migrations/0010_dedup.sql``): ``dedup_band_keys`` holds one row per
``(bucket_hash, band, person_id)`` with one index, by bucket, which answers "who is in this
bucket" and "how big is it" with index-only range scans; ``dedup_person_keys`` holds one
row per person with its bucket hashes packed in band order, its capped-bucket sub-key,
its matching component and a digest of its keys. The per-person row is what a second index
by person would otherwise cost on every one of ~17 rows a person has; the digest lets a
re-run find the people whose keys changed without reading the keys back.

Every question is one COPY of its buckets or ids into a temporary table and one COPY out
of the answer, so a daily run costs a few round trips whatever the number of keys.
`PostgresKeyStore` must be used inside a transaction (its temporary tables are dropped at
commit).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import psycopg
import pyarrow as pa

from db.queries import sql
from dedup_ray.arrays import ranks_within, sorted_unique
from dedup_ray.database import (
    binary_field,
    copy_binary,
    copy_binary_chunks,
    fetch_packed,
    fill_ids,
    read_people,
)
from dedup_ray.engine import DedupResult
from dedup_ray.hashing import as_key, combine
from dedup_ray.settings import DedupSettings
from dedup_ray.types import BAND_COMPONENT, BAND_SUBKEY, EXACT_BANDS, NO_KEY
from tasks.copy import copy_arrow

I64 = npt.NDArray[np.int64]
#: Band-key rows built and encoded at a time.
_KEY_CHUNK = 1_000_000


# What a run writes for the store.


def key_digests(result: DedupResult) -> I64:
    """A 64-bit digest of each person's band keys (band numbers included)."""
    keys = result.keys
    layout = combine(*(np.array([b], np.int64) for b in keys.bands))[0]
    columns = (keys.keys[:, j] for j in range(keys.keys.shape[1]))
    return combine(np.full(len(result.ids), layout), *columns).view(np.int64)


def key_state(result: DedupResult) -> pa.Table:
    """``(person_id, subkey, component_id, digest)`` of every person of the result."""
    return pa.table(
        {
            "person_id": result.ids,
            "subkey": result.keys.subkey,
            "component_id": result.components,
            "digest": key_digests(result),
        }
    )


def _person_keys_dtype(width: int) -> np.dtype:
    return np.dtype(
        [
            ("fields", ">i2"),
            *binary_field("person_id", ">i8"),
            *binary_field("subkey", ">i8"),
            *binary_field("component_id", ">i8"),
            *binary_field("digest", ">i8"),
            *binary_field("buckets", ">i8", width),
        ]
    )


_BAND_KEYS_DTYPE = np.dtype(
    [
        ("fields", ">i2"),
        *binary_field("bucket_hash", ">i8"),
        *binary_field("band", ">i2"),
        *binary_field("person_id", ">i8"),
    ]
)


def _bucket_order(bucket: I64) -> I64:
    """Positions of `bucket` in ascending order, ties in position order.

    Sorting plain integers is about twice as fast as ``argsort``: the key's high bits are
    packed with the position (as in `dedup_ray.blocking`); keys that share those bits keep
    position order, which leaves the index build a nearly sorted input.
    """
    if bucket.size == 0:
        return np.zeros(0, np.int64)
    bits = np.uint64(max(1, int(bucket.size - 1).bit_length()))
    flipped = bucket.view(np.uint64) ^ np.uint64(1 << 63)  # signed order as unsigned
    packed = np.sort(((flipped >> bits) << bits) | np.arange(bucket.size, dtype=np.uint64))
    return (packed & ((np.uint64(1) << bits) - np.uint64(1))).astype(np.int64)


def write_person_keys(
    conn: psycopg.Connection, result: DedupResult, rows: I64, *, frozen: bool = False
) -> int:
    """COPY the ``dedup_person_keys`` rows of the given result rows (bucket 0: no key).

    Args:
        conn: a connection inside the run's transaction.
        result: the run's result.
        rows: which of its rows.
        frozen: COPY FREEZE (only right after truncating the table in this transaction).
    """
    keys = result.keys
    columns = {
        "person_id": result.ids[rows],
        "subkey": keys.subkey[rows],
        "component_id": result.components[rows],
        "digest": key_digests(result)[rows],
        "buckets": keys.keys[rows],
    }
    name = "dedup_person_keys_copy_frozen" if frozen else "dedup_person_keys_copy"
    return copy_binary(conn, sql(name), _person_keys_dtype(keys.keys.shape[1]), columns)


def write_band_keys(
    conn: psycopg.Connection, result: DedupResult, rows: I64, *, reload: bool = False
) -> int:
    """COPY the ``dedup_band_keys`` rows of the given result rows, in bucket order.

    Rows arrive sorted, so a reload indexes presorted input (PostgreSQL took 18-22 s to
    index 17M unsorted rows, about 6 s sorted). Only the flat positions of the keys are held
    whole; the rows are built chunk by chunk as they are sent (10M people have 170M keys).

    Args:
        conn: a connection inside a transaction.
        result: the run's result.
        rows: which of its rows.
        reload: write into ``dedup_band_keys_next``, created in this transaction (frozen).
    """
    keys = result.keys
    whole = len(rows) == len(result.ids) and bool(np.all(rows[1:] > rows[:-1]))
    sub = keys.keys if whole else keys.keys[rows]
    width = sub.shape[1]
    flat = sub.reshape(-1)
    at = np.flatnonzero(flat != NO_KEY)
    at = at[_bucket_order(flat[at])]
    ids = result.ids if whole else result.ids[rows]
    bands = keys.bands.astype(np.int16)

    def chunks() -> Iterator[dict[str, I64]]:
        for lo in range(0, len(at), _KEY_CHUNK):
            part = at[lo : lo + _KEY_CHUNK]
            yield {
                "bucket_hash": flat[part],
                "band": bands[part % width],
                "person_id": ids[part // width],
            }

    name = "dedup_band_keys_next_copy" if reload else "dedup_band_keys_copy"
    return copy_binary_chunks(conn, sql(name), _BAND_KEYS_DTYPE, chunks())


def restore_band_keys(conn: psycopg.Connection, settings: DedupSettings | None) -> bool:
    """Rebuild ``dedup_band_keys`` from ``dedup_person_keys`` if crash recovery emptied it.

    The table is unlogged (``0013_dedup_speed.sql``); runs call this first, so a lost table
    never looks like buckets without members.

    Args:
        conn: a connection inside the run's transaction.
        settings: the settings the stored keys were built with (their band layout); None
            when no run completed (nothing is stored then).

    Returns:
        Whether the table was rebuilt.
    """
    if settings is None:
        return False
    lost = conn.execute(sql("dedup_band_keys_lost")).fetchone()
    if not (lost and lost[0]):
        return False
    conn.execute(sql("dedup_band_keys_rebuild"), {"layout": band_layout(settings).tolist()})
    return True


# The store.

_FETCHED = np.dtype([("i", ">i4"), ("person_id", ">i8"), ("size", ">i8")])
_SIZES = np.dtype([("i", ">i4"), ("size", ">i8")])
_PERSON_IDS = np.dtype(">i8")


def _stored_dtype(width: int) -> np.dtype:
    return np.dtype(
        [("person_id", ">i8"), ("subkey", ">i8"), ("component_id", ">i8"),
         ("buckets", ">i8", (width,))]
    )


_LOOKUP = pa.schema(
    [("i", pa.int32()), ("band", pa.int16()), ("bucket_hash", pa.int64()), ("subkey", pa.int64())]
)
_KEYS = pa.schema([("person_id", pa.int64()), ("band", pa.int16()), ("bucket_hash", pa.int64())])


def band_layout(settings: DedupSettings) -> npt.NDArray[np.int16]:
    """The band of each position of a stored bucket array (`RecordKeys.bands`)."""
    return np.array([*range(settings.bands), *EXACT_BANDS], dtype=np.int16)


def _bucket_codes(band: npt.NDArray[np.integer], bucket: I64) -> I64:
    return as_key(combine(np.asarray(band, np.int64), np.asarray(bucket, np.int64)))


class PostgresKeyStore:
    """A `dedup_ray.KeyStore` answering from ``dedup_band_keys`` and ``dedup_person_keys``.

    Lookups are index range scans per bucket, in key order, so their cost follows the
    number of keys asked about, not the number stored. An incremental run asks for the size
    of a bucket and then for its members, and for the sizes of many buckets twice; so a
    size question fetches the members of every bucket of at most the bucket cap with it,
    and answers are remembered for the store's life (the stored keys do not change while a
    run reads them). Answers come back packed in one value per question (`fetch_packed`).
    """

    def __init__(self, conn: psycopg.Connection, settings: DedupSettings) -> None:
        """Use `conn`, which must be inside a transaction for the store's whole use.

        Args:
            conn: the run's connection.
            settings: the settings the stored keys were built with (their band layout; the
                members of buckets up to the bucket cap are fetched with their sizes, as
                bigger buckets are capped and only their sub-buckets are read).
        """
        self.conn = conn
        self.layout = band_layout(settings)
        self.member_limit = settings.bucket_cap
        self._sized = np.zeros(0, np.int64)
        self._sizes = np.zeros(0, np.int64)
        self._member_code = np.zeros(0, np.int64)
        self._member_id = np.zeros(0, np.int64)
        conn.execute(sql("dedup_tmp_lookup"))
        conn.execute(sql("dedup_tmp_ids"))

    def _lookup(self, band: npt.NDArray[np.integer], bucket: I64, subkey: I64 | None) -> None:
        """Fill ``dedup_lookup`` in bucket order, so index probes walk the index in order."""
        n = len(bucket)
        band = np.asarray(band, np.int16)
        bucket = np.asarray(bucket, np.int64)
        order = np.argsort(bucket, kind="stable")
        self.conn.execute(sql("dedup_lookup_clear"))
        table = pa.table(
            {
                "i": order.astype(np.int32),
                "band": band[order],
                "bucket_hash": bucket[order],
                "subkey": np.zeros(n, np.int64) if subkey is None else np.asarray(subkey)[order],
            },
            schema=_LOOKUP,
        )
        copy_arrow(self.conn, "dedup_lookup", table)

    def bucket_sizes(self, band: npt.NDArray[np.int16], bucket_hash: I64) -> I64:
        """See `dedup_ray.KeyStore.bucket_sizes`."""
        codes = _bucket_codes(band, bucket_hash)
        sizes, known = self._known_sizes(codes)
        ask = np.flatnonzero(~known)
        if ask.size:
            band, bucket = np.asarray(band)[ask], np.asarray(bucket_hash)[ask]
            sizes[ask] = self._fetch(band, bucket, codes[ask])
        return sizes

    def _known_sizes(self, codes: I64) -> tuple[I64, npt.NDArray[np.bool_]]:
        if self._sized.size == 0:
            return np.zeros(len(codes), np.int64), np.zeros(len(codes), np.bool_)
        pos = np.clip(np.searchsorted(self._sized, codes), 0, self._sized.size - 1)
        known = self._sized[pos] == codes
        return np.where(known, self._sizes[pos], 0), known

    def _fetch(self, band: I64, bucket: I64, codes: I64) -> I64:
        """Sizes of the buckets, remembering them and the members of the small ones."""
        self._lookup(band, bucket, None)
        found = fetch_packed(
            self.conn, sql("dedup_bucket_fetch"), _FETCHED, {"limit": self.member_limit + 1}
        )
        i = found["i"].astype(np.int64)
        person = found["person_id"].astype(np.int64)
        sizes = np.zeros(len(codes), np.int64)
        sizes[i] = found["size"]
        big = np.flatnonzero(sizes > self.member_limit)
        if big.size:
            self._lookup(band[big], bucket[big], None)
            exact = fetch_packed(self.conn, sql("dedup_bucket_sizes"), _SIZES)
            sizes[big[exact["i"]]] = exact["size"]
        small = sizes[i] <= self.member_limit
        self._member_code = np.concatenate([self._member_code, codes[i[small]]])
        self._member_id = np.concatenate([self._member_id, person[small]])
        order = np.argsort(self._member_code, kind="stable")
        self._member_code, self._member_id = self._member_code[order], self._member_id[order]
        self._sized = np.concatenate([self._sized, codes])
        self._sizes = np.concatenate([self._sizes, sizes])
        order = np.argsort(self._sized, kind="stable")
        self._sized, self._sizes = self._sized[order], self._sizes[order]
        return sizes

    def members(
        self, band: npt.NDArray[np.int16], bucket_hash: I64, subkey: I64 | None = None
    ) -> I64:
        """See `dedup_ray.KeyStore.members`; ``BAND_COMPONENT`` asks for whole components."""
        band = np.asarray(band)
        bucket_hash = np.asarray(bucket_hash, np.int64)
        found = [np.zeros(0, np.int64)]
        component = band == BAND_COMPONENT
        if component.any():
            self._lookup(band[component], bucket_hash[component], None)
            found.append(fetch_packed(self.conn, sql("dedup_component_members"), _PERSON_IDS))
        rest = np.flatnonzero(~component)
        limited = np.zeros(len(band), np.bool_) if subkey is None else np.asarray(subkey) != 0
        codes = _bucket_codes(band[rest], bucket_hash[rest])
        sizes, known = self._known_sizes(codes)
        cached = known & (sizes <= self.member_limit) & ~limited[rest]
        found.append(self._cached_members(codes[cached]))
        ask = rest[~cached]
        if ask.size:
            sub = None if subkey is None else np.asarray(subkey)[ask]
            self._lookup(band[ask], bucket_hash[ask], sub)
            found.append(fetch_packed(self.conn, sql("dedup_bucket_members"), _PERSON_IDS))
        return sorted_unique(np.concatenate(found).astype(np.int64))

    def _cached_members(self, codes: I64) -> I64:
        lo = np.searchsorted(self._member_code, codes, side="left")
        hi = np.searchsorted(self._member_code, codes, side="right")
        return self._member_id[np.repeat(lo, hi - lo) + ranks_within(hi - lo)]

    def keys_of(self, person_ids: I64) -> pa.Table:
        """See `dedup_ray.KeyStore.keys_of`."""
        if len(person_ids) == 0:
            return _KEYS.empty_table()
        fill_ids(self.conn, person_ids)
        stored = fetch_packed(self.conn, sql("dedup_keys_of"), _stored_dtype(len(self.layout)))
        person = stored["person_id"].astype(np.int64)
        buckets = stored["buckets"].astype(np.int64)
        present = buckets != NO_KEY
        rows, cols = np.nonzero(present)
        n = len(person)
        keys = pa.table(
            {
                "person_id": np.concatenate([person[rows], person, person]),
                "band": np.concatenate(
                    [self.layout[cols], np.full(n, BAND_SUBKEY), np.full(n, BAND_COMPONENT)]
                ).astype(np.int16),
                "bucket_hash": np.concatenate(
                    [
                        buckets[present],
                        stored["subkey"].astype(np.int64),
                        stored["component_id"].astype(np.int64),
                    ]
                ),
            }
        )
        return keys.sort_by([("person_id", "ascending"), ("band", "ascending")])

    def people(self, person_ids: I64) -> pa.Table:
        """See `dedup_ray.KeyStore.people`: the people as they are now in ``persons``."""
        return read_people(self.conn, np.asarray(person_ids, np.int64))
