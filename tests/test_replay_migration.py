"""`leadpipe replay` of migrated batches: read back from the database, nothing new changes
nothing, a corrected rejected row loads, MySQL rows keep their keys."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

from leadpipe import tenant as tenant_config
from sampledata.legacy import LegacyOptions, generate_legacy
from tasks.migration import SourceRun, migrate_source, replay_batch
from tasks.sources import open_source
from tasks.sources.mysql import MysqlLocation

DEMO = tenant_config.load("demo")
SYNONYMS = DEMO.legacy.header_synonyms

# Row 2 and row 4 carry nothing to identify a person by (rejected); row 3 has a name only,
# so it matches no one and would insert a person anew each time it were upserted.
HAND_CSV = (
    'First Name,Last Name,Email,Phone,Address,City,State,Zip,Notes\n'
    'Ann,Lee,ann.lee@example.com,555-201-0001,1 Main St,Springfield,IL,62701,\n'
    ',,,,,Springfield,IL,62702,no identity\n'
    'Bob,Stone,,,,,,,name only\n'
    ',,,,,,IL,62703,"quoted, ""note"""\n'
    'Cara,Diaz,cara@,5552010004,,,,,bad email\n'
)

# Every table a replay could touch, whole (ids and timestamps included): a replay that
# changes nothing leaves each of them exactly as it was.
TABLES = {
    "persons": "SELECT * FROM persons ORDER BY id",
    "phone_numbers": "SELECT * FROM phone_numbers ORDER BY id",
    "email_addresses": "SELECT * FROM email_addresses ORDER BY id",
    "addresses": "SELECT * FROM addresses ORDER BY id",
    "person_lineage": "SELECT * FROM person_lineage ORDER BY id",
    "stg_person": "SELECT * FROM stg_person ORDER BY batch_id, row_number",
    "import_errors": "SELECT * FROM import_errors ORDER BY id",
    "import_audit_log": "SELECT * FROM import_audit_log ORDER BY id",
    "import_checkpoints": "SELECT batch_id, last_row_number, rows_read FROM import_checkpoints "
                          "ORDER BY batch_id",
    "import_batches": "SELECT id, filename, source_type, status, row_count, success_count, "
                      "error_count, warning_count, checklist FROM import_batches ORDER BY id",
}


def _tables(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {name: conn.execute(query).fetchall() for name, query in TABLES.items()}


def _counts(run: SourceRun) -> tuple:
    return (run.status, run.rows_read, run.rows_loaded, run.rows_rejected, run.warnings,
            run.inserted, run.updated)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("legacy")
    generate_legacy(LegacyOptions(rows=600, seed=11, out=out))
    hand = out / "hand" / "rejects.csv"
    hand.parent.mkdir()
    hand.write_text(HAND_CSV, encoding="utf-8")
    return sorted(p for p in out.rglob("*") if p.suffix in (".csv", ".sql", ".sqlite"))


def _migrate(url: str, files: list[Path]) -> list[SourceRun]:
    with psycopg.connect(url) as conn:
        return [migrate_source(conn, open_source(str(f), DEMO), batch_rows=90) for f in files]


def _hand_batch(runs: list[SourceRun]) -> SourceRun:
    return next(r for r in runs if r.source.endswith("rejects.csv"))


def test_replay_full_of_every_source_changes_nothing(sources: list[Path], db_url: str) -> None:
    runs = _migrate(db_url, sources)
    assert {Path(r.source).suffix for r in runs} == {".csv", ".sql", ".sqlite"}
    assert sum(r.rows_read for r in runs) == 605
    before = _tables(db_url)
    assert len(before["person_lineage"]) > 0

    chunks: list[int] = []
    with psycopg.connect(db_url) as conn:
        again = [replay_batch(conn, r.batch_id, SYNONYMS, batch_rows=70,
                              progress=chunks.append) for r in runs]
    assert [_counts(r) for r in again] == [_counts(r) for r in runs]
    assert sum(chunks) == 605 and max(chunks) == 70
    assert _tables(db_url) == before


def test_errors_only_keeps_a_rejected_row_rejected(sources: list[Path], db_url: str) -> None:
    hand = _hand_batch(_migrate(db_url, sources))
    assert (hand.rows_read, hand.rows_loaded, hand.rows_rejected) == (5, 3, 2)
    before = _tables(db_url)

    chunks: list[int] = []
    with psycopg.connect(db_url) as conn:
        run = replay_batch(conn, hand.batch_id, SYNONYMS, errors_only=True,
                           progress=chunks.append)
        rejected = conn.execute(
            "SELECT row_number, error_type, raw_row FROM import_errors "
            "WHERE batch_id = %s AND severity = 'ERROR' ORDER BY row_number",
            (hand.batch_id,)).fetchall()
    assert run is not None and _counts(run) == _counts(hand)
    assert chunks == [2]
    assert [(n, kind) for n, kind, _ in rejected] == [(2, "NO_IDENTITY"), (4, "NO_IDENTITY")]
    assert json.loads(rejected[1][2])["Notes"] == 'quoted, "note"'
    assert _tables(db_url) == before


def test_errors_only_loads_a_corrected_row(sources: list[Path], db_url: str) -> None:
    hand = _hand_batch(_migrate(db_url, sources))
    with psycopg.connect(db_url) as conn:
        people = conn.execute("SELECT count(*) FROM persons").fetchone()[0]
        raw = json.loads(conn.execute(
            "SELECT raw_row FROM import_errors WHERE batch_id = %s AND row_number = 2",
            (hand.batch_id,)).fetchone()[0])
        raw["Email"] = "Dora.Finch@Example.com"
        conn.execute("UPDATE import_errors SET raw_row = %s WHERE batch_id = %s "
                     "AND row_number = 2", (json.dumps(raw), hand.batch_id))
        conn.commit()

        run = replay_batch(conn, hand.batch_id, SYNONYMS, errors_only=True)
        assert run is not None
        assert (run.status, run.rows_read, run.rows_loaded, run.rows_rejected) == (
            "COMPLETE_WITH_ERRORS", 5, 4, 1)
        assert run.reconciled and run.inserted == hand.inserted + 1
        batch = conn.execute(
            "SELECT status, row_count, success_count, error_count FROM import_batches "
            "WHERE id = %s", (hand.batch_id,)).fetchone()
        assert batch == ("COMPLETE_WITH_ERRORS", 5, 4, 1)
        # Only the corrected row was upserted: the name-only row 3 inserted no one again.
        assert conn.execute("SELECT count(*) FROM persons").fetchone()[0] == people + 1
        person = conn.execute(
            "SELECT id, zip5 FROM persons WHERE primary_email = 'dora.finch@example.com'"
        ).fetchone()
        assert person is not None and person[1] == "62702"
        lineage = conn.execute(
            "SELECT batch_id, source_row_number, source_key, action FROM person_lineage "
            "WHERE person_id = %s", (person[0],)).fetchall()
        assert lineage == [(hand.batch_id, 2, "2", "insert")]
        staged = conn.execute("SELECT source_key, raw ->> 'Email' FROM stg_person "
                              "WHERE batch_id = %s AND row_number = 2",
                              (hand.batch_id,)).fetchone()
        assert staged == ("2", "Dora.Finch@Example.com")
        left = conn.execute("SELECT row_number FROM import_errors WHERE batch_id = %s "
                            "AND severity = 'ERROR'", (hand.batch_id,)).fetchall()
        assert left == [(4,)]
    after = _tables(db_url)

    with psycopg.connect(db_url) as conn:
        again = replay_batch(conn, hand.batch_id, SYNONYMS, errors_only=True)
    assert again is not None and _counts(again) == _counts(run)
    assert _tables(db_url) == after


def _other_findings(tables: dict[str, list[tuple]], run: SourceRun) -> int:
    """Findings of batches other than `run`'s (import_errors rows: id, batch_id, ...)."""
    return sum(1 for row in tables["import_errors"] if row[1] != run.batch_id)


def _table_row(stdout: str, batch_id: int) -> list[str]:
    """The printed reconciliation table's cells for a batch, after its source name."""
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if cells[0] == str(batch_id):
            return cells[2:]
    raise AssertionError(f"no row for batch {batch_id} in:\n{stdout}")


def test_cli_replays_a_migrated_batch(sources: list[Path], db_url: str, tmp_path: Path,
                                      cli: Any) -> None:
    hand = _hand_batch(_migrate(db_url, sources))
    before = _tables(db_url)
    home = tmp_path / "home"
    env = {"DATABASE_URL": db_url, "LEADPIPE_HOME": str(home)}
    for mode in ("full", "errors-only"):
        done = cli("replay", "--import-id", str(hand.batch_id), "--mode", mode, env=env)
        assert done.returncode == 0, done.stderr
        assert "reconciliation per source" in done.stdout
        assert _table_row(done.stdout, hand.batch_id) == [
            "legacy_csv", "COMPLETE_WITH_ERRORS", "5", "3", "2", str(hand.warnings),
            str(hand.inserted), "0", "yes"]
    assert _tables(db_url) == before
    report = next(home.rglob(f"batch_{hand.batch_id}/errors.csv")).read_text()
    findings = [row[:3] for row in csv.reader(io.StringIO(report))][1:]
    assert [f for f in findings if f[1] == "ERROR"] == [
        ["2", "ERROR", "NO_IDENTITY"], ["4", "ERROR", "NO_IDENTITY"]]
    assert len(findings) == len(before["import_errors"]) - _other_findings(before, hand)
    checklist = json.loads(next(home.rglob(f"batch_{hand.batch_id}/checklist.json")).read_text())
    assert checklist["overall_status"] == "COMPLETE_WITH_ERRORS"


def test_cli_refuses_an_unreadable_kept_row(sources: list[Path], db_url: str,
                                            tmp_path: Path, cli: Any) -> None:
    hand = _hand_batch(_migrate(db_url, sources))
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE import_errors SET raw_row = %s WHERE batch_id = %s "
                     "AND row_number = 4", ('{"First Name": "Eve", "Nickname": "E"}',
                                            hand.batch_id))
    times = "SELECT started_at, finished_at FROM import_batches ORDER BY id"
    before = _tables(db_url)
    with psycopg.connect(db_url) as conn:
        started = conn.execute(times).fetchall()
    env = {"DATABASE_URL": db_url, "LEADPIPE_HOME": str(tmp_path / "home")}
    done = cli("replay", "--import-id", str(hand.batch_id), "--mode", "errors-only", env=env)
    assert done.returncode == 2
    assert "a kept row does not match the source's columns" in done.stderr
    assert "rejects.csv" in done.stderr and "Traceback" not in done.stderr
    assert _tables(db_url) == before
    with psycopg.connect(db_url) as conn:
        assert conn.execute(times).fetchall() == started


def test_cli_errors_only_without_rejected_rows(sources: list[Path], db_url: str,
                                               tmp_path: Path, cli: Any) -> None:
    clean = next(r for r in _migrate(db_url, sources) if r.rows_rejected == 0)
    env = {"DATABASE_URL": db_url, "LEADPIPE_HOME": str(tmp_path / "home")}
    done = cli("replay", "--import-id", str(clean.batch_id), "--mode", "errors-only", env=env)
    assert done.returncode == 0, done.stderr
    assert f"batch {clean.batch_id} has no rejected rows: nothing to replay" in done.stdout


def test_mysql_batch_replays_with_its_keys(db_url: str, mariadb_url: str,
                                           tmp_path: Path) -> None:
    database = f"lp_replay_{os.getpid()}"
    server = f"{mariadb_url.rstrip('/')}/{database}"
    generate_legacy(LegacyOptions(rows=300, seed=12, out=tmp_path / "gen", mysql_url=server,
                                  sources=("mysql",)))
    where = MysqlLocation.parse(server)
    with pymysql.connect(host=where.host, port=where.port, user=where.user,
                         password=where.password, database=where.database) as mysql:
        with mysql.cursor() as cur:
            cur.execute("INSERT INTO contacts (id, city, source) VALUES (90001, 'Dover', 'web')")
        mysql.commit()
    url = f"{server}.contacts"
    with psycopg.connect(db_url) as conn:
        run = migrate_source(conn, open_source(url, DEMO), batch_rows=100)
        assert (run.rows_read, run.reconciled) == (301, True)
        keys = conn.execute("SELECT min(source_key::bigint), max(source_key::bigint), "
                            "bool_and(source_key = row_number::text) FROM stg_person "
                            "WHERE batch_id = %s", (run.batch_id,)).fetchone()
        assert keys[2] is True and keys[1] < 90001
    before = _tables(db_url)

    chunks: list[int] = []
    with psycopg.connect(db_url) as conn:
        full = replay_batch(conn, run.batch_id, SYNONYMS, batch_rows=80, progress=chunks.append)
    assert full is not None and _counts(full) == _counts(run)
    assert chunks == [80, 80, 80, 61]
    assert _tables(db_url) == before

    with psycopg.connect(db_url) as conn:
        raw = json.loads(conn.execute(
            "SELECT raw_row FROM import_errors WHERE batch_id = %s AND row_number = 90001 "
            "AND severity = 'ERROR'", (run.batch_id,)).fetchone()[0])
        assert raw["id"] == "90001"
        raw["phone"] = "(302) 555-0199"
        conn.execute("UPDATE import_errors SET raw_row = %s WHERE batch_id = %s "
                     "AND row_number = 90001", (json.dumps(raw), run.batch_id))
        conn.commit()
        fixed = replay_batch(conn, run.batch_id, SYNONYMS, errors_only=True)
        assert fixed is not None
        assert (fixed.rows_loaded, fixed.rows_rejected) == (run.rows_loaded + 1,
                                                            run.rows_rejected - 1)
        lineage = conn.execute(
            "SELECT l.source_row_number, l.source_key, l.action, b.source_type "
            "FROM person_lineage l JOIN persons p ON p.id = l.person_id "
            "JOIN import_batches b ON b.id = l.batch_id "
            "WHERE p.primary_phone_e164 = '+13025550199'").fetchall()
    assert lineage == [(90001, "90001", "insert", "legacy_mysql")]
