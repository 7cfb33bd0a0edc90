"""Partner-day sample data: files read back with independent readers match FORMATS.md and the
tenant file field by field, every defect class is planted at the configured rate and
labelled, and the manifest's expectations follow the pipeline's rules."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import phonenumbers
import pytest
from typer.testing import CliRunner

import imb
from leadpipe import tenant as tenant_config
from leadpipe.tenant import M32_EXTRA_FIELDS, MORTGAGE_FIELDS
from sampledata import formats
from sampledata.cli import app
from sampledata.defects import DEFECTS, FILE, max_rate
from sampledata.manifest import PIECES_TABLE, ROWS_TABLE, load_manifest, read_pieces, read_rows
from sampledata.partner_day import (
    PREWINDOW_SERIAL,
    PartnerDayOptions,
    column_order,
    generate_partner_days,
    sends_deliveries,
)

RATE = 0.1
TENANT = tenant_config.load("demo")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """Five weekdays of 200 pieces at a 10% defect rate (every class several times)."""
    out = tmp_path_factory.mktemp("partner_days")
    generate_partner_days(PartnerDayOptions(day=date(2024, 1, 8), pieces=200, seed=5, out=out,
                                            days=5, defect_rate=RATE))
    return out, load_manifest(out)


def _rows_by_file(manifest: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each file's manifest rows; a re-sent copy maps to its original's (same bytes)."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for row in manifest["rows"]:
        rows.setdefault(row["file"], []).append(row)
    for entry in manifest["files"]:
        if entry["resend_of"]:
            assert all(r["expect"] == "untouched" for r in rows.get(entry["name"], []))
            assert len(rows.get(entry["name"], [])) == entry["rows"]
            rows[entry["name"]] = rows.get(entry["resend_of"], [])
    return rows


def _text_lines(data: bytes) -> list[str]:
    """Lines of a text file, each decoded as UTF-8 or (failing that) latin-1."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    return [line.decode("utf-8") if _is_utf8(line) else line.decode("latin-1")
            for line in data.splitlines()]


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _sheet_rows(data: bytes, sheet: str | None = None) -> tuple[list[str], list[tuple]]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    assert len(book.sheetnames) == 1
    if sheet is not None:
        assert book.sheetnames == [sheet]
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    book.close()
    return book.sheetnames, rows


def test_every_file_is_named_by_its_partner_pattern_and_hashed(run):
    out, manifest = run
    names = sorted(p.name for p in out.iterdir() if p.is_file() and p.name != "manifest.json")
    assert names == sorted(f["name"] for f in manifest["files"])
    for entry in manifest["files"]:
        data = (out / entry["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert TENANT.partner_for_file(entry["name"]) == (entry["partner"], entry["kind"])
        partner = TENANT.partners[entry["partner"]]
        feed = partner.mortgage if entry["kind"] == "mortgage" else partner.delivery
        assert entry["format"] == feed.format
    days = {f["day"] for f in manifest["files"]}
    assert days == {d.isoformat() for d in (date(2024, 1, 8 + i) for i in range(5))}


def test_rows_and_pieces_are_tables_beside_manifest_json(run):
    out, manifest = run
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert on_disk == {f["name"] for f in manifest["files"]} | {"manifest.json", ROWS_TABLE,
                                                                PIECES_TABLE}
    stored = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert stored["tables"] == {"rows": ROWS_TABLE, "pieces": PIECES_TABLE}
    assert "rows" not in stored and "pieces" not in stored
    rows = read_rows(out)
    assert rows.num_rows == len(manifest["rows"]) == sum(f["rows"] for f in manifest["files"])
    expects = Counter(rows["expect"].to_pylist())
    assert expects == {k: n for k, n in manifest["summary"]["expect"].items() if n}
    assert read_pieces(out).num_rows == len(manifest["pieces"])
    kinds = {f["name"]: f["kind"] for f in manifest["files"]}
    mortgage_keys, delivery_keys = {"mailed_on", "borrower", "zip5", "phone_e164"}, \
        {"piece_partner", "status", "delivered_on"}
    for row in manifest["rows"]:
        mortgage = kinds[row["file"]] == "mortgage"
        assert mortgage_keys <= row.keys() if mortgage else delivery_keys <= row.keys()
        assert not (delivery_keys if mortgage else mortgage_keys) & row.keys()
        assert all(isinstance(w, dict) and "reason" not in w for w in row["warnings"])


def test_every_weekday_brings_the_expected_files(run):
    _, manifest = run
    for offset in range(5):
        day = date(2024, 1, 8 + offset)
        originals = [f for f in manifest["files"]
                     if f["day"] == day.isoformat() and f["resend_of"] is None]
        kinds = Counter(f["kind"] for f in originals)
        senders = sum(sends_deliveries(p.delivery.format, day) for p in TENANT.partners.values())
        assert kinds == {"mortgage": 4, "delivery": senders}
        assert senders in (2, 4)


def test_m15_files_have_the_partners_headers_order_dates_and_rows(run):
    out, manifest = run
    rows_by_file = _rows_by_file(manifest)
    for entry in (f for f in manifest["files"] if f["format"] == "M15"):
        feed = TENANT.partners[entry["partner"]].mortgage
        lines = _text_lines((out / entry["name"]).read_bytes())
        table = list(csv.reader(lines))
        header, body = table[0], table[1:]
        assert header == [feed.columns[f] for f in column_order(entry["partner"])]
        assert len(body) == entry["rows"] == len(rows_by_file[entry["name"]])
        column = {field: header.index(feed.columns[field]) for field in MORTGAGE_FIELDS}
        for cells, expected in zip(body, rows_by_file[entry["name"]], strict=True):
            assert len(cells) == 15
            datetime.strptime(cells[column["recording_date"]], feed.date_format)
            if expected["expect"] == "loaded":
                assert cells[column["record_id"]] == expected["record_id"]
                assert cells[column["zip"]].replace("-", "")[:5].zfill(5) == expected["zip5"]
                name = cells[column["borrower"]].upper()
                for part in ("first", "last", "suffix"):
                    if expected["borrower"][part]:
                        assert expected["borrower"][part].upper() in name
                assert cells[column["mail_piece_type"]] in ("LETTER", "POSTCARD", "SELFMAILER")
                assert cells[column["mailer_version"]] in ("A", "B")
                assert cells[column["loan_type"]] in ("CONV", "FHA", "VA", "USDA")
                assert re.fullmatch(r"\$?[\d,]+(\.\d\d)?", cells[column["loan_amount"]])


def test_m32_sheets_have_32_columns_found_by_header_with_excel_dates_and_bars(run):
    out, manifest = run
    rows_by_file = _rows_by_file(manifest)
    feed = TENANT.partners["harbor"].mortgage
    expected_header = {feed.columns[f] for f in (*MORTGAGE_FIELDS, *M32_EXTRA_FIELDS)}
    expected_header |= set(formats.M32_EXTRA_COLUMNS)
    orders = set()
    for entry in (f for f in manifest["files"] if f["format"] == "M32"):
        _, rows = _sheet_rows((out / entry["name"]).read_bytes())
        header, body = list(rows[0]), rows[1:]
        assert len(header) == 32 and set(header) == expected_header
        orders.add(tuple(header))
        assert len(body) == entry["rows"]
        at = {name: header.index(name) for name in header}
        for cells, expected in zip(body, rows_by_file[entry["name"]], strict=True):
            assert isinstance(cells[at["RECORDING DATE"]], datetime)
            assert cells[at["MAIL DATE"]] == datetime.fromisoformat(entry["day"])
            assert isinstance(cells[at["LOAN AMOUNT"]], int | float)
            bars = cells[at["IMB"]]
            if expected["expect"] == "loaded":
                assert imb.canonical(bars, repair=True) == expected["tracking_code"]
                assert cells[at["BORROWER 1 FULL NAME"]] == cells[at["BORROWER 1 FULL NAME"]]\
                    .upper()
            elif expected["error"]["error_type"] == "BARCODE_INVALID":
                with pytest.raises(imb.ImbError) as caught:
                    imb.canonical(bars, repair=True)
                assert caught.value.reason == expected["error"]["reason"]
    assert len(orders) > 1, "column order changes from day to day"


def _delivery_codes(out: Path, entry: dict[str, Any]) -> list[tuple[Any, str, str | None]]:
    """(barcode cell, date text or value, status) of each data row, per format."""
    data = (out / entry["name"]).read_bytes()
    fmt = entry["format"]
    if fmt == "D1":
        rows = list(csv.reader(_text_lines(data)))
        assert all(len(r) == len(formats.D1_COLUMNS) for r in rows)
        assert all(re.fullmatch(r"\d{5}", r[2]) and r[3].isdigit() for r in rows)
        return [(r[0], r[1], "delivered") for r in rows]
    if fmt == "D2":
        _, rows = _sheet_rows(data, formats.D2_SHEET)
        assert rows[0] == formats.D2_HEADERS if rows else True
        return [(r[0], r[1], "delivered") for r in rows[1:]]
    if fmt == "D3":
        archive = zipfile.ZipFile(io.BytesIO(data))
        day = date.fromisoformat(entry["day"])
        assert archive.namelist() == [f"DELIV_{day:%Y%m%d}.txt"]
        lines = archive.read(archive.namelist()[0]).decode("ascii").splitlines()
        result = []
        for line in lines:
            assert len(line) == 84
            bars, when, zip5, zip4, status = line[0:65], line[65:73], line[73:78], \
                line[78:82], line[82:84]
            assert re.fullmatch(r"\d{5}", zip5) and re.fullmatch(r"\d{4}| {4}", zip4)
            assert status in ("DL", "UD")
            result.append((bars.strip(), when, "delivered" if status == "DL"
                           else "undeliverable"))
        return result
    _, rows = _sheet_rows(data, formats.D4_SHEET)
    assert isinstance(rows[0][0], str) and rows[0][0]
    assert all(value is None for value in rows[1]) if len(rows) > 1 else True
    assert rows[2] == formats.D4_HEADERS
    status = {"Delivered": "delivered", "Undeliverable": "undeliverable"}
    return [(r[0], r[1], status[r[2]]) for r in rows[3:]]


def test_delivery_files_follow_their_layouts_and_name_the_manifest_pieces(run):
    out, manifest = run
    rows_by_file = _rows_by_file(manifest)
    seen = set()
    for entry in (f for f in manifest["files"] if f["kind"] == "delivery"):
        seen.add(entry["format"])
        cells = _delivery_codes(out, entry)
        expected_rows = rows_by_file.get(entry["name"], [])
        assert len(cells) == entry["rows"] == len(expected_rows)
        for (code, when, status), expected in zip(cells, expected_rows, strict=True):
            assert status == expected["status"]
            day = date.fromisoformat(expected["delivered_on"])
            if entry["format"] == "D2":
                assert when == datetime(day.year, day.month, day.day)
            else:
                fmt = formats.D4_DATE if entry["format"] == "D4" else "%Y%m%d"
                assert when == day.strftime(fmt)
            if "excel_number" in expected["defects"]:
                assert isinstance(code, float)
                continue
            if entry["format"] in ("D1", "D4"):
                assert re.fullmatch(r"\d{31}", code) and code[:20] == expected["tracking_code"]
            elif entry["format"] == "D2":
                assert re.fullmatch(r"\d{20}", code) and code == expected["tracking_code"]
            elif expected["error"] is None:
                assert imb.canonical(code, repair=True) == expected["tracking_code"]
    assert seen == {"D1", "D2", "D3", "D4"}


def test_every_defect_class_appears_at_the_configured_rate_and_is_labelled(run):
    _, manifest = run
    summary = manifest["summary"]["defects"]
    assert manifest["defect_rate"] == RATE
    for defect in DEFECTS:
        entry = summary[defect.label]
        assert entry["count"] > 0, defect.label
        counted = sum(defect.label in r["defects"] for r in manifest["rows"]) + \
            sum(defect.label in f["defects"] for f in manifest["files"])
        assert counted == entry["count"]
        tolerance = 1.5 / entry["eligible"] if defect.scope == FILE else 0.02
        assert abs(entry["rate"] - RATE) <= tolerance + 1e-9, (defect.label, entry)


def test_defects_have_the_labelled_effect(run):
    out, manifest = run
    files = {f["name"]: f for f in manifest["files"]}
    for row in manifest["rows"]:
        labels = row["defects"]
        if "missing_required" in labels:
            assert row["expect"] == "rejected"
            assert row["error"]["error_type"] == "MISSING_REQUIRED"
            assert row["error"]["field_name"] in tenant_config.MORTGAGE_REQUIRED
        if {"bars_undecodable", "bars_crc_damaged"} & set(labels):
            assert row["expect"] == "rejected"
            assert row["error"]["error_type"] == "BARCODE_INVALID"
        if "bars_crc_damaged" in labels:
            assert row["error"]["reason"] == "crc"
        if "bars_repairable" in labels:
            assert row["expect"] != "rejected"
            assert {"error_type": "BARCODE_REPAIRED", "field_name": "barcode"} in row["warnings"]
        if "excel_number" in labels:
            assert row["error"] == {"error_type": "BARCODE_EXCEL_NUMBER", "field_name": "barcode"}
        if {"second_confirmation", "other_partner_piece"} & set(labels):
            assert row["expect"] == "ignored"
        if "other_partner_piece" in labels:
            assert row["piece_partner"] != row["partner"]
        if "zip_leading_zero_lost" in labels:
            assert row["zip5"].startswith("0") and row["expect"] == "loaded"
        if "name_suffix" in labels:
            assert row["borrower"]["suffix"] in ("Jr", "Sr", "II", "III")
    for entry in manifest["files"]:
        data = (out / entry["name"]).read_bytes()
        if entry["format"] == "D3":
            archive = zipfile.ZipFile(io.BytesIO(data))
            data = archive.read(archive.namelist()[0])
        if "bom" in entry["defects"]:
            assert data.startswith(b"\xef\xbb\xbf")
        elif entry["format"] in ("M15", "D1"):
            assert not data.startswith(b"\xef\xbb\xbf")
        if entry["format"] in ("M15", "D1", "D3") and entry["resend_of"] is None and data:
            assert (b"\r\n" in data) == ("crlf" in entry["defects"])
            assert data.count(b"\n") == entry["rows"] + (entry["format"] == "M15")
        if entry["resend_of"]:
            original = files[entry["resend_of"]]
            assert entry["sha256"] == original["sha256"] and entry["name"] != original["name"]
            assert "resent_renamed" in original["defects"]


def test_latin1_rows_are_latin1_bytes_in_an_otherwise_utf8_file(run):
    out, manifest = run
    rows_by_file = _rows_by_file(manifest)
    checked = 0
    for entry in (f for f in manifest["files"] if f["format"] == "M15" and not f["resend_of"]):
        lines = (out / entry["name"]).read_bytes().removeprefix(b"\xef\xbb\xbf").splitlines()
        for line, row in zip(lines[1:], rows_by_file[entry["name"]], strict=True):
            if "latin1_bytes" in row["defects"]:
                assert not _is_utf8(line)
                assert row["borrower"]["last"].upper().encode("latin-1") in line.upper() or \
                    row["borrower"]["last"].encode("latin-1") in line
                checked += 1
            else:
                assert _is_utf8(line)
    assert checked == manifest["summary"]["defects"]["latin1_bytes"]["count"]


def test_phones_are_valid_except_the_planted_malformed_ones(run):
    _, manifest = run
    for row in manifest["rows"]:
        if row.get("phone_e164"):
            assert phonenumbers.is_valid_number(phonenumbers.parse(row["phone_e164"]))
    for row in manifest["rows"]:
        if "phone_malformed" in row["defects"]:
            assert row["phone_e164"] is None
            assert {"error_type": "PHONE_INVALID", "field_name": "phone"} in row["warnings"]


def test_m15_tracking_codes_follow_the_documented_sequence_rule(run):
    _, manifest = run
    rows_by_file = _rows_by_file(manifest)
    serial: Counter[str] = Counter()
    for entry in manifest["files"]:
        if entry["format"] != "M15" or entry["resend_of"]:
            continue
        mailer = TENANT.partners[entry["partner"]].mailer_id
        for row in rows_by_file[entry["name"]]:
            if row["expect"] == "loaded":
                serial[mailer] += 1
                assert row["tracking_code"] == f"00270{mailer}{serial[mailer]:09d}"
            else:
                assert row["tracking_code"] is None


def test_confirmations_follow_first_wins_and_refer_back_to_earlier_pieces(run):
    _, manifest = run
    loaded = {r["tracking_code"]: r for r in manifest["rows"] if r["expect"] == "loaded"}
    file_day = {f["name"]: f["day"] for f in manifest["files"]}
    state: dict[str, str] = {}
    for row in manifest["rows"]:
        if row["expect"] in ("delivered", "undeliverable"):
            piece = loaded[row["tracking_code"]]
            assert piece["partner"] == row["partner"]
            assert piece["mailed_on"] < row["delivered_on"] < file_day[row["file"]]
            assert row["tracking_code"] not in state, "only the first confirmation applies"
            state[row["tracking_code"]] = row["delivered_on"]
        if row["expect"] == "ignored" and row["partner"] == row["piece_partner"] \
                and row["tracking_code"] in loaded:
            assert row["tracking_code"] in state
    pieces = {p["tracking_code"]: p for p in manifest["pieces"]}
    assert set(pieces) == set(loaded)
    for code, piece in pieces.items():
        assert (piece["delivered_on"] is not None) == (piece["status"] != "mailed")
        if code in state:
            assert piece["delivered_on"] == state[code]
    assert sum(p["status"] == "delivered" for p in manifest["pieces"]) > 50
    unknown = [r for r in manifest["rows"] if {"error_type": "PIECE_UNKNOWN",
                                              "field_name": "barcode"} in r["warnings"]]
    assert all(r["tracking_code"] not in loaded for r in unknown)
    assert any(int(r["tracking_code"][11:]) > PREWINDOW_SERIAL for r in unknown)


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file()}


def test_same_seed_same_bytes(tmp_path):
    def generate(name: str, seed: int) -> dict[str, str]:
        generate_partner_days(PartnerDayOptions(day=date(2024, 3, 4), pieces=40, seed=seed,
                                                out=tmp_path / name, days=2, defect_rate=0.1))
        return _hashes(tmp_path / name)

    first, again, other = generate("a", 9), generate("b", 9), generate("c", 10)
    assert first == again
    assert first["manifest.json"] != other["manifest.json"]


def test_cli_writes_a_day_and_refuses_a_rate_too_high(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["partner-day", "--date", "2024-01-09", "--pieces", "20",
                                 "--seed", "3", "--out", str(tmp_path / "day")])
    assert result.exit_code == 0, result.output
    assert "manifest.json" in result.output
    manifest = load_manifest(tmp_path / "day")
    assert manifest["days"] == ["2024-01-09"]
    assert sum(r["expect"] == "loaded" for r in manifest["rows"]) >= 18
    result = runner.invoke(app, ["partner-day", "--date", "2024-01-09", "--out",
                                 str(tmp_path / "x"), "--defect-rate", str(max_rate() + 0.01)])
    assert result.exit_code != 0
