"""MySQL-dump uploads through tasks.sources, no server: every generated row (checked with an
independent reader and against the ground truth), every MySQL escape, NULL, `),(` and `;`
inside values, other tables and trigger blocks passed over, any chunk size, resume, and
errors that name the file and the byte."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadpipe import tenant as tenant_config
from sampledata import sources as sample_sources
from sampledata.legacy import LegacyOptions, generate_legacy
from sampledata.sources import CONTACTS_COLUMNS
from tasks.sources import BATCH_SCHEMA, SourceError, SqlDumpSource, open_source, sql_dump
from tasks.sources.sql_values import csv_ready, parse_exact, parse_fast, to_csv_dialect

ROWS = 3000
DEMO = tenant_config.load("demo")
# The dump's `source` column needs a spelling for source_name (see the report on demo.toml).
SYNONYMS = {**DEMO.legacy.header_synonyms, "source_name": ["source"]}
CONTACTS_FIELDS = {"first_name": "first_name", "last_name": "last_name",
                   "full_name": "full_name", "email": "email", "phone": "phone",
                   "phone2": "phone2", "address1": "street", "address2": "street2",
                   "city": "city", "state": "state", "zip": "zip", "source": "source_name",
                   "created_at": "created_at", "updated_at": "updated_at"}
INSERT = "INSERT INTO `contacts` VALUES "


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """3,000 contacts in a dump of 20 kB INSERTs (many statements)."""
    out = tmp_path_factory.mktemp("legacy_dump")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sample_sources.MysqlDump, "STATEMENT_BYTES", 20_000)
        generate_legacy(LegacyOptions(rows=ROWS, seed=5, out=out, sources=("sql_dump",)))
    return out, next((out / "uploads").glob("*.sql"))


def _read(path: Path, **options: Any) -> pa.Table:
    table = options.pop("table", None)
    source = SqlDumpSource(path, SYNONYMS, table=table)
    return pa.Table.from_batches(source.batches(**options))


def _independent_rows(path: Path) -> list[dict[str, Any]]:
    """The dump's rows by Python's literal parser (the generator escapes only \\\\ ' \\n \\r)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(INSERT):
            body = re.sub(r"(?<=[(,])NULL(?=[,)])", "None", line[len(INSERT):-1])
            for values in ast.literal_eval(f"[{body}]"):
                rows.append(dict(zip(CONTACTS_COLUMNS, values, strict=True)))
    return rows


def test_every_row_is_read_with_its_values(dump):
    out, path = dump
    table = _read(path, batch_rows=700)
    expected = _independent_rows(path)
    assert len(re.findall(r"^INSERT", path.read_text(), re.M)) > 10
    truth = pq.read_table(out / "truth.parquet")
    assert table.num_rows == len(expected) == truth.num_rows == ROWS
    assert table["source_key"].to_pylist() == [str(n) for n in range(1, ROWS + 1)]
    assert table["row_number"].to_pylist() == list(range(1, ROWS + 1))
    for row, source in zip(table.to_pylist(), expected, strict=True):
        source = {k: (str(v) if isinstance(v, int) else v) for k, v in source.items()}
        for column, field in CONTACTS_FIELDS.items():
            assert row[field] == source[column], (row["row_number"], column)
        assert json.loads(row["raw"]) == source


def test_dates_and_emails_agree_with_the_ground_truth(dump):
    out, path = dump
    truth = {str(t["source_key"]): t for t in pq.read_table(out / "truth.parquet").to_pylist()}
    people = {p["person_id"]: p for p in pq.read_table(out / "people.parquet").to_pylist()}
    for row in _read(path).to_pylist():
        record = truth[row["source_key"]]
        assert row["updated_at"] == record["updated_at"].strftime("%Y-%m-%d %H:%M:%S")
        if row["email"] is not None:
            assert row["email"] == people[record["person_id"]]["email"]


@pytest.mark.parametrize("start_after", [0, 1, 333, 334, 2999, 3000])
def test_resume_yields_exactly_the_rest(dump, start_after):
    _, path = dump
    batches = list(SqlDumpSource(path, SYNONYMS).batches(start_after=start_after,
                                                         batch_rows=334))
    assert all(b.num_rows == 334 for b in batches[:-1])
    resumed = pa.Table.from_batches(batches, schema=BATCH_SCHEMA)
    assert resumed.equals(_read(path).slice(start_after))


@pytest.mark.parametrize("chunk", [4096, 65_536])
def test_chunk_size_changes_nothing(dump, monkeypatch, chunk):
    _, path = dump
    whole = _read(path)
    monkeypatch.setattr(sql_dump, "CHUNK_BYTES", chunk)
    assert _read(path).equals(whole)


def test_the_exact_reader_alone_gives_the_same_rows(dump, monkeypatch):
    _, path = dump
    whole = _read(path)
    monkeypatch.setattr(sql_dump, "parse_fast", lambda *args: None)  # every run declined
    assert _read(path).equals(whole)


def test_estimate_is_close(dump):
    _, path = dump
    assert abs(SqlDumpSource(path, SYNONYMS).estimate() - ROWS) <= 0.1 * ROWS


# (MySQL literal, the value it stands for)
ESCAPES = [
    (rb"'O\'Brien'", "O'Brien"),
    (rb"'it''s'", "it's"),
    (rb"'say \"hi\"'", 'say "hi"'),
    (rb"'back\\slash'", "back\\slash"),
    (rb"'ends in a backslash\\'", "ends in a backslash\\"),
    (rb"'\\\''", "\\'"),
    (rb"'line\nbreak\r\ttab'", "line\nbreak\r\ttab"),
    (rb"'nul\0 ctrl-z\Z backspace\b'", "nul\0 ctrl-z\x1a backspace\b"),
    (rb"'like \% and \_ keep their backslash'", "like \\% and \\_ keep their backslash"),
    (rb"'unknown \q escape'", "unknown q escape"),
    (b"NULL", None),
    (b"'NULL'", "NULL"),
    (b"''", ""),
    (b"-12.5e3", "-12.5e3"),
    (b"'a),(b'", "a),(b"),
    (b"'semi; colon'", "semi; colon"),
    (b"'close); here'", "close); here"),
    (rb"'x\'),(\'y'", "x'),('y"),
    ("'café 中 😀'".encode(), "café 中 😀"),
    (b"'Jos\xe9 in cp1252'", "José in cp1252"),
]
CONTACTS_DDL = (b"CREATE TABLE `contacts` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n"
                b"  `full_name` varchar(200) DEFAULT NULL COMMENT 'who; it''s them',\n"
                b"  `email` varchar(255) DEFAULT NULL,\n  `note` text,\n"
                b"  PRIMARY KEY (`id`),\n  KEY `email` (`email`)\n) ENGINE=InnoDB;\n")


def _escapes_dump(path: Path, newline: bytes = b"\n") -> Path:
    rows = [b"(%d,'Name %d','e%d@example.com',%s)" % (i, i, i, literal)
            for i, (literal, _) in enumerate(ESCAPES, start=1)]
    half = len(rows) // 2
    lines = [b"-- MariaDB dump 10.19", b"/*!40101 SET NAMES utf8mb4 */;",
             b"DROP TABLE IF EXISTS `contacts`;", *CONTACTS_DDL.splitlines(),
             b"LOCK TABLES `contacts` WRITE;",
             b"INSERT INTO `contacts` VALUES " + b",".join(rows[:half]) + b";",
             b"INSERT INTO `contacts` VALUES " + b",".join(rows[half:]) + b";",
             b"UNLOCK TABLES;", b"-- Dump completed"]
    path.write_bytes(newline.join(lines) + newline)
    return path


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_every_escape_null_and_separator_inside_values(tmp_path, newline):
    table = _read(_escapes_dump(tmp_path / "escapes.sql", newline))
    raw = [json.loads(r) for r in table["raw"].to_pylist()]
    assert [r["note"] for r in raw] == [value for _, value in ESCAPES]
    assert table["full_name"].to_pylist() == [f"Name {i}" for i in range(1, len(ESCAPES) + 1)]


@pytest.mark.parametrize("chunk", [1, 7, 64, 333])
def test_tiny_chunks_change_nothing(tmp_path, monkeypatch, chunk):
    path = _escapes_dump(tmp_path / "escapes.sql")
    whole = _read(path)
    monkeypatch.setattr(sql_dump, "CHUNK_BYTES", chunk)
    assert _read(path).equals(whole)
    assert _read(tmp_path / "escapes.sql", start_after=5).equals(whole.slice(5))


OTHER_DIALECTS = b"""CREATE TABLE contacts (id INT PRIMARY KEY, full_name VARCHAR(50),
  email VARCHAR(50), avatar BLOB);
INSERT INTO contacts (id, full_name, email, avatar) VALUES
  (1, 'Ann Lee', "ann@x.com", _binary 'ab,c'),
  (2, 'Bob', NULL, X'4142'),
  ( 3 , 'Cy' , 'c@x.com' , b'0101' );
DELIMITER ;;
/*!50003 CREATE*/ /*!50003 TRIGGER copy BEFORE INSERT ON contacts FOR EACH ROW
INSERT INTO contacts VALUES (NEW.id, 'x', 'y', 'z') */;;
DELIMITER ;
REPLACE INTO contacts (id, full_name, email, avatar) VALUES (4,'Di','d@x.com',0x00ff) ;
INSERT IGNORE INTO `contacts` (`id`, `full_name`, `email`, `avatar`) VALUES (5,'Ed','e@x.com',null);
"""


@pytest.mark.parametrize("chunk", [5, 50, sql_dump.CHUNK_BYTES])
def test_other_dumpers_layouts_and_literals(tmp_path, monkeypatch, chunk):
    path = tmp_path / "other.sql"
    path.write_bytes(OTHER_DIALECTS)
    monkeypatch.setattr(sql_dump, "CHUNK_BYTES", chunk)
    rows = _read(path).to_pylist()
    assert [r["full_name"] for r in rows] == ["Ann Lee", "Bob", "Cy", "Di", "Ed"]
    assert [r["email"] for r in rows] == ["ann@x.com", None, "c@x.com", "d@x.com", "e@x.com"]
    assert [json.loads(r["raw"])["avatar"] for r in rows] == [
        "ab,c", "X'4142'", "b'0101'", "0x00ff", None]


TWO_TABLES = b"""CREATE TABLE `campaigns` (`id` int, `title` varchar(30));
INSERT INTO `campaigns` VALUES (1,'Spring; sale'),(2,'a),(b'),(3,'it\\'s; ');
""" + CONTACTS_DDL + b"""INSERT INTO `contacts` VALUES (1,'Ann Lee','ann@x.com',NULL);
INSERT INTO `campaigns` VALUES (4,'late');
INSERT INTO `contacts` VALUES (2,'Bob Ray','bob@x.com','hi');
"""


def test_one_table_is_read_and_others_passed_over(tmp_path):
    path = tmp_path / "two.sql"
    path.write_bytes(TWO_TABLES)
    table = _read(path, table="contacts")
    assert table["full_name"].to_pylist() == ["Ann Lee", "Bob Ray"]
    assert table["row_number"].to_pylist() == [1, 2]
    # By default the first table with INSERTs: campaigns, which holds no person fields.
    with pytest.raises(SourceError, match=rf"{path} \(table campaigns\): no name.*'title'"):
        open_source(str(path), DEMO)
    with pytest.raises(SourceError, match=rf"{path}: no INSERT INTO `leads`"):
        open_source(str(path), DEMO, table="leads")


@given(st.lists(st.tuples(
    st.one_of(st.none(), st.text(st.characters(exclude_categories=["Cs"]), max_size=12),
              st.sampled_from(["),(", ");", "'", "\\", '"', "''", "\\'", "NULL", "a\nb"])),
    st.one_of(st.none(), st.text(alphabet="'\\,();\"\n\r\t\0\x1a ab", max_size=8))),
    min_size=1, max_size=8))
@settings(max_examples=150, deadline=None)
def test_fast_and_exact_readers_agree_with_mysqldump_escaping(rows):
    def literal(value: str | None) -> bytes:
        if value is None:
            return b"NULL"
        for old, new in (("\\", "\\\\"), ("'", "\\'"), ('"', '\\"'), ("\n", "\\n"),
                         ("\r", "\\r"), ("\0", "\\0"), ("\x1a", "\\Z")):
            value = value.replace(old, new)
        return b"'" + value.encode() + b"'"

    values = b"),(".join(b",".join(literal(v) for v in row) for row in rows)
    expected = [list(column) for column in zip(*rows, strict=True)]
    exact = parse_exact(b"(" + values + b");", 0, 2, final=True)
    assert exact.ended and exact.problem is None
    assert [c.to_pylist() for c in exact.columns] == expected
    fast = parse_fast(to_csv_dialect(values), 2) if csv_ready(values) else None
    if fast is not None:
        assert [c.to_pylist() for c in fast] == expected


def test_a_cut_off_dump_names_the_file_and_byte(dump, tmp_path):
    _, path = dump
    data = path.read_bytes()
    start = data.index(INSERT.encode())
    for cut in (start + 100, data.index(b"),(", start) + 1, data.index(b";\n", start)):
        broken = tmp_path / "broken.sql"
        broken.write_bytes(data[:cut])
        with pytest.raises(SourceError, match=rf"{broken}: byte [\d,]+: .*ends inside"):
            list(SqlDumpSource(broken, SYNONYMS).batches())


@pytest.mark.parametrize(("values", "problem"), [
    (b"(1,'a','b','c'),(2,'x');", "a row of 2 values where the table has 4"),
    (b"(1,'a' 'b','c','d');", "expected ',' or '\\)' after a value"),
    (b"(1,'a',,'c');", "expected a value"),
])
def test_a_malformed_row_names_the_file_and_byte(tmp_path, values, problem):
    path = tmp_path / "bad.sql"
    path.write_bytes(CONTACTS_DDL + b"INSERT INTO `contacts` VALUES (9,'ok','o@x.com',NULL);\n"
                     + b"INSERT INTO `contacts` VALUES " + values + b"\n")
    with pytest.raises(SourceError, match=rf"{path}: byte [\d,]+: in INSERT values: {problem}"):
        list(SqlDumpSource(path, SYNONYMS).batches())


def test_a_dump_without_inserts_or_columns_is_refused(tmp_path):
    empty = tmp_path / "schema_only.sql"
    empty.write_bytes(CONTACTS_DDL)
    with pytest.raises(SourceError, match=rf"{empty}: no INSERT statement"):
        SqlDumpSource(empty, SYNONYMS)
    nameless = tmp_path / "data_only.sql"
    nameless.write_bytes(b"INSERT INTO `contacts` VALUES (1,'Ann Lee');\n")
    with pytest.raises(SourceError, match=rf"{nameless}: byte 0: .*no CREATE TABLE"):
        SqlDumpSource(nameless, SYNONYMS)
