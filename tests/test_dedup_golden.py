"""Golden-record rules (seed E3) and field-level survivorship."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from dedup_ray.engine import run
from dedup_ray.golden import GOLDEN_RULES, GoldenFrame, golden_reasons, golden_rows
from dedup_ray.normalize import INPUT_SCHEMA, normalize
from dedup_ray.settings import DedupSettings

OLD = datetime(2020, 1, 1, tzinfo=UTC)
NEW = datetime(2024, 6, 1, tzinfo=UTC)
BASE = {
    "first_name": "Maria",
    "last_name": "Garcia",
    "email": "maria.garcia@corp.com",
    "source_updated_at": OLD,
    "is_original": True,
}


def _people(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=INPUT_SCHEMA)


def _golden(rows: list[dict[str, Any]]) -> tuple[int, str]:
    """Golden id and winning rule of one cluster made of all `rows`."""
    people = _people([{"id": i + 1, **BASE, **r} for i, r in enumerate(rows)])
    frame = GoldenFrame.from_normalized(normalize(people))
    all_rows = np.arange(len(rows), dtype=np.int64)
    labels = np.zeros(len(rows), dtype=np.int64)
    golden = golden_rows(frame, all_rows, labels)
    reason = golden_reasons(frame, all_rows, labels)
    assert len(set(golden.tolist())) == 1
    return int(frame.ids[golden[0]]), GOLDEN_RULES[reason[0]]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([{}, {"manual_override": True}, {"source_updated_at": NEW}], (2, "manual_override")),
        ([{}, {"source_updated_at": NEW}, {"zip5": "10001"}], (2, "most_recent")),
        ([{}, {"zip5": "10001", "street": "1 Main"}, {"zip5": "10001"}], (2, "most_complete")),
        ([{}, {"email_verified": True}, {"phone_verified": True}], (2, "email_verified")),
        ([{}, {}, {"phone_verified": True}], (3, "phone_verified")),
        ([{"is_original": False}, {}], (2, "existing_golden")),
        ([{"is_original": False}, {}, {}], (2, "lowest_id")),
        ([{}, {}, {}], (1, "lowest_id")),
        ([{"source_updated_at": None}, {}], (2, "most_recent")),
    ],
)
def test_golden_rules_in_priority_order(rows: list[dict[str, Any]], expected: tuple) -> None:
    assert _golden(rows) == expected


def test_singletons_are_their_own_golden() -> None:
    assert _golden([{}]) == (1, "singleton")


def _cluster(rows: list[dict[str, Any]]) -> pa.Table:
    """Run a cluster of records that all share one email (so they all match)."""
    people = _people([{"id": i + 1, **BASE, **r} for i, r in enumerate(rows)])
    result = run(people, DedupSettings(), use_ray=False)
    assert result.assignments.column("cluster_size").to_pylist() == [len(rows)] * len(rows)
    return result


def test_survivorship_fills_missing_fields_and_prefers_verified_contacts() -> None:
    result = _cluster(
        [
            {"source_updated_at": NEW, "street": "5 Elm St", "zip5": "60601"},
            {"phone_e164": "+13125550199", "middle_name": "Luz"},
            {
                "email": "MARIA.GARCIA@corp.com",
                "email_verified": True,
                "phone_e164": "+13125550100",
                "phone_verified": True,
            },
        ]
    )
    fields = {r["field"]: r for r in result.merged_fields.to_pylist()}
    assert all(r["golden_id"] == 1 for r in fields.values())
    assert (fields["street"]["from_person_id"], fields["street"]["rule"]) == (1, "golden")
    assert (fields["middle_name"]["from_person_id"], fields["middle_name"]["rule"]) == (
        2,
        "most_recent",
    )
    assert fields["email"] == {
        "golden_id": 1,
        "field": "email",
        "value": "MARIA.GARCIA@corp.com",
        "from_person_id": 3,
        "rule": "verified",
    }
    assert (fields["phone_e164"]["value"], fields["phone_e164"]["rule"]) == (
        "+13125550100",
        "verified",
    )
    assert "city" not in fields, "no member has it"


def test_manual_override_keeps_its_own_values() -> None:
    result = _cluster(
        [
            {"manual_override": True, "phone_e164": "+13125550111"},
            {"source_updated_at": NEW, "phone_e164": "+13125550100", "phone_verified": True},
        ]
    )
    a = result.assignments.to_pylist()
    assert [r["golden_id"] for r in a] == [1, 1]
    assert a[0]["golden_rule"] == "manual_override"
    fields = {r["field"]: r for r in result.merged_fields.to_pylist()}
    assert (fields["phone_e164"]["value"], fields["phone_e164"]["rule"]) == (
        "+13125550111",
        "manual_override",
    )


def test_duplicates_carry_their_comparison_with_the_golden_record() -> None:
    result = _cluster([{"source_updated_at": NEW}, {"phone_e164": "+13125550100"}])
    dup = result.assignments.to_pylist()[1]
    assert (dup["is_golden"], dup["golden_id"], dup["match_reason"]) == (False, 1, "exact_email")
    assert dup["match_confidence"] == 100
    assert dup["score_parts"]["email"] == 20
    golden = result.assignments.to_pylist()[0]
    assert golden["is_golden"] and golden["match_score"] is None
