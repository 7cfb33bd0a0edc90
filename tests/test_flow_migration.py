"""Flows `full-migration` and `import-upload` under a real (ephemeral) Prefect API."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from flows.full_migration import full_migration
from flows.import_upload import import_upload
from sampledata.legacy import LegacyOptions, generate_legacy


def test_full_migration_then_an_upload_twice(
    prefect_harness: None, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("LEADPIPE_HOME", str(tmp_path / "home"))
    legacy = tmp_path / "legacy"
    generate_legacy(LegacyOptions(rows=1200, seed=3, out=legacy, sources=("csv", "sqlite")))

    runs = full_migration(sources=[str(legacy)], batch_rows=300)
    assert runs and all(r["reconciled"] for r in runs)
    assert sum(r["rows_read"] for r in runs) == 1200
    reports = tmp_path / "home" / "landing" / "reports"
    assert {p.name for p in (reports / f"batch_{runs[0]['batch_id']}").iterdir()} == {
        "success.csv", "errors.csv", "checklist.json"}

    upload = tmp_path / "upload.csv"
    upload.write_text("First Name,Last Name,Email,Zip\nAda,Lovelace,ada@example.com,02134\n"
                      "Bob,,bad@@mail,1\n,,,\n")
    first = import_upload(path=str(upload))
    assert (first["kind"], first["status"], first["rows_read"], first["rows_loaded"]) == (
        "upload_csv", "COMPLETE", 2, 2)
    assert first["warnings"] == 2
    again = import_upload(path=str(upload))
    assert again["status"] == "REJECTED_DUPLICATE"
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "SELECT first_name, last_name, primary_email, zip5 FROM persons "
            "WHERE primary_email = 'ada@example.com'").fetchall() == [
            ("Ada", "Lovelace", "ada@example.com", "02134")]
