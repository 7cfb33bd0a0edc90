"""Legacy person sources: every shape of FORMATS.md section 6 reads back with an independent
reader, truth.parquet maps every record to its true person, and the population has the
duplicates, households and namesakes (at their configured rates) that make matching hard."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pymysql
import pytest
from typer.testing import CliRunner

from leadpipe import tenant as tenant_config
from sampledata.cli import app
from sampledata.legacy import LegacyOptions, generate_legacy
from sampledata.sources import CONTACTS_COLUMNS
from sampledata.variation import VARIATIONS

ROWS = 6000
SYNONYMS = tenant_config.load("demo").legacy.header_synonyms


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """6,000 records in SQLite, CSV and dump form (no MySQL)."""
    out = tmp_path_factory.mktemp("legacy")
    summary = generate_legacy(LegacyOptions(rows=ROWS, seed=11, out=out, batch_rows=2500))
    return out, summary


def _truth(out: Path) -> dict[str, list[Any]]:
    return pq.read_table(out / "truth.parquet").to_pydict()


def _people(out: Path) -> dict[int, dict[str, Any]]:
    table = pq.read_table(out / "people.parquet").to_pylist()
    return {p["person_id"]: p for p in table}


def _csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def _dump_rows(path: Path) -> int:
    text = path.read_text(encoding="utf-8")
    inserts = [line for line in text.splitlines() if line.startswith("INSERT INTO `contacts`")]
    return sum(len(re.findall(r"\((\d+),", line)) for line in inserts)


def test_summary_counts_every_record_once(legacy):
    out, summary = legacy
    assert sum(f["rows"] for f in summary["files"]) == ROWS
    assert {f["source"] for f in summary["files"]} == {"sqlite", "csv", "sql_dump"}
    assert json.loads((out / "legacy.json").read_text()) == json.loads(json.dumps(summary))


def test_sqlite_files_hold_the_leads_table(legacy):
    out, summary = legacy
    files = [f for f in summary["files"] if f["source"] == "sqlite"]
    assert len(files) >= 3
    for entry in files:
        with sqlite3.connect(out / entry["source_file"]) as connection:
            columns = [row[1] for row in connection.execute("PRAGMA table_info(leads)")]
            assert columns == ["name", "email", "mobile", "street", "city", "st", "postal",
                               "added_on"]
            rows = connection.execute("SELECT rowid, * FROM leads ORDER BY rowid").fetchall()
        assert [r[0] for r in rows] == list(range(1, entry["rows"] + 1))
        for row in rows:
            assert row[1] and row[4] and row[6]
            assert re.fullmatch(r"\d{5}(-?\d{4})?", row[7])
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row[8])


def test_campaign_csvs_use_the_tenants_header_synonyms(legacy):
    out, summary = legacy
    files = [f for f in summary["files"] if f["source"] == "csv"]
    assert len(files) >= 4
    headers = set()
    for entry in files:
        header, rows = _csv_rows(out / entry["source_file"])
        assert header == entry["headers"]
        headers.add(tuple(header))
        for field, heading in zip(entry["fields"], header, strict=True):
            assert heading in SYNONYMS[field]
        assert {"email", "phone", "city", "state", "zip", "updated_at"} <= set(entry["fields"])
        assert "full_name" in entry["fields"] or {"first_name", "last_name"} <= set(
            entry["fields"])
        assert len(rows) == entry["rows"]
        assert all(len(r) == len(header) for r in rows)
        zip_at = entry["fields"].index("zip")
        assert all(re.fullmatch(r"\d{5}(-?\d{4})?", r[zip_at]) for r in rows)
    assert len(headers) == len(files), "headers vary from file to file"


def test_the_dump_is_mysqldump_shaped(legacy):
    out, summary = legacy
    entry = next(f for f in summary["files"] if f["source"] == "sql_dump")
    text = (out / entry["source_file"]).read_text(encoding="utf-8")
    assert text.startswith("-- MariaDB dump")
    assert "CREATE TABLE `contacts`" in text and "LOCK TABLES `contacts` WRITE;" in text
    assert text.rstrip().splitlines()[-1].startswith("-- Dump completed on")
    assert _dump_rows(out / entry["source_file"]) == entry["rows"]


def test_truth_maps_every_record_to_a_person(legacy):
    out, summary = legacy
    truth = _truth(out)
    assert len(truth["person_id"]) == ROWS
    keys = list(zip(truth["source"], truth["source_file"], truth["source_key"], strict=True))
    assert len(set(keys)) == ROWS
    per_file = Counter(truth["source_file"])
    assert per_file == {f["source_file"]: f["rows"] for f in summary["files"]}
    people = _people(out)
    assert set(truth["person_id"]) == set(people)
    assert len(people) == summary["people"]
    assert set(pc.list_flatten(pq.read_table(out / "truth.parquet")["variations"])
               .to_pylist()) == set(VARIATIONS)


def test_records_carry_their_persons_values(legacy):
    """Email never varies (only goes missing); CSV names match the person unless varied."""
    out, summary = legacy
    truth = _truth(out)
    people = _people(out)
    by_key = {(s, k): (p, v) for s, k, p, v in zip(
        truth["source_file"], truth["source_key"], truth["person_id"], truth["variations"],
        strict=True)}
    checked = 0
    for entry in (f for f in summary["files"] if f["source"] == "csv"):
        _, rows = _csv_rows(out / entry["source_file"])
        at = {field: entry["fields"].index(field) for field in entry["fields"]}
        for number, row in enumerate(rows, start=1):
            person_id, variations = by_key[(entry["source_file"], number)]
            person = people[person_id]
            if row[at["email"]]:
                assert row[at["email"]] == person["email"]
            name_kept = not {"typo_last", "swapped_names", "case", "whitespace"} & set(
                variations)
            if name_kept:
                field = "last_name" if "last_name" in at else "full_name"
                assert person["last_name"] in row[at[field]]
                checked += 1
    assert checked > ROWS * 0.2


def test_duplicates_households_and_namesakes_at_their_rates(legacy):
    out, _ = legacy
    truth = _truth(out)
    people = _people(out)
    copies = Counter(truth["person_id"])
    duplicated = sum(c > 1 for c in copies.values()) / len(copies)
    assert abs(duplicated - 0.30) < 0.03
    assert max(copies.values()) <= 5
    households = [p for p in people.values() if p["household_id"] is not None]
    assert 0.025 < len(households) / len(people) < 0.06
    members: dict[int, list[dict[str, Any]]] = {}
    for person in households:
        members.setdefault(person["household_id"], []).append(person)
    for group in members.values():
        assert len(group) >= 2
        assert len({(p["last_name"], p["street"], p["zip5"]) for p in group}) == 1
        assert len({p["first_name"] for p in group}) == len(group)
    namesakes = [p for p in people.values() if p["namesake_of"] is not None]
    assert namesakes
    for person in namesakes:
        model = people[person["namesake_of"]]
        assert (person["first_name"], person["last_name"], person["zip5"]) == (
            model["first_name"], model["last_name"], model["zip5"])
        assert person["person_id"] != model["person_id"]


def test_names_follow_us_frequencies(legacy):
    out, _ = legacy
    last = Counter(p["last_name"] for p in _people(out).values())
    top = [name for name, _ in last.most_common(10)]
    assert "Smith" in top and ("Johnson" in top or "Williams" in top)


def test_variation_rates_among_later_copies(legacy):
    out, _ = legacy
    truth = _truth(out)
    later = [v for v, c in zip(truth["variations"], truth["copy_index"], strict=True) if c > 0]
    assert all(not v for v, c in zip(truth["variations"], truth["copy_index"], strict=True)
               if c == 0)
    share = Counter(label for labels in later for label in labels)
    assert 0.05 < share["nickname"] / len(later) < 0.14
    assert 0.03 < share["typo_last"] / len(later) < 0.08
    assert 0.03 < share["moved"] / len(later) < 0.10


def test_same_seed_same_output(tmp_path):
    def generate(name: str, seed: int) -> dict[str, str]:
        folder = tmp_path / name
        generate_legacy(LegacyOptions(rows=1500, seed=seed, out=folder, batch_rows=700))
        return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(folder.rglob("*")) if p.is_file()}

    first = generate("a", 4)
    assert first == generate("b", 4)
    assert first["truth.parquet"] != generate("c", 5)["truth.parquet"]


def _connect(url: str) -> pymysql.connections.Connection:
    parts = urlsplit(url)
    return pymysql.connect(host=parts.hostname, port=parts.port or 3306,
                           user=parts.username or "root", password=parts.password or "")


def test_mysql_contacts_and_the_dump_load_into_mariadb(tmp_path, mariadb_url):
    database = f"lp_gen_{tmp_path.name[-20:].replace('-', '_')}"
    summary = generate_legacy(LegacyOptions(rows=3000, seed=8, out=tmp_path / "out",
                                            mysql_url=mariadb_url + database))
    mysql = next(f for f in summary["files"] if f["source"] == "mysql")
    assert mysql["source_file"] == f"{database}.contacts"
    dump = next(f for f in summary["files"] if f["source"] == "sql_dump")
    connection = _connect(mariadb_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(CONTACTS_COLUMNS)} FROM `{database}`.contacts "
                           "ORDER BY id")
            rows = cursor.fetchall()
            assert [r[0] for r in rows] == list(range(1, mysql["rows"] + 1))
            assert all((r[3] is None) != (r[1] is None and r[2] is None) for r in rows)
            truth = _truth(tmp_path / "out")
            keys = [k for s, k in zip(truth["source"], truth["source_key"], strict=True)
                    if s == "mysql"]
            assert sorted(keys) == [r[0] for r in rows]
            cursor.execute(f"CREATE DATABASE `{database}_dump`")
            cursor.execute(f"USE `{database}_dump`")
            text = (tmp_path / "out" / dump["source_file"]).read_text(encoding="utf-8")
            for statement in text.split(";\n"):
                lines = [ln for ln in statement.splitlines() if not ln.startswith("--")]
                if "".join(lines).strip():
                    cursor.execute("\n".join(lines))
            cursor.execute("SELECT COUNT(*), MIN(id), MAX(id) FROM contacts")
            assert cursor.fetchone() == (dump["rows"], 1, dump["rows"])
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
            cursor.execute(f"DROP DATABASE IF EXISTS `{database}_dump`")
        connection.close()


def test_cli_writes_legacy_sources(tmp_path):
    result = CliRunner().invoke(app, ["legacy", "--rows", "800", "--seed", "2", "--out",
                                      str(tmp_path), "--sources", "csv,sqlite"])
    assert result.exit_code == 0, result.output
    assert "rows/s" in result.output
    assert pq.read_metadata(tmp_path / "truth.parquet").num_rows == 800
    result = CliRunner().invoke(app, ["legacy", "--rows", "10", "--out", str(tmp_path / "x"),
                                      "--sources", "mysql"])
    assert result.exit_code != 0
