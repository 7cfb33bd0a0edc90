"""Blocking: exact-key joins, LSH candidates, and capped buckets that are reported, not lost."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from dedup_ray.blocking import (
    BucketSizes,
    all_pairs,
    candidate_pairs,
    long_form,
    name_order,
    record_keys,
    unique_pairs,
)
from dedup_ray.engine import run
from dedup_ray.normalize import INPUT_SCHEMA, normalize
from dedup_ray.settings import DedupSettings
from dedup_ray.types import BAND_EMAIL, BAND_PHONE


def people_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows with any subset of the input columns (pyarrow infers from the first row only)."""
    return pa.Table.from_pylist(rows, schema=INPUT_SCHEMA)


def _candidates(people: pa.Table, settings: DedupSettings) -> tuple[set[tuple[int, int]], pa.Table]:
    norm = normalize(people)
    rk = record_keys(norm, settings)
    ids = norm.column("id").to_numpy()
    entries = long_form(rk, np.arange(norm.num_rows, dtype=np.int64))
    left, right, report = candidate_pairs(entries, settings, name_order(norm), ids)
    left, right = unique_pairs(left, right, norm.num_rows)
    return {(int(ids[a]), int(ids[b])) for a, b in zip(left, right, strict=True)}, report


def test_all_pairs_within_groups() -> None:
    left, right = all_pairs(np.array([0, 5]), np.array([3, 2]))
    assert sorted(zip(left.tolist(), right.tolist(), strict=True)) == [
        (0, 1),
        (0, 2),
        (1, 2),
        (5, 6),
    ]


def test_exact_keys_join_records_lsh_would_miss() -> None:
    people = people_table(
        [
            {
                "id": 1,
                "first_name": "Ann",
                "last_name": "Lee",
                "email": "ann@x.com",
                "zip5": "10001",
            },
            {"id": 2, "first_name": "Zed", "last_name": "Quux", "email": "ANN@x.com"},
            {"id": 3, "first_name": "Bo", "last_name": "Diddley", "phone_e164": "+15550001111"},
            {"id": 4, "first_name": "Al", "last_name": "Green", "phone_e164": "+15550001111"},
            {"id": 5, "first_name": "Cy", "last_name": "Young", "street": "1 Main St"},
        ]
    )
    pairs, report = _candidates(people, DedupSettings())
    assert pairs == {(1, 2), (3, 4)}
    assert report.num_rows == 0


def test_lsh_finds_fuzzy_duplicates() -> None:
    base = {"first_name": "Katherine", "last_name": "Johnson", "street": "4821 Westheimer Road"}
    people = people_table(
        [
            {"id": 1, **base, "zip5": "77056"},
            {
                "id": 2,
                **base,
                "last_name": "Jonhson",
                "street": "4821 Westheimer Rd",
                "zip5": "77056",
            },
            {
                "id": 3,
                "first_name": "Pat",
                "last_name": "Nguyen",
                "street": "9 Elm",
                "zip5": "02134",
            },
        ]
    )
    pairs, _ = _candidates(people, DedupSettings())
    assert (1, 2) in pairs
    assert all(3 not in p for p in pairs)


_FIRST = ["Ada", "Brendan", "Cleo", "Dmitri", "Esther", "Farouk", "Gunnhild", "Hiroshi", "Ines"]
_LAST = ["Okafor", "Lindqvist", "Tanaka", "Moreau", "Kowalczyk", "Abernathy", "Quispe", "Zhou"]


def _call_centre(n: int, duplicates: int) -> pa.Table:
    """`n` different people sharing one office phone; the first `duplicates` are one person."""
    rows = []
    for i in range(n):
        same = i < duplicates
        rows.append(
            {
                "id": i + 1,
                "first_name": "Grace" if same else _FIRST[i % len(_FIRST)],
                "last_name": "Hopper" if same else _LAST[i % len(_LAST)] + "-" + _LAST[i // 8],
                "phone_e164": "+18005550100",
            }
        )
    return people_table(rows)


def test_oversized_bucket_is_capped_reported_and_still_compared_finely() -> None:
    people = _call_centre(30, duplicates=2)
    settings = DedupSettings(bucket_cap=10)
    pairs, report = _candidates(people, settings)
    phone = report.filter(pa.compute.equal(report.column("band"), BAND_PHONE)).to_pylist()
    assert len(phone) == 1
    assert phone[0]["size"] == 30
    assert phone[0]["pairs"] == 1, "the two records of one person share the finer sub-key"
    assert (1, 2) in pairs
    assert len(pairs) < 30, "not the 435 pairs of the whole bucket"

    result = run(people, settings, use_ray=False)
    assert result.counts["capped_buckets"] >= 1
    assert result.capped_buckets.num_rows == result.counts["capped_buckets"]
    golden = result.assignments.column("golden_id").to_pylist()
    assert golden[0] == golden[1]


def test_oversized_sub_bucket_falls_back_to_a_window() -> None:
    same = {"first_name": "Grace", "last_name": "Hopper", "street": "1 Navy Way", "zip5": "22202"}
    people = people_table(
        [
            {"id": i, **same, "email": f"g{i}@navy.mil", "phone_e164": "+18005550100"}
            for i in range(1, 13)
        ]
    )
    settings = DedupSettings(bucket_cap=4, window=2)
    pairs, report = _candidates(people, settings)
    assert report.num_rows > 0
    assert (report.column("windowed_members").to_numpy() == 12).all()
    assert len(pairs) < 12 * 11 // 2
    result = run(people, settings, use_ray=False)
    assert result.assignments.column("cluster_size").to_pylist() == [12] * 12


def test_known_global_sizes_decide_capping() -> None:
    people = _call_centre(6, duplicates=2)
    settings = DedupSettings(bucket_cap=10)
    norm = normalize(people)
    rk = record_keys(norm, settings)
    phone_key = rk.keys[0, list(rk.bands).index(BAND_PHONE)]
    entries = long_form(rk, np.arange(norm.num_rows, dtype=np.int64))
    ids = norm.column("id").to_numpy()
    order = name_order(norm)
    _, _, local = candidate_pairs(entries, settings, order, ids)
    assert local.num_rows == 0
    known = BucketSizes(np.array([phone_key]), np.array([1000]))
    _, _, report = candidate_pairs(entries, settings, order, ids, known)
    assert report.to_pylist()[0]["size"] == 1000


def test_missing_fields_make_no_key() -> None:
    people = people_table([{"id": 1}, {"id": 2}, {"id": 3, "email": "a@b.co"}])
    rk = record_keys(normalize(people), DedupSettings())
    assert (rk.keys[:2] == 0).all()
    assert rk.keys[2, list(rk.bands).index(BAND_EMAIL)] != 0
