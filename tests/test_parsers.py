"""Partner file readers: headers by name, every tolerance FORMATS.md asks for, raw rows kept."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import datetime

import pyarrow as pa
import pytest
from filemakers import xlsx_bytes

import imb
from leadpipe import tenant as tenant_config
from tasks.parsers import read_partner_file
from tasks.parsers.partner_files import FileFormatError

DEMO = tenant_config.load("demo")


def _read(partner: str, feed: str, data: bytes) -> list[dict]:
    cfg = getattr(DEMO.partners[partner], feed)
    return pa.Table.from_batches(list(read_partner_file(cfg.format, data, cfg))).to_pylist()


def test_m15_csv_with_bom_crlf_reordered_headers_and_a_latin1_line() -> None:
    header = "Zip,RecordID,Borrower,RecordingDate,PropertyAddress,City,State,County,LoanAmount," \
             "LoanType,Lender,Phone,PieceType,Version,CoBorrower,Extra"
    rows = [
        '2134,K1,Ann Lee,2026-11-20,1 Main St,Boston,MA,Suffolk,"$250,000",CONV,Bank,,LETTER,A,,x',
        "",
        "02139,K2,Jos\xe9 Pe\xf1a,2026-11-20,2 Elm St,Cambridge,MA,Middlesex,1,FHA,B,,POSTCARD,B,,",
    ]
    data = b"\xef\xbb\xbf" + "\r\n".join([header, rows[0], rows[1]]).encode() + b"\r\n" \
        + rows[2].encode("latin-1") + b"\r\n"
    out = _read("keystone", "mortgage", data)
    assert [(r["row_number"], r["record_id"], r["zip"], r["borrower"], r["encoding_repaired"])
            for r in out] == [(1, "K1", "2134", "Ann Lee", False),
                              (2, "K2", "02139", "José Peña", True)]
    assert out[0]["loan_amount"] == "$250,000"
    raw = json.loads(out[0]["raw"])
    assert raw["Extra"] == "x" and raw["RecordID"] == "K1" and len(raw) == 16


def test_m15_missing_header_is_a_file_error() -> None:
    with pytest.raises(FileFormatError, match="missing column\\(s\\): REC_NO"):
        _read("summit", "mortgage", b"BORROWER_NAME\nX\n")


def test_m32_by_header_with_excel_numbers_and_dates() -> None:
    cols = DEMO.partners["harbor"].mortgage.columns
    header = [*reversed(list(cols.values())), "APN"]
    bars = imb.encode("00270314159000000001", "02134")
    values = {"record_id": "L1", "zip": 2134, "barcode": bars,
              "recording_date": datetime(2026, 11, 20), "loan_amount": 250000.5}
    row = [values.get(field) for field in reversed(list(cols))] + ["123-45"]
    out = _read("harbor", "mortgage", xlsx_bytes("Sheet1", [header, row]))
    assert len(out) == 1
    got = out[0]
    assert (got["row_number"], got["record_id"], got["zip"], got["barcode"]) == (
        1, "L1", "2134", bars)
    assert (got["recording_date"], got["loan_amount"]) == ("2026-11-20", "250000.5")
    assert json.loads(got["raw"])["APN"] == "123-45"


def test_d2_sheet_and_a_code_that_became_a_number() -> None:
    data = xlsx_bytes("Delivered", [["Tracking Code", "Delivery Date", "ZIP"],
                               ["00270271828000000001", datetime(2026, 11, 23), "02134"],
                               [27027182800000000001, datetime(2026, 11, 23), 2134]])
    out = _read("keystone", "delivery", data)
    assert [(r["barcode"], r["event_date"], r["zip"]) for r in out] == [
        ("00270271828000000001", "2026-11-23", "02134"),
        ("2.70271828e+19", "2026-11-23", "2134"),
    ]


def test_d2_wrong_sheet_is_a_file_error() -> None:
    with pytest.raises(FileFormatError, match="no worksheet named 'Delivered'"):
        _read("keystone", "delivery", xlsx_bytes("Sheet1", [["Tracking Code"]]))


def test_d4_title_blank_then_header_on_row_3() -> None:
    data = xlsx_bytes("Sheet1", [["Pinecrest delivery confirmations"], [],
                            ["IMb Digits", "Date Delivered", "Status"],
                            ["0027014142100000000102134", "11/23/2026", "Delivered"]])
    out = _read("pinecrest", "delivery", data)
    assert [(r["row_number"], r["barcode"], r["event_date"], r["outcome"]) for r in out] == [
        (1, "0027014142100000000102134", "11/23/2026", "Delivered")]


def test_d1_positional_csv() -> None:
    out = _read("harbor", "delivery", b"0027031415900000000102134123401,20261123,02134,918\n")
    assert [(r["barcode"], r["event_date"], r["zip"]) for r in out] == [
        ("0027031415900000000102134123401", "20261123", "02134")]
    assert json.loads(out[0]["raw"])["op_code"] == "918"


def test_d3_fixed_width_in_a_zip() -> None:
    bars = imb.encode("00270161803000000001", "02134")
    lines = [f"{bars}20261123021341234DL", f"{bars}2026112402134    UD"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("DELIV_20261124.txt", "\r\n".join(lines) + "\r\n")
    out = _read("summit", "delivery", buffer.getvalue())
    assert [(r["barcode"], r["event_date"], r["zip"], r["outcome"]) for r in out] == [
        (bars, "20261123", "02134", "DL"), (bars, "20261124", "02134", "UD")]


def test_m15_ragged_row_after_the_first_arrow_block_reads_like_the_csv_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Arrow streams the first blocks, fails on the ragged row's block, and the csv
    # module goes on from the first row Arrow did not give: same rows as all-Python.
    from tasks.parsers import partner_files

    header = "RecordID,Borrower,PropertyAddress,City,State,Zip,RecordingDate,Phone,PieceType," \
             "Version,CoBorrower,County,LoanAmount,LoanType,Lender"
    row = "K{n},Ann Lee,{n} Main St,Boston,MA,02134,2026-11-20,,LETTER,A,,\"Suffolk, MA\",1,VA,B"
    lines = [header] + [row.format(n=n) for n in range(150_000)]
    lines[140_000] += ",extra"
    lines.insert(30_000, "")
    data = ("\n".join(lines) + "\n").encode()
    arrow = partner_files._arrow_csv_chunks
    given = []

    def counted(*args: object, **kwargs: object) -> Iterator:
        for chunk in arrow(*args, **kwargs):  # type: ignore[arg-type]
            given.append(len(chunk[1]))
            yield chunk

    monkeypatch.setattr(partner_files, "_arrow_csv_chunks", counted)
    streamed = _read("keystone", "mortgage", data)
    assert 0 < sum(given) < 140_000

    def no_arrow(*args: object, **kwargs: object) -> Iterator:
        raise pa.ArrowInvalid("ragged")
        yield

    monkeypatch.setattr(partner_files, "_arrow_csv_chunks", no_arrow)
    assert streamed == _read("keystone", "mortgage", data)
    assert len(streamed) == 150_000 and streamed[-1]["row_number"] == 150_000
    assert json.loads(streamed[139_999]["raw"])["column_16"] == "extra"
