"""tasks.sources: choosing a source for a reference, refusing what cannot be read (naming the
file), the one synonym-matching rule every source uses, and the raw-JSON column."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pyarrow as pa
import pytest

from leadpipe import tenant as tenant_config
from tasks.sources import (
    BATCH_SCHEMA,
    CsvSource,
    Source,
    SourceError,
    SqlDumpSource,
    SqliteSource,
    match_columns,
    open_source,
)
from tasks.sources import files as source_files
from tasks.sources.raw_json import json_objects
from tasks.sources.shape import unique_names

DEMO = tenant_config.load("demo")
SYNONYMS = DEMO.legacy.header_synonyms
LEADS_COLUMNS = ["name", "email", "mobile", "street", "city", "st", "postal", "added_on"]


def _csv(path: Path) -> Path:
    path.write_text("Name,Email\nAnn Lee,ann@example.com\n")
    return path


def _sqlite(path: Path) -> Path:
    with sqlite3.connect(path) as connection:
        connection.execute(f"CREATE TABLE leads ({', '.join(LEADS_COLUMNS)})")
        connection.execute("INSERT INTO leads (name) VALUES ('Ann Lee')")
    return path


def _dump(path: Path) -> Path:
    path.write_text("CREATE TABLE `t` (\n  `email` varchar(9)\n);\n"
                    "INSERT INTO `t` VALUES ('a@b.c');\n")
    return path


@pytest.mark.parametrize(("name", "make", "cls", "kind"), [
    ("campaign.csv", _csv, CsvSource, "legacy_csv"),
    ("CAMPAIGN.CSV", _csv, CsvSource, "legacy_csv"),
    ("tool.sqlite", _sqlite, SqliteSource, "legacy_sqlite"),
    ("tool.sqlite3", _sqlite, SqliteSource, "legacy_sqlite"),
    ("tool.db", _sqlite, SqliteSource, "legacy_sqlite"),
    ("export.sql", _dump, SqlDumpSource, "upload_sql"),
])
def test_open_source_picks_the_reader_by_suffix(tmp_path, name, make, cls, kind):
    source = open_source(str(make(tmp_path / name)), DEMO)
    assert isinstance(source, cls)
    assert isinstance(source, Source)
    assert source.kind == kind
    assert source.name == str(tmp_path / name)
    batch = next(source.batches())
    assert batch.schema == BATCH_SCHEMA
    assert batch.num_rows == 1


def test_an_uploaded_csv_is_an_upload(tmp_path):
    assert open_source(str(_csv(tmp_path / "u.csv")), DEMO, upload=True).kind == "upload_csv"


@pytest.mark.parametrize("name", ["leads.xlsx", "leads.txt", "leads"])
def test_unknown_format_names_the_file(tmp_path, name):
    path = tmp_path / name
    path.write_text("Name,Email\n")
    with pytest.raises(SourceError, match=rf"{path}: unknown source format"):
        open_source(str(path), DEMO)


def test_missing_file_and_folder_are_refused(tmp_path):
    with pytest.raises(SourceError, match=rf"{tmp_path / 'gone.csv'}: no such file"):
        open_source(str(tmp_path / "gone.csv"), DEMO)
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(SourceError, match="not a file"):
        open_source(str(tmp_path / "folder.csv"), DEMO)


@pytest.mark.parametrize(("name", "make"), [
    ("big.csv", _csv), ("big.sqlite", _sqlite), ("big.sql", _dump)])
def test_a_file_over_the_limit_is_refused_before_reading(tmp_path, monkeypatch, name, make):
    path = make(tmp_path / name)
    monkeypatch.setattr(source_files, "MAX_FILE_BYTES", 10)
    with pytest.raises(SourceError, match=rf"{path}: .* over the 10-byte limit"):
        open_source(str(path), DEMO)


def test_the_tenant_mysql_reference_needs_a_url(tmp_path):
    legacy = DEMO.legacy.model_copy(update={"mysql_url": None})
    with pytest.raises(SourceError, match=r"no legacy\.mysql_url"):
        open_source("mysql", DEMO.model_copy(update={"legacy": legacy}))


def test_demo_synonyms_cover_the_sqlite_leads_columns():
    found = match_columns(LEADS_COLUMNS, SYNONYMS)
    assert {field: LEADS_COLUMNS[i] for field, i in found.items()} == {
        "full_name": "name", "email": "email", "phone": "mobile", "street": "street",
        "city": "city", "state": "st", "zip": "postal", "updated_at": "added_on"}


def test_matching_is_trimmed_and_case_insensitive():
    found = match_columns(["  e-MAIL ", "fname", "Zip Code", "ZIPCODE"], SYNONYMS)
    assert found == {"email": 0, "first_name": 1, "zip": 3}


def test_earlier_spelling_wins_and_a_column_serves_one_field():
    synonyms = {"updated_at": ["updated_at", "created_at"], "full_name": ["Name"],
                "last_name": ["Surname", "Name"]}
    # Both dates present: each keeps its own; only created_at: it is the update time.
    assert match_columns(["created_at", "updated_at"], synonyms) == {
        "updated_at": 1, "created_at": 0}
    assert match_columns(["created_at"], synonyms) == {"updated_at": 0}
    # "Name" is full_name's first spelling but only last_name's second.
    assert match_columns(["Name", "Surname"], synonyms) == {"full_name": 0, "last_name": 1}
    assert match_columns(["Name"], synonyms) == {"full_name": 0}


def test_a_field_own_name_is_its_last_resort_spelling():
    assert match_columns(["phone2", "source_name"], {}) == {"phone2": 0, "source_name": 1}
    assert match_columns(["source"], {}) == {}
    assert match_columns(["source"], {"source_name": ["source"]}) == {"source_name": 0}


def test_first_of_duplicate_columns_counts():
    assert match_columns(["Email", "email"], SYNONYMS) == {"email": 0}
    assert unique_names(["Email", "Email", " ", "Email"]) == [
        "Email", "Email_2", "column_3", "Email_3"]


def test_headers_without_person_fields_name_the_file_and_headers(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,amount,sku\n1,2,3\n")
    with pytest.raises(SourceError) as error:
        open_source(str(path), DEMO)
    message = str(error.value)
    assert str(path) in message
    assert "'order_id', 'amount', 'sku'" in message


@pytest.mark.parametrize("value", [
    'say "hi"', "back\\slash", "line\nbreak\r\ttab", "bell\x07 nul\x00 esc\x1b", "é ü 中 😀",
    "", " ", "{}", "null", None])
def test_raw_json_round_trips_every_value(value):
    columns = [pa.array([value, "x", None], pa.string()), pa.array([None, value, "y"])]
    objects = json_objects(['k"1', "k\\2"], columns)
    rows = [json.loads(text) for text in objects.to_pylist()]
    assert rows == [{'k"1': value, "k\\2": None}, {'k"1': "x", "k\\2": value},
                    {'k"1': None, "k\\2": "y"}]


def test_raw_json_of_sliced_columns():
    column = pa.array(["a", 'b"', "c", None, "e"])
    objects = json_objects(["v"], [column.slice(1, 3)])
    assert [json.loads(o)["v"] for o in objects.to_pylist()] == ['b"', "c", None]
