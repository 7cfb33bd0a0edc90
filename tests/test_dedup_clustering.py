"""Connected components and the chain guard."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from dedup_ray.clustering import canonical_labels, connected_components, split_chains
from dedup_ray.engine import run
from dedup_ray.normalize import INPUT_SCHEMA
from dedup_ray.settings import DedupSettings


def _people(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=INPUT_SCHEMA)


def test_components_are_labelled_by_smallest_row() -> None:
    left = np.array([5, 1, 2, 7, 9])
    right = np.array([4, 2, 3, 8, 7])
    labels = connected_components(10, left, right)
    assert labels.tolist() == [0, 1, 1, 1, 4, 4, 6, 7, 7, 7]


def test_components_of_a_long_path_and_random_order() -> None:
    n = 5000
    rng = np.random.default_rng(0)
    perm = rng.permutation(n)
    left, right = perm[:-1], perm[1:]
    labels = connected_components(n, left, right)
    assert (labels == 0).all()
    shuffled = rng.permutation(n - 1)
    np.testing.assert_array_equal(connected_components(n, right[shuffled], left[shuffled]), labels)


def test_canonical_labels() -> None:
    assert canonical_labels(np.array([9, 3, 9, 7, 3])).tolist() == [0, 1, 0, 3, 1]


def test_split_chains_detaches_members_that_fail_against_golden() -> None:
    # Path 0-1-2-3-4; golden is 0; 3 and 4 do not hold up against it, but 3-4 is a match.
    left, right = np.array([0, 1, 2, 3]), np.array([1, 2, 3, 4])
    labels = connected_components(5, left, right)

    def golden_of(rows: np.ndarray, labels: np.ndarray) -> np.ndarray:
        smallest = {}
        for r, lab in zip(rows.tolist(), labels.tolist(), strict=True):
            smallest[lab] = min(smallest.get(lab, r), r)
        return np.array([smallest[lab] for lab in labels.tolist()])

    def keep(golden: np.ndarray, members: np.ndarray) -> np.ndarray:
        return ~((golden == 0) & (members >= 3))

    new, report = split_chains(labels, left, right, golden_of, keep, max_rounds=10)
    assert new.tolist() == [0, 0, 0, 3, 3]
    assert (report.clusters_split, report.members_detached) == (1, 2)


def test_two_member_clusters_are_not_checked() -> None:
    labels = connected_components(2, np.array([0]), np.array([1]))

    def keep(golden: np.ndarray, members: np.ndarray) -> np.ndarray:
        raise AssertionError("a pair is its own evidence")

    new, report = split_chains(labels, np.array([0]), np.array([1]), lambda r, lab: r, keep, 10)
    assert new.tolist() == [0, 0] and report.rounds == 0


def test_chain_through_a_shared_record_is_split_in_a_run() -> None:
    when = datetime(2025, 1, 1, tzinfo=UTC)
    people = _people(
        [
            # The golden record (a person marked it).
            {"id": 1, "first_name": "John", "last_name": "Smith", "email": "js@corp.com",
             "street": "1 Oak St", "zip5": "78701", "manual_override": True,
             "source_updated_at": when},
            # Same email as 1 and the same phone as 3.
            {"id": 2, "first_name": "John", "last_name": "Smith", "email": "js@corp.com",
             "phone_e164": "+15125550100", "street": "99 Pine Rd", "zip5": "10001"},
            # Same phone as 2, otherwise another man.
            {"id": 3, "first_name": "Johnny", "last_name": "Smithson", "email": "jsm@web.de",
             "phone_e164": "+15125550100", "street": "5 Elm Ave", "zip5": "60601"},
        ]
    )  # fmt: skip
    result = run(people, DedupSettings(), use_ray=False)
    assert result.pairs.num_rows == 2, "1-2 by email, 2-3 by phone"
    a = result.assignments.to_pylist()
    assert [r["golden_id"] for r in a] == [1, 1, 3]
    assert [r["component_id"] for r in a] == [1, 1, 1], "one component before the split"
    assert result.counts["chain_members_detached"] == 1
    split = result.pairs.filter(pa.compute.invert(result.pairs.column("same_cluster")))
    assert split.select(["left_id", "right_id"]).to_pylist() == [{"left_id": 2, "right_id": 3}]


def test_chain_guard_keeps_a_member_that_holds_up() -> None:
    ana = {"first_name": "Ana", "last_name": "Ruiz"}
    people = _people(
        [
            {"id": 1, **ana, "email": "ana@x.org", "zip5": "30301"},
            {"id": 2, **ana, "email": "ana@x.org", "phone_e164": "+14045550111"},
            {"id": 3, **ana, "phone_e164": "+14045550111", "zip5": "30301"},
            {"id": 4, **ana, "phone_e164": "+14045550111", "street": "8 Peachtree St"},
        ]
    )
    result = run(people, DedupSettings(), use_ray=False)
    a = result.assignments.to_pylist()
    assert [r["golden_id"] for r in a] == [1, 1, 1, 4]
    assert [r["match_reason"] for r in a] == [None, "exact_email", "name_zip", None]
    assert result.counts["chain_members_detached"] == 1, "4 shares only a phone with 2 and 3"
