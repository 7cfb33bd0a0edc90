"""The legacy migration: every source reconciles, re-runs change nothing, a kill resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.compute as pc
import pytest

from leadpipe import tenant as tenant_config
from sampledata.legacy import LegacyOptions, generate_legacy
from tasks import migration
from tasks.migration import migrate_source, migrate_sources
from tasks.sources import RetryableSourceError, Source, open_source

ROOT = Path(__file__).resolve().parent.parent
DEMO = tenant_config.load("demo")

# The people tables without surrogate ids or timestamps (a killed transaction uses up
# sequence values, so ids may differ between equal end states).
STATE = {
    "persons": """SELECT first_name, middle_name, last_name, name_suffix, primary_email,
                         primary_phone_e164, zip5, source_updated_at
                  FROM persons ORDER BY 1, 2, 3, 5, 6, 7, 8""",
    "phones": """SELECT p.primary_email, p.last_name, n.phone_raw, n.phone_e164
                 FROM phone_numbers n JOIN persons p ON p.id = n.person_id ORDER BY 1, 2, 3""",
    "emails": """SELECT p.last_name, p.zip5, e.email, e.is_valid
                 FROM email_addresses e JOIN persons p ON p.id = e.person_id ORDER BY 1, 2, 3""",
    "errors": """SELECT b.filename, e.row_number, e.severity, e.error_type, e.field_name
                 FROM import_errors e JOIN import_batches b ON b.id = e.batch_id
                 ORDER BY 1, 2, 4, 5""",
    "batches": """SELECT filename, status, row_count, success_count, error_count
                  FROM import_batches WHERE status NOT IN ('REJECTED_DUPLICATE', 'FAILED')
                  ORDER BY 1""",
}


def _state(url: str) -> dict[str, list]:
    with psycopg.connect(url) as conn:
        return {name: conn.execute(query).fetchall() for name, query in STATE.items()}


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("legacy")
    generate_legacy(LegacyOptions(rows=3000, seed=4, out=out))
    return out


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in (".csv", ".sql", ".sqlite"))


def test_every_source_reconciles_and_a_rerun_changes_nothing(legacy: Path, db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        runs = [migrate_source(conn, open_source(str(f), DEMO), batch_rows=700)
                for f in _files(legacy)]
        assert {r.status for r in runs} <= {"COMPLETE", "COMPLETE_WITH_ERRORS"}
        for run in runs:
            assert run.reconciled, run
            assert run.rows_read > 0
        total = sum(r.rows_read for r in runs)
        assert total == 3000
        people = conn.execute("SELECT count(*) FROM persons").fetchone()[0]
        assert 0 < people < total
        audit = conn.execute(
            "SELECT sum(record_count) FILTER (WHERE operation = 'INSERT') FROM import_audit_log"
        ).fetchone()[0]
        assert audit == people
        lineage_rows = conn.execute("SELECT count(*) FROM person_lineage").fetchone()[0]
    before = _state(db_url)

    with psycopg.connect(db_url) as conn:
        again = [migrate_source(conn, open_source(str(f), DEMO)) for f in _files(legacy)]
        assert {r.status for r in again} == {"REJECTED_DUPLICATE"}
        assert conn.execute("SELECT count(*) FROM person_lineage").fetchone()[0] == lineage_rows
    assert _state(db_url) == before


def test_sources_read_ahead_end_as_sources_run_one_by_one(legacy: Path, db_url: str,
                                                          empty_db: str) -> None:
    # migrate_sources opens and reads the next source while this one upserts.
    from db import migrate

    migrate.upgrade(empty_db)
    files = _files(legacy)
    with psycopg.connect(empty_db) as conn:
        alone = [migrate_source(conn, open_source(str(f), DEMO), batch_rows=300) for f in files]
    with psycopg.connect(db_url) as conn:
        together = list(migrate_sources(conn, [open_source(str(f), DEMO) for f in files],
                                        batch_rows=300))
    assert [r.to_dict() for r in together] == [r.to_dict() for r in alone]
    assert _state(db_url) == _state(empty_db)


class Flaky:
    """A real source whose reads fail with a dropped connection at the first chunk holding
    a row past `until`, `failures` times, then read on; with `failures=None`, one whose rows
    end there."""

    def __init__(self, inner: Source, until: int, failures: int | None) -> None:
        self.inner, self.until, self.failures = inner, until, failures
        self.name, self.kind = inner.name, inner.kind

    def batches(self, start_after: int | None = None, batch_rows: int = 100) -> Any:
        for rows in self.inner.batches(start_after, batch_rows):
            if pc.max(rows.column("row_number")).as_py() > self.until:
                if self.failures is None:
                    return
                if self.failures:
                    self.failures -= 1
                    raise RetryableSourceError("connection lost")
            yield rows

    def estimate(self) -> int | None:
        return self.inner.estimate()


@pytest.mark.parametrize("first_load", [False, True], ids=["chunked", "first_load"])
def test_a_dropped_source_is_retried_from_its_checkpoint_then_failed(
    legacy: Path, db_url: str, empty_db: str, monkeypatch: pytest.MonkeyPatch,
    first_load: bool,
) -> None:
    # The first source recovers on its third read; the second never does: after 3 retries
    # its batch is FAILED, keeping the chunks it committed (a first load: staged), and the
    # third goes on.
    from db import migrate

    monkeypatch.setattr(migration, "BACKOFF_SECONDS", 0.0)
    migrate.upgrade(empty_db)
    first, second, third = (open_source(str(f), DEMO) for f in _files(legacy)[:3])
    with psycopg.connect(empty_db) as conn:
        expected = list(migrate_sources(
            conn, [first, Flaky(second, until=200, failures=None), third], batch_rows=100,
            first_load=first_load))
    with psycopg.connect(db_url) as conn:
        runs = list(migrate_sources(conn, [
            Flaky(first, until=150, failures=2),
            Flaky(second, until=200, failures=migration.RETRIES + 1), third],
            batch_rows=100, first_load=first_load))
        committed = conn.execute("SELECT rows_read FROM import_checkpoints "
                                 "WHERE batch_id = %s", (runs[1].batch_id,)).fetchone()
    assert [r.status for r in runs] == [expected[0].status, "FAILED", expected[2].status]
    assert runs[1].message == f"connection lost (after {migration.RETRIES} retries)"
    assert committed == (200,)
    assert [(r.rows_read, r.inserted, r.updated) for r in (runs[0], runs[2])] == [
        (r.rows_read, r.inserted, r.updated) for r in (expected[0], expected[2])]
    people = {name: _state(db_url)[name] for name in ("persons", "phones", "emails")}
    assert people == {name: _state(empty_db)[name] for name in ("persons", "phones", "emails")}


def test_the_same_rows_in_a_new_file_change_nothing(legacy: Path, db_url: str,
                                                     tmp_path: Path) -> None:
    first = next(f for f in _files(legacy) if f.suffix == ".csv")
    copy = tmp_path / "renamed.csv"
    copy.write_bytes(first.read_bytes() + b"\n")
    with psycopg.connect(db_url) as conn:
        migrate_source(conn, open_source(str(first), DEMO))
        people = conn.execute("SELECT count(*) FROM persons").fetchone()
        lineage = conn.execute("SELECT count(*) FROM person_lineage").fetchone()
        run = migrate_source(conn, open_source(str(copy), DEMO))
        assert run.status in ("COMPLETE", "COMPLETE_WITH_ERRORS")
        assert (run.inserted, run.updated) == (0, 0)
        assert conn.execute("SELECT count(*) FROM persons").fetchone() == people
        assert conn.execute("SELECT count(*) FROM person_lineage").fetchone() == lineage


def test_a_relative_path_is_recorded_by_its_location(legacy: Path, db_url: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    first = next(f for f in _files(legacy) if f.suffix == ".csv")
    monkeypatch.chdir(first.parent)
    with psycopg.connect(db_url) as conn:
        run = migrate_source(conn, open_source(first.name, DEMO))
        assert run.reconciled and run.rows_read > 0
        uri = conn.execute("SELECT landing_uri FROM import_batches WHERE id = %s",
                           (run.batch_id,)).fetchone()[0]
    assert uri == first.resolve().as_uri()


def test_mysql_source_by_key_range(legacy: Path, db_url: str, mariadb_url: str,
                                   tmp_path: Path) -> None:
    database = f"lp_mig_{os.getpid()}"
    out = tmp_path / "with_mysql"
    generate_legacy(LegacyOptions(rows=1500, seed=6, out=out,
                                  mysql_url=f"{mariadb_url.rstrip('/')}/{database}",
                                  sources=("mysql",)))
    url = f"{mariadb_url.rstrip('/')}/{database}.contacts"
    with psycopg.connect(db_url) as conn:
        run = migrate_source(conn, open_source(url, DEMO), batch_rows=400)
        assert run.reconciled and run.rows_read == 1500
        again = migrate_source(conn, open_source(url, DEMO), batch_rows=400)
        assert (again.status, again.inserted, again.updated) == (run.status, 0, 0)


@pytest.mark.parametrize("first_load", [False, True], ids=["chunked", "first_load"])
def test_a_killed_migration_resumes_to_the_uninterrupted_state(
    legacy: Path, db_url: str, empty_db: str, tmp_path: Path, cli: Any, first_load: bool
) -> None:
    # Chunked: the killed run resumes after its last committed chunk. A first load wrote
    # nothing (its one transaction dies with the process): run again, it starts over.
    from db import migrate

    migrate.upgrade(empty_db)
    args = ["migrate", str(legacy), "--batch-rows", "150", *(["--first-load"] * first_load)]
    whole = cli(*args, env={"DATABASE_URL": empty_db, "LEADPIPE_HOME": str(tmp_path / "a")})
    assert whole.returncode == 0, whole.stderr
    with psycopg.connect(empty_db) as conn:
        batches = conn.execute("SELECT id, row_count FROM import_batches ORDER BY id").fetchall()
    reports = tmp_path / "a" / "landing" / "reports"
    for batch_id, rows_read in batches:
        folder = reports / f"batch_{batch_id}"
        assert sorted(p.name for p in folder.iterdir()) == [
            "checklist.json", "errors.csv", "success.csv"]
        success = (folder / "success.csv").read_text().splitlines()
        assert len(success) == 2 and success[1].split(",")[2] == str(rows_read)

    env = {**os.environ, "DATABASE_URL": db_url, "LEADPIPE_HOME": str(tmp_path / "b")}
    killed = subprocess.Popen([sys.executable, "-m", "leadpipe", *args], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        with psycopg.connect(db_url, autocommit=True) as conn:
            done = conn.execute("SELECT count(*) FROM import_checkpoints").fetchone()[0] \
                if conn.execute("SELECT to_regclass('import_checkpoints')").fetchone()[0] \
                else 0
        if done >= 2:
            break
        assert killed.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)

    again = cli(*args, env={"DATABASE_URL": db_url, "LEADPIPE_HOME": str(tmp_path / "b")})
    assert again.returncode == 0, again.stderr
    assert "reconciliation per source" in again.stdout
    assert _state(db_url) == _state(empty_db)


def test_rows_staged_ahead_of_an_interrupted_run_are_staged_again(
    legacy: Path, db_url: str, empty_db: str
) -> None:
    # Staging runs a chunk or two ahead of the upsert on its own connection and commits
    # there: a run stopped after its second chunk leaves staged rows past its checkpoint,
    # which the resumed run removes and stages again.
    from db import migrate

    migrate.upgrade(empty_db)
    largest = max(_files(legacy), key=lambda f: f.stat().st_size)
    with psycopg.connect(empty_db) as conn:
        whole = migrate_source(conn, open_source(str(largest), DEMO), batch_rows=100)
    assert whole.rows_read > 4 * 100

    def stop_after_two(_rows: int, seen: list[int] = [0]) -> None:  # noqa: B006
        seen[0] += 1
        if seen[0] == 2:
            raise RuntimeError("stopped")

    with psycopg.connect(db_url) as conn:
        with pytest.raises(RuntimeError, match="stopped"):
            migrate_source(conn, open_source(str(largest), DEMO), batch_rows=100,
                           progress=stop_after_two)
        conn.rollback()
        ahead = conn.execute(
            "SELECT count(*) FROM stg_person s JOIN import_checkpoints c USING (batch_id) "
            "WHERE s.row_number > c.last_row_number").fetchone()[0]
        assert ahead >= 100
        resumed = migrate_source(conn, open_source(str(largest), DEMO), batch_rows=100)
    assert resumed.reconciled and resumed.rows_read == whole.rows_read
    assert _state(db_url) == _state(empty_db)
