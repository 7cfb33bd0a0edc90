"""The old campaign tools' SQLite files through tasks.sources: every generated row by rowid,
the leads columns under their logical names (checked with sqlite3 and against the ground
truth), resume by rowid (gaps included), and the files and tables it refuses."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leadpipe import tenant as tenant_config
from sampledata.legacy import LegacyOptions, generate_legacy
from tasks.sources import SourceError, SqliteSource, open_source

ROWS = 3000
DEMO = tenant_config.load("demo")
LEADS_FIELDS = {"name": "full_name", "email": "email", "mobile": "phone", "street": "street",
                "city": "city", "st": "state", "postal": "zip", "added_on": "updated_at"}


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp("legacy_sqlite")
    summary = generate_legacy(LegacyOptions(rows=ROWS, seed=3, out=out, sources=("sqlite",)))
    return out, [f for f in summary["files"] if f["source"] == "sqlite"]


def _read_all(path: Path, **options: Any) -> pa.Table:
    return pa.Table.from_batches(open_source(str(path), DEMO).batches(**options))


def test_every_row_is_read_once_in_rowid_order(legacy):
    out, files = legacy
    truth = pq.read_table(out / "truth.parquet").to_pydict()
    assert len(files) >= 3
    assert sum(f["rows"] for f in files) == ROWS
    for entry in files:
        table = _read_all(out / entry["source_file"], batch_rows=400)
        keys = sorted(k for f, k in zip(truth["source_file"], truth["source_key"], strict=True)
                      if f == entry["source_file"])
        assert table.num_rows == entry["rows"] == len(keys)
        assert table["row_number"].to_pylist() == keys
        assert table["source_key"].to_pylist() == [str(k) for k in keys]


def test_columns_map_to_the_logical_fields(legacy):
    out, files = legacy
    path = out / files[0]["source_file"]
    table = _read_all(path).to_pylist()
    with sqlite3.connect(path) as connection:
        connection.row_factory = sqlite3.Row
        expected = [dict(r) for r in connection.execute("SELECT * FROM leads ORDER BY rowid")]
    for row, source in zip(table, expected, strict=True):
        for column, field in LEADS_FIELDS.items():
            assert row[field] == source[column]
        assert row["first_name"] is None and row["street2"] is None
        assert json.loads(row["raw"]) == source


def test_emails_agree_with_the_ground_truth(legacy):
    out, files = legacy
    people = {p["person_id"]: p for p in pq.read_table(out / "people.parquet").to_pylist()}
    person = {(t["source_file"], str(t["source_key"])): t["person_id"]
              for t in pq.read_table(out / "truth.parquet").to_pylist()}
    checked = 0
    for entry in files:
        for row in _read_all(out / entry["source_file"]).to_pylist():
            if row["email"] is not None:
                owner = person[(entry["source_file"], row["source_key"])]
                assert row["email"] == people[owner]["email"]
                checked += 1
    assert checked > ROWS / 2


@pytest.mark.parametrize("start_after", [0, 1, 249, 250, 251])
def test_resume_yields_exactly_the_rest(legacy, start_after):
    out, files = legacy
    path = out / files[0]["source_file"]
    batches = list(open_source(str(path), DEMO).batches(start_after=start_after,
                                                         batch_rows=250))
    assert all(b.num_rows == 250 for b in batches[:-1])
    assert pa.Table.from_batches(batches).equals(_read_all(path).slice(start_after))


def test_deleted_rows_leave_gaps_that_resume_respects(legacy, tmp_path):
    out, files = legacy
    path = tmp_path / "gaps.sqlite"
    shutil.copy(out / files[0]["source_file"], path)
    with sqlite3.connect(path) as connection:
        connection.execute("DELETE FROM leads WHERE rowid % 10 = 0 OR rowid BETWEEN 40 AND 60")
        kept = [r[0] for r in connection.execute("SELECT rowid FROM leads ORDER BY rowid")]
    source = open_source(str(path), DEMO)
    assert source.estimate() == kept[-1]
    numbers = [n for b in source.batches(batch_rows=33) for n in b["row_number"].to_pylist()]
    assert numbers == kept
    resumed = [n for b in source.batches(start_after=50) for n in b["row_number"].to_pylist()]
    assert resumed == [k for k in kept if k > 50]


def test_keys_below_one_are_read_too(tmp_path):
    path = tmp_path / "negative.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE leads (name)")
        connection.executemany("INSERT INTO leads (rowid, name) VALUES (?, ?)",
                               [(-5, "Ann"), (0, "Bob"), (3, "Cy")])
    assert _read_all(path)["row_number"].to_pylist() == [-5, 0, 3]


def test_cp1252_text_and_numbers_are_read_as_text(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE leads (name, email, mobile, postal, score)")
        # Text typed on a latin-1 system: stored as TEXT, not valid UTF-8.
        connection.execute("INSERT INTO leads VALUES (CAST(? AS TEXT), ?, ?, ?, ?)",
                           (b"Jos\xe9 Pe\xf1a", "jose@example.com", 5551234567, 2134, 1.5))
        connection.execute("INSERT INTO leads VALUES ('Ann Lee', NULL, '555', '02134', NULL)")
    rows = _read_all(path).to_pylist()
    assert [r["full_name"] for r in rows] == ["José Peña", "Ann Lee"]
    assert [r["phone"] for r in rows] == ["5551234567", "555"]
    assert [r["zip"] for r in rows] == ["2134", "02134"]
    assert json.loads(rows[0]["raw"])["score"] == "1.5"


def test_a_file_that_is_not_sqlite_names_the_file(tmp_path):
    path = tmp_path / "fake.sqlite"
    path.write_text("name,email\n")
    with pytest.raises(SourceError, match=rf"{path}: not a SQLite database"):
        open_source(str(path), DEMO)


def test_a_missing_table_lists_the_tables(tmp_path):
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE customers (name)")
    with pytest.raises(SourceError, match=rf"{path}: no table 'leads' \(tables: customers\)"):
        open_source(str(path), DEMO)
    assert open_source(str(path), DEMO, table="customers").table == "customers"


def test_a_table_without_person_columns_names_them(tmp_path):
    path = tmp_path / "orders.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE leads (order_id, sku)")
    with pytest.raises(SourceError, match=rf"{path}: no name, .*'order_id', 'sku'"):
        SqliteSource(path, DEMO.legacy.header_synonyms)
