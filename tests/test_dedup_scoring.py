"""Matching tiers and score parts on hand-made pairs; normalisation they rely on."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from dedup_ray.normalize import INPUT_SCHEMA, normalize
from dedup_ray.scoring import score_pairs, scoring_frame
from dedup_ray.settings import DedupSettings


def people_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows with any subset of the input columns (pyarrow infers from the first row only)."""
    return pa.Table.from_pylist(rows, schema=INPUT_SCHEMA)


def _score(a: dict[str, Any], b: dict[str, Any], **settings: Any) -> dict[str, Any]:
    """Score one pair of hand-made records."""
    table = people_table([{"id": 1, **a}, {"id": 2, **b}])
    s = DedupSettings(**settings)
    frame = scoring_frame(normalize(table), s)
    return score_pairs(frame, np.array([0]), np.array([1]), s).to_pylist()[0]


JOHN = {
    "first_name": "John",
    "last_name": "Smith",
    "email": "john.smith@gmail.com",
    "phone_e164": "+15125551234",
    "street": "12 Oak Street",
    "zip5": "78701",
}


def _only(**fields: Any) -> dict[str, Any]:
    return {k: JOHN[k] for k in ("first_name", "last_name")} | fields


def test_exact_email_is_tier_1_with_parts() -> None:
    got = _score(JOHN, _only(email="JOHN.SMITH@gmail.com ", zip5="10001"))
    assert (got["tier"], got["reason"], got["confidence"]) == (1, "exact_email", 100)
    parts = got["parts"]
    assert (parts["name"], parts["email"], parts["phone"], parts["address"]) == (40, 20, 0, 0)
    assert parts["first_name"] == "exact"
    assert got["score"] == 60


def test_exact_phone_is_tier_1() -> None:
    got = _score(JOHN, _only(phone_e164="+1 (512) 555-1234"))
    assert (got["tier"], got["reason"]) == (1, "exact_phone")
    assert got["parts"]["phone"] == 20


def test_name_zip_is_tier_2_with_nickname() -> None:
    got = _score(JOHN, {"first_name": "Johnny", "last_name": "Smith", "zip5": "78701"})
    assert (got["tier"], got["reason"], got["confidence"]) == (2, "name_zip", 90)
    assert got["parts"]["first_name"] == "nickname"
    assert got["parts"]["address"] == 5, "same ZIP, one street missing"


def test_name_phone7_is_tier_2() -> None:
    got = _score(JOHN, _only(phone_e164="+17375551234", zip5="10001"))
    assert (got["tier"], got["reason"]) == (2, "name_phone7")
    assert got["parts"]["phone"] == 14


def test_fuzzy_name_and_address_is_tier_3() -> None:
    other = {"first_name": "Jonh", "last_name": "Smyth", "street": "12 Oak St", "zip5": "78701"}
    got = _score(JOHN, other)
    assert (got["tier"], got["reason"], got["confidence"]) == (3, "fuzzy_name_address", 70)
    assert got["parts"]["first_name"] == "edits"
    assert got["parts"]["name_distance"] == 2
    assert got["parts"]["address_similarity"] == 100.0


def test_email_domain_and_name_is_tier_3() -> None:
    a = {"first_name": "Katherine", "last_name": "Wong", "email": "kwong@acme-corp.com"}
    b = {"first_name": "Katharine", "last_name": "Wong", "email": "k.wong@acme-corp.com"}
    got = _score(a, b)
    assert (got["tier"], got["reason"]) == (3, "email_domain_name")
    assert got["parts"]["email"] == 5
    assert got["parts"]["name_similarity"] >= 85


def test_free_mail_domain_is_not_evidence() -> None:
    a = {"first_name": "Katherine", "last_name": "Wong", "email": "kwong@gmail.com"}
    b = {"first_name": "Katharine", "last_name": "Wong", "email": "k.wong@gmail.com"}
    assert _score(a, b)["tier"] == 0


def test_household_member_does_not_match() -> None:
    mary = {**JOHN, "first_name": "Mary", "email": "mary.smith@gmail.com"}
    got = _score(JOHN, mary)
    assert got["tier"] == 0 and not got["first_agree"]
    assert got["score"] == 60, "surname, phone and address still show in the score"


def test_shared_family_email_does_not_merge_different_first_names() -> None:
    a = {**JOHN, "email": "smiths@example.com"}
    b = {**JOHN, "first_name": "Linda", "email": "smiths@example.com", "phone_e164": None}
    assert _score(a, b)["tier"] == 0


def test_same_surname_same_zip_stranger_does_not_match() -> None:
    other = {
        "first_name": "Peter",
        "last_name": "Smith",
        "email": "p.smith@yahoo.com",
        "phone_e164": "+15125559999",
        "street": "400 Elm Avenue",
        "zip5": "78701",
    }
    assert _score(JOHN, other)["tier"] == 0


def test_same_name_same_zip_with_contradictions_is_vetoed() -> None:
    other = {
        **JOHN,
        "email": "jsmith77@yahoo.com",
        "phone_e164": "+15125559999",
        "street": "400 Elm Avenue",
    }
    got = _score(JOHN, other)
    assert got["tier"] == 0
    assert _score(JOHN, other, max_conflicts=3)["reason"] == "name_zip"


def test_conflicting_middle_initials_do_not_agree() -> None:
    a = {**JOHN, "middle_name": "A."}
    b = {**JOHN, "middle_name": "Robert"}
    got = _score(a, b)
    assert got["tier"] == 0 and not got["first_agree"]
    assert _score(a, {**JOHN, "middle_name": "Alan"})["tier"] == 1


@pytest.mark.parametrize(
    ("a", "b", "rule"),
    [
        ("Benjamin", "Benjmain", "edits"),
        ("Christopher", "Christopehr", "edits"),
        ("Stephanie", "Stphanee", "edits"),
        ("Jeffery", "Jeffrey", "edits"),
        ("Bob", "Robert", "nickname"),
        ("Liz", "Elizabeth", "nickname"),
    ],
)
def test_first_name_agreement(a: str, b: str, rule: str) -> None:
    got = _score({**JOHN, "first_name": a}, {**JOHN, "first_name": b})
    assert got["parts"]["first_name"] == rule
    assert got["tier"] == 1


@pytest.mark.parametrize(
    ("a", "b"), [("Jon", "Jan"), ("Mary", "Mark"), ("John", "Joan"), ("Daniel", "Danielle")]
)
def test_first_names_that_do_not_agree(a: str, b: str) -> None:
    got = _score({**JOHN, "first_name": a}, {**JOHN, "first_name": b})
    assert got["tier"] == 0


def test_score_is_sum_of_parts_and_within_bounds() -> None:
    got = _score(JOHN, dict(JOHN))
    parts = got["parts"]
    assert got["score"] == 100 == parts["name"] + parts["email"] + parts["phone"] + parts["address"]


def test_normalisation_used_by_matching() -> None:
    people = people_table(
        [
            {
                "id": 1,
                "first_name": "  José-Luis ",
                "last_name": "O'Brien Jr.",
                "email": " Bob@Example.COM",
                "phone_e164": "+1 (512) 555-1234",
                "street": "123 North Main Street, Apt #4",
                "zip5": "7870",
            },
            {"id": 2, "email": "not-an-email", "zip5": "1", "street": "  "},
        ]
    )
    rows = normalize(people).to_pylist()
    assert rows[0]["first"] == "jose", "matching compares the first word"
    assert rows[0]["last"] == "obrien"
    assert rows[0]["email"] == "bob@example.com"
    assert rows[0]["email_domain"] == "example.com"
    assert rows[0]["phone"] == "15125551234" and rows[0]["phone7"] == "5551234"
    assert rows[0]["street"] == "123 n main st apt 4"
    assert rows[0]["zip5"] == "07870"
    assert rows[1]["email"] is None and rows[1]["zip5"] is None and rows[1]["street"] is None


def test_normalize_rejects_repeated_ids() -> None:
    with pytest.raises(ValueError, match="repeated ids"):
        normalize(pa.table({"id": [1, 1]}))
