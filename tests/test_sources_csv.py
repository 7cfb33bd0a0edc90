"""Campaign CSVs through tasks.sources: every generated row, in file order, with the fields the
generator meant for each header; values as written (checked with Python's csv module and
against the ground truth); resume; byte-order mark, CRLF, cp1252 bytes and blank rows."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leadpipe import tenant as tenant_config
from sampledata.legacy import LegacyOptions, generate_legacy
from tasks.sources import LOGICAL_FIELDS, CsvSource, SourceError, open_source

ROWS = 3000
SEED = 9  # four files: full and first/last names, one and two address lines, four date styles
DEMO = tenant_config.load("demo")
DATE_STYLES = {"iso": "%Y-%m-%d %H:%M:%S", "iso_t": "%Y-%m-%dT%H:%M:%SZ", "date": "%Y-%m-%d",
               "us_date": "%m/%d/%Y", "us_datetime": "%m/%d/%Y %H:%M"}


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp("legacy_csv")
    summary = generate_legacy(LegacyOptions(rows=ROWS, seed=SEED, out=out, sources=("csv",)))
    return out, [f for f in summary["files"] if f["source"] == "csv"]


def _read_all(path: Path, **options: Any) -> pa.Table:
    return pa.Table.from_batches(open_source(str(path), DEMO).batches(**options))


def _independent_rows(path: Path) -> list[dict[str, str | None]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [{k: (v if v != "" else None) for k, v in row.items()}
                for row in csv.DictReader(handle)]


def test_the_generated_files_cover_the_layouts(legacy):
    _, files = legacy
    assert {f["fields"][0] for f in files} == {"full_name", "first_name"}
    assert any("street2" in f["fields"] for f in files)
    assert len({f["date_style"] for f in files}) >= 3
    assert len({h for f in files for h in f["headers"]}) > 20


def test_every_row_is_read_once_in_file_order(legacy):
    out, files = legacy
    truth = pq.read_table(out / "truth.parquet").to_pydict()
    assert sum(f["rows"] for f in files) == ROWS
    for entry in files:
        table = _read_all(out / entry["source_file"])
        keys = [k for f, k in zip(truth["source_file"], truth["source_key"], strict=True)
                if f == entry["source_file"]]
        assert table.num_rows == entry["rows"] == len(keys)
        assert table["row_number"].to_pylist() == list(range(1, entry["rows"] + 1))
        assert table["source_key"].to_pylist() == [str(k) for k in sorted(keys)]


def test_fields_follow_the_headers_the_generator_chose(legacy):
    out, files = legacy
    for entry in files:
        path = out / entry["source_file"]
        table = _read_all(path).to_pylist()
        expected = _independent_rows(path)
        mapping = dict(zip(entry["fields"], entry["headers"], strict=True))
        for number in range(0, entry["rows"], 7):
            row, source = table[number], expected[number]
            for field in LOGICAL_FIELDS:
                want = source[mapping[field]] if field in mapping else None
                assert row[field] == want, (entry["source_file"], number + 1, field)
            assert json.loads(row["raw"]) == source


def test_emails_and_dates_agree_with_the_ground_truth(legacy):
    out, files = legacy
    truth = pq.read_table(out / "truth.parquet").to_pylist()
    people = {p["person_id"]: p for p in pq.read_table(out / "people.parquet").to_pylist()}
    by_key = {(t["source_file"], str(t["source_key"])): t for t in truth}
    emails = 0
    for entry in files:
        style = DATE_STYLES[entry["date_style"]]
        for row in _read_all(out / entry["source_file"]).to_pylist():
            record = by_key[(entry["source_file"], row["source_key"])]
            assert row["updated_at"] == record["updated_at"].strftime(style)
            if row["email"] is not None:
                assert row["email"] == people[record["person_id"]]["email"]
                emails += 1
    assert emails > ROWS / 2


@pytest.mark.parametrize("start_after", [0, 1, 99, 100, 101, 500])
def test_resume_yields_exactly_the_rest(legacy, start_after):
    out, files = legacy
    entry = files[0]
    batches = list(open_source(str(out / entry["source_file"]), DEMO).batches(
        start_after=start_after, batch_rows=100))
    numbers = [n for b in batches for n in b.column("row_number").to_pylist()]
    assert numbers == list(range(start_after + 1, entry["rows"] + 1))
    assert all(b.num_rows == 100 for b in batches[:-1])
    whole = _read_all(out / entry["source_file"]).slice(start_after)
    assert pa.Table.from_batches(batches).equals(whole)


def test_resume_after_the_end_yields_nothing(legacy):
    out, files = legacy
    source = open_source(str(out / files[0]["source_file"]), DEMO)
    assert list(source.batches(start_after=files[0]["rows"])) == []


def test_estimate_is_close(legacy):
    out, files = legacy
    for entry in files:
        estimate = CsvSource(out / entry["source_file"], DEMO.legacy.header_synonyms).estimate()
        assert estimate is not None
        assert abs(estimate - entry["rows"]) <= 0.2 * entry["rows"]


def test_bom_crlf_cp1252_quoted_newlines_and_blank_rows(tmp_path):
    path = tmp_path / "messy.csv"
    path.write_bytes(
        b"\xef\xbb\xbf FNAME ,LAST NAME,\" E-mail \",Notes\r\n"
        b"Jos\xe9,Pe\xf1a,jose@example.com,caf\xc3\xa9\r\n"
        b"\r\n"
        b",,,\r\n"
        b"\"Ann\",\"Lee\",\"\",\"two\r\nlines, \"\"quoted\"\"\"\r\n"
        b"Bob,Ray,bob@example.com,\r\n")
    table = _read_all(path).to_pylist()
    assert [r["row_number"] for r in table] == [1, 2, 3]
    assert [r["first_name"] for r in table] == ["José", "Ann", "Bob"]
    assert table[0]["last_name"] == "Peña"
    assert [r["email"] for r in table] == ["jose@example.com", None, "bob@example.com"]
    assert json.loads(table[0]["raw"]) == {
        "FNAME": "José", "LAST NAME": "Peña", "E-mail": "jose@example.com", "Notes": "café"}
    assert json.loads(table[1]["raw"])["Notes"] == 'two\r\nlines, "quoted"'


def test_a_row_with_the_wrong_number_of_fields_names_the_file(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("Name,Email\nAnn Lee,ann@example.com\nBob,bob@example.com,extra\n")
    with pytest.raises(SourceError, match=rf"{path}: .*Expected 2 columns, got 3"):
        list(open_source(str(path), DEMO).batches())


def test_an_empty_file_has_no_header(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"\xef\xbb\xbf\r\n")
    with pytest.raises(SourceError, match=rf"{path}: no header"):
        open_source(str(path), DEMO)


def test_a_header_only_file_has_no_rows(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("Name,Email\n")
    assert list(open_source(str(path), DEMO).batches()) == []
