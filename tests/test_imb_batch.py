"""``imb.canonical_array``: the column API used by ingestion."""

from __future__ import annotations

import pyarrow as pa
import pytest

import imb

TRACKING = "01234567094987654321"
BARS = "AADTFFDFTDADTAADAATFDTDDAAADDTDTTDAFADADDDTFFFDDTTTADFAAADFTDAADA"
DAMAGED = BARS[:17] + ("A" if BARS[17] != "A" else "T") + BARS[18:]

MIXED = [
    TRACKING,
    TRACKING + "01234567891",
    BARS,
    BARS.lower(),
    f"  {TRACKING}\n",
    None,
    "",
    "0523456709498765432101234",
    "0123456709498765432",
    "not a barcode",
    "T" * 65,
    DAMAGED,
    "０１２３４５６７０９４９８７６５４３２１",
]
EXPECTED_CODES = [TRACKING] * 5 + [None] * 8
EXPECTED_REASONS = [None] * 6 + [
    "length",
    "barcode_id",
    "length",
    "characters",
    "character",
    "character",
    "characters",
]


def test_mixed_column():
    codes, reasons = imb.canonical_array(MIXED)
    assert codes.type == reasons.type == pa.string()
    assert isinstance(codes, pa.StringArray)
    assert isinstance(reasons, pa.StringArray)
    assert codes.to_pylist() == EXPECTED_CODES
    assert reasons.to_pylist() == EXPECTED_REASONS


def test_repair_mode_marks_repaired_rows():
    codes, reasons = imb.canonical_array(MIXED, repair=True)
    assert codes.to_pylist() == [*EXPECTED_CODES[:11], TRACKING, None]
    assert reasons.to_pylist() == [*EXPECTED_REASONS[:11], "repaired", "characters"]


@pytest.mark.parametrize(
    "make",
    [
        lambda values: pa.array(values, pa.string()),
        lambda values: pa.array(values, pa.large_string()),
        lambda values: pa.array(values, pa.string_view()),
        lambda values: pa.chunked_array([values[:4], values[4:9], [], values[9:]], pa.string()),
    ],
    ids=["string", "large_string", "string_view", "chunked"],
)
def test_arrow_inputs(make):
    codes, reasons = imb.canonical_array(make(MIXED))
    assert isinstance(codes, pa.StringArray)
    assert codes.to_pylist() == EXPECTED_CODES
    assert reasons.to_pylist() == EXPECTED_REASONS


def test_sliced_array_input():
    codes, reasons = imb.canonical_array(pa.array(MIXED)[2:8])
    assert codes.to_pylist() == EXPECTED_CODES[2:8]
    assert reasons.to_pylist() == EXPECTED_REASONS[2:8]


@pytest.mark.parametrize(
    "values",
    [[], pa.array([], pa.string()), pa.chunked_array([], pa.string()), [None, None]],
    ids=["list", "array", "chunked", "nulls"],
)
def test_empty_and_all_null(values):
    codes, reasons = imb.canonical_array(values)
    assert codes.type == reasons.type == pa.string()
    assert codes.null_count == reasons.null_count == len(codes) == len(values)


def test_null_typed_array():
    codes, reasons = imb.canonical_array(pa.nulls(3))
    assert codes.to_pylist() == reasons.to_pylist() == [None] * 3


def test_all_fast_path_rows():
    codes, reasons = imb.canonical_array([TRACKING, TRACKING + "01234"])
    assert codes.to_pylist() == [TRACKING, TRACKING]
    assert reasons.null_count == 2


def test_rejects_non_string_arrays():
    with pytest.raises(TypeError):
        imb.canonical_array(pa.array([1, 2, 3]))


def test_unencodable_strings_are_rows_not_failures():
    codes, reasons = imb.canonical_array([TRACKING, "\ud800", None])
    assert codes.to_pylist() == [TRACKING, None, None]
    assert reasons.to_pylist() == [None, "characters", None]
