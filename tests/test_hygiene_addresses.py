"""Street addresses: exact outputs, and the vectorized path equal to scourgify's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sampledata import geography
from sampledata.people import PopulationRates, draw_people, draw_places, name_tables
from sampledata.sources import street_line
from sampledata.variation import VariationRates, build_records, copies_per_person
from tasks.hygiene import addresses
from tasks.hygiene.addresses import _SEP, fast_path, model_words, normalize_addresses, normalize_one

Row = tuple[str | None, str | None, str | None, str | None, str | None]


def _columns(rows: list[Row]) -> list[pa.Array]:
    return [pa.array([r[i] for r in rows], pa.string()) for i in range(5)]


def _library(row: Row) -> dict[str, str | None]:
    return normalize_one(_SEP.join(part or "" for part in row))


def _fast(rows: list[Row]) -> np.ndarray:
    return fast_path(*(pc.fill_null(c, "") for c in _columns(rows)))[0]


def generator_addresses(n: int, seed: int) -> list[Row]:
    """Addresses as the legacy generator writes them: one line or street plus street2."""
    rng = np.random.Generator(np.random.PCG64(seed))
    places = draw_places(rng, 2000)
    people = draw_people(rng, n, 1, places, PopulationRates())
    copies = copies_per_person(rng, len(people), VariationRates())
    records = build_records(rng, people, places, copies, VariationRates())
    records = records.take(rng.permutation(len(records))[:n])
    two_lines = rng.random(len(records)) < 0.5
    street = pc.if_else(pa.array(two_lines), records.street, street_line(records))
    street2 = pc.if_else(pa.array(two_lines), records.unit, pa.scalar(None, pa.string()))
    zip5 = pc.utf8_slice_codeunits(records.zip, 0, 5)
    columns = [c.to_pylist() for c in (street, street2, records.city, records.state, zip5)]
    return list(zip(*columns, strict=True))


def test_addresses_use_publication_28_and_fall_back_without_losing_anything() -> None:
    out = normalize_addresses(
        pa.array(["123 north main street apt 4", "PO Box 12 blah", None, "55 Elm Street"]),
        pa.array([None, None, None, "Apartment 3"], pa.string()),
        pa.array(["springfield", "x", "boston", "Cambridge"]),
        pa.array(["il", "ma", "MA", "ma"]),
        pa.array(["62704", "02134", None, "02139"]),
    ).to_pylist()
    assert out == [
        {"street": "123 N MAIN ST", "street2": "APT 4", "city": "SPRINGFIELD", "state": "IL",
         "error": None},
        {"street": "PO BOX 12 BLAH", "street2": None, "city": "X", "state": "MA",
         "error": "unparsed_address"},
        {"street": None, "street2": None, "city": "BOSTON", "state": "MA",
         "error": "missing_street"},
        {"street": "55 ELM ST", "street2": "APT 3", "city": "CAMBRIDGE", "state": "MA",
         "error": None},
    ]


# (street, street2, city, state, zip), then the expected street, street2, state, error and
# whether the vectorized path answers it.
_HAND_MADE: list[tuple[Row, tuple[str | None, str | None, str | None, str | None, bool]]] = [
    (("1600 Pennsylvania Ave. N.W.", None, "Washington", "DC", "20500"),
     ("1600 PENNSYLVANIA AVE NW", None, "DC", None, True)),
    # scourgify spells out the first bare CT before tagging, except in Connecticut (as
    # normalize_state reads the raw state: "ct" is not recognised there).
    (("3 Ct Cline Rd", None, "Albany", "NY", "12207"),
     ("3 COURT CLINE RD", None, "NY", None, True)),
    (("3 Ct Cline Rd", None, "Hartford", "CT", "06101"), ("3 CT CLINE RD", None, "CT", None, True)),
    (("3 Ct Cline Rd", None, "Hartford", "ct", "06101"),
     ("3 COURT CLINE RD", None, "CT", None, True)),
    (("12 Smith Ct, #5", None, "Hartford", "CT", "06101"),
     ("12 SMITH CT", "# 5", "CT", None, True)),
    (("8 oak ct", "Unit B", "Albany", "NY", "12207"), ("8 OAK CT", "UNIT B", "NY", None, True)),
    (("  350   Fifth  Avenue Suite 3400 ", None, "New York", "NY", "10118"),
     ("350 FIFTH AVE", "STE 3400", "NY", None, True)),
    (("5 W 34th St", "#12", "New York", "NY", "10001"), ("5 W 34TH ST", "# 12", "NY", None, True)),
    (("77 Massachusetts Ave", None, "Cambridge", "Massachusetts", "02139"),
     ("77 MASSACHUSETTS AVE", None, "MA", None, True)),
    # The CRF reads "Park Avenue" as the name here; the template check agrees with it.
    (("4 Park Avenue Court", None, "Fairfield", "NJ", "07004"),
     ("4 PARK AVENUE CT", None, "NJ", None, True)),
    # "West" is the street's name, not a directional: scourgify decides.
    (("2283 North West Drive", None, "Cedar Grove", "CA", "94353"),
     ("2283 NORTH WEST DR", None, "CA", None, False)),
    (("PO Box 77", None, "Boston", "MA", "02134"),
     ("PO BOX 77", None, "MA", "unparsed_address", False)),
    (("RR 2 Box 15", None, "Dover", "VT", "05356"),
     ("RR 2 BOX 15", None, "VT", "unparsed_address", False)),
    (("12 1/2 Main St", None, "Salem", "OR", "97301"), ("12 1/2 MAIN ST", None, "OR", None, False)),
    (("100 Highway 9 North", None, "Freehold", "NJ", "07728"),
     ("100 HWY 9 N", None, "NJ", None, False)),
    (("Apt 4", None, "Boston", "MA", "02134"), ("APT 4", None, "MA", "unparsed_address", False)),
    (("10 Main St", None, "Springfield", "IL", None),
     ("10 MAIN ST", None, "IL", "unparsed_address", False)),
]


def test_hand_made_addresses_exactly() -> None:
    rows = [row for row, _ in _HAND_MADE]
    out = normalize_addresses(*_columns(rows)).to_pylist()
    fast = _fast(rows)
    for (row, expected), got, took_fast in zip(_HAND_MADE, out, fast, strict=True):
        street, street2, state, error, vectorized = expected
        assert (got["street"], got["street2"], got["state"], got["error"]) == (
            street, street2, state, error), row
        assert got["city"] == row[2].upper(), row
        assert bool(took_fast) == vectorized, row
        assert got == _library(row), row


def test_stand_ins_are_in_use() -> None:
    """Without them every token stays literal: still correct, but far fewer shared templates."""
    words = model_words()
    assert words is not None
    assert {"street", "apt", "oak", "north"} <= words
    assert not {"qa", "qqq", "qaqq"} & words
    assert addresses._tables().known is not None


def test_without_stand_ins_results_stay_equal(monkeypatch: pytest.MonkeyPatch) -> None:
    literal = dataclasses.replace(addresses._tables(), known=None)
    monkeypatch.setattr(addresses, "_tables", lambda: literal)
    rows = generator_addresses(300, seed=5)
    assert _fast(rows).mean() >= 0.9
    out = normalize_addresses(*_columns(rows)).to_pylist()
    for row, got in zip(rows, out, strict=True):
        assert got == _library(row), row


_NAMES = [*geography.STREET_WORDS, *name_tables().last.to_pylist()[:300],
          "Park", "Court", "Box", "Po", "Rural", "Route", "Highway", "North", "West", "Apartment",
          "Suite", "Unit", "Lot", "Key", "Rear", "Front", "Main", "Broadway", "Street", "Avenue",
          "Mount", "Saint", "Ct", "Dr", "Hill", "Club", "Country", "Of", "The", "A", "Q", "Y",
          "Bay", "Lake", "View", "Center", "Plaza", "Camino", "El", "La", "Van", "New", "York",
          "Floor", "Room", "Bldg", "Attn", "Ne", "Sw", "E", "N", "Jr", "First", "1st", "5th",
          "21st", "Il", "Ca", "Ma", "Texas", "Ohio", "Virginia", "Md", "Me", "Or", "In"]
_SUFFIXES = [w for s in geography.STREET_SUFFIXES for w in s[:2]] + [
    "St.", "Ave.", "Av", "Pike", "Loop", "Square", "Sq", "Crossing", "Row", "Run", "Walk",
    "Expressway", "Hwy", "Rte", "Heights", "Point", "Creek", "Ctr", ""]
_DIRECTIONALS = ["", "N", "S.", "E", "W", "North", "South", "East", "West", "NE", "Nw", "S.E.",
                 "Northeast", "Southwest"]
_UNITS = ["Apt", "Apt.", "APT", "Apartment", "Unit", "Ste", "Suite", "#", "Rm", "Room", "Fl",
          "Floor", "Bldg", "Lot", "Trlr", "Spc", "Ofc", "Ph", "Key", "Rear", "Lowr", "Side"]
# Words the tagger's model has never seen stand in for each other: any length, vowels or not.
_UNKNOWN_WORDS = st.text("AEIOUYBCDFGHKLMNPQRSTVWXZaeioubcdkqxz", min_size=1, max_size=14)
_HOUSES = st.one_of(st.integers(0, 99_999).map(str),
                    st.sampled_from(["0", "00", "007", "10", "100", "1000", "10000", "12 1/2"]))


@st.composite
def _addresses(draw: st.DrawFn) -> Row:
    words = [draw(_HOUSES), draw(st.sampled_from(_DIRECTIONALS))]
    words += draw(st.lists(st.one_of(st.sampled_from(_NAMES), _UNKNOWN_WORDS), min_size=1,
                           max_size=3))
    words += [draw(st.sampled_from(_SUFFIXES)), draw(st.sampled_from(_DIRECTIONALS))]
    words = [w for w in words if w]
    gaps = draw(st.lists(st.sampled_from([" ", " ", " ", "  "]), min_size=len(words) - 1,
                         max_size=len(words) - 1))
    street = words[0] + "".join(g + w for g, w in zip(gaps, words[1:], strict=True))
    street2 = None
    if draw(st.booleans()):
        kind = draw(st.sampled_from(_UNITS))
        number = draw(st.one_of(st.integers(0, 999).map(str), st.sampled_from("ABQZ")))
        gap = draw(st.sampled_from(["", " "])) if kind == "#" else " "
        unit = kind + gap + number
        if draw(st.booleans()):
            street2 = unit
        else:
            street += draw(st.sampled_from([" ", ", ", " , "])) + unit
    if draw(st.integers(0, 20)) == 0:
        street = f" {street} "
    case = draw(st.sampled_from([str, str.upper, str.lower, str.title]))
    return (case(street), case(street2) if street2 else street2,
            draw(st.sampled_from(["Springfield", "st. louis", "FT WORTH", "Lake City"])),
            draw(st.sampled_from(["IL", "ma", "CT", "ct", "Connecticut", "Texas", "NY"])),
            draw(st.sampled_from(["62704", "02134", "021341234", "", "1234"])))


_OTHER_SHAPES = st.sampled_from([
    ("PO Box 12", None, "Boston", "MA", "02134"), ("RR 2 Box 15", None, "Dover", "VT", "05356"),
    ("100 Highway 9 North", None, "Freehold", "NJ", "07728"),
    ("12 Main St\tApt 4", None, "Salem", "OR", "97301"),
    ("12 Main St", " ", "Salem", "OR", "97301"),
    ("One Main Street", None, "Salem", "OR", "97301"),
    ("12-14 Main St", None, "Salem", "OR", "97301"),
])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_addresses(), _OTHER_SHAPES), min_size=1, max_size=12))
def test_vectorized_path_equals_scourgify(rows: list[Row]) -> None:
    out = normalize_addresses(*_columns(rows)).to_pylist()
    for row, got in zip(rows, out, strict=True):
        assert got == _library(row), row


def test_generator_addresses_take_the_vectorized_path_with_equal_results() -> None:
    rows = generator_addresses(5000, seed=3)
    assert len(rows) == 5000
    fast = _fast(rows)
    assert fast.mean() >= 0.9
    out = normalize_addresses(*_columns(rows)).to_pylist()
    for row, got in zip(rows, out, strict=True):
        assert got == _library(row), row
