"""Barcode columns: the Arrow path for digit forms gives exactly what the codec gives."""

from __future__ import annotations

import pyarrow as pa

import imb
from tasks.validation.barcodes import _one, decode_barcodes

CODE = "00270314159000000001"


def test_digit_forms_split_with_arrow_equal_the_codec() -> None:
    bars = imb.encode(CODE, "02134")
    damaged = bars[:10] + ("A" if bars[10] != "A" else "D") + bars[11:]
    values = [
        CODE, CODE + "02134", CODE + "021341234", CODE + "02134123401",  # every digit form
        " " + CODE, CODE + "0213412",  # whitespace around it; a wrong length
        "0057031415900000000102134123401",  # second digit out of range
        bars, damaged, "ADFT" * 16 + "A", "abc", "",
    ]
    got = decode_barcodes(pa.array(values, pa.string())).to_pylist()
    assert got == [_one(v) for v in values]


def test_excel_numbers_and_nulls() -> None:
    got = decode_barcodes(pa.array(["2.70271828e+19", None], pa.string())).to_pylist()
    assert [g["reason"] for g in got] == ["excel_number", None]
    assert [g["tracking"] for g in got] == [None, None]
