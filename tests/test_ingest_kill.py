"""Killed in the middle of a file and run again, ingestion ends as an uninterrupted run does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import psycopg
import pytest

from sampledata.partner_day import PartnerDayOptions, generate_partner_days

ROOT = Path(__file__).resolve().parent.parent

# Everything but surrogate ids and timestamps, which a rolled-back transaction
# legitimately moves on (sequence values are not given back).
STATE = {
    "pieces": """SELECT m.tracking_code, m.partner, m.record_id, m.status, m.mailed_on,
                        m.delivered_on, m.undeliverable_on, p.first_name, p.last_name, p.zip5
                 FROM mail_pieces m JOIN persons p ON p.id = m.person_id ORDER BY 1""",
    "events": """SELECT e.tracking_code, e.event_type, e.occurred_on, b.filename, e.details
                 FROM mail_piece_events e JOIN import_batches b ON b.id = e.batch_id
                 ORDER BY 1, 2, 3, 4""",
    "errors": """SELECT b.filename, e.row_number, e.severity, e.error_type, e.field_name,
                        e.field_value
                 FROM import_errors e JOIN import_batches b ON b.id = e.batch_id
                 ORDER BY 1, 2, 4""",
    "batches": """SELECT filename, status, row_count, success_count, error_count
                  FROM import_batches WHERE status <> 'REJECTED_DUPLICATE' ORDER BY 1""",
    "people": "SELECT count(*) FROM persons",
    "serials": "SELECT mailer_id, last_serial FROM mailer_serials ORDER BY 1",
}


def _state(url: str) -> dict[str, list]:
    with psycopg.connect(url) as conn:
        return {name: conn.execute(query).fetchall() for name, query in STATE.items()}


def _ingest(folder: Path, url: str, home: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "LEADPIPE_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "leadpipe", "ingest", str(folder)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _busy_inside_a_file(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state = 'active' "
            "AND (query LIKE 'COPY%%' OR query LIKE '%%promote_mortgage%%')").fetchone()
    return bool(row and row[0])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("day")
    generate_partner_days(PartnerDayOptions(day=date(2026, 11, 16), pieces=12000, seed=5,
                                            out=out, days=1))
    (out / "manifest.json").unlink()
    return out


def test_a_kill_mid_file_then_a_rerun_equals_an_uninterrupted_run(
    files: Path, db_url: str, empty_db: str, tmp_path: Path
) -> None:
    from db import migrate

    migrate.upgrade(empty_db)
    whole = _ingest(files, empty_db, tmp_path / "whole")
    assert whole.wait(timeout=300) == 0, whole.stderr.read() if whole.stderr else ""

    killed = _ingest(files, db_url, tmp_path / "killed")
    deadline = time.monotonic() + 120
    while not _busy_inside_a_file(db_url):
        assert killed.poll() is None, "the run ended before it could be killed mid-file"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    with psycopg.connect(db_url) as conn:
        statuses = {r[0] for r in conn.execute("SELECT status FROM import_batches").fetchall()}
    assert statuses & {"PENDING", "RUNNING"}, "the kill should leave a file unfinished"

    again = _ingest(files, db_url, tmp_path / "killed")
    assert again.wait(timeout=300) == 0, again.stderr.read() if again.stderr else ""
    assert _state(db_url) == _state(empty_db)
