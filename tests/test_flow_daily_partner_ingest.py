"""The `daily-partner-ingest` flow over local channels, under a real (ephemeral) Prefect API."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import psycopg
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from test_ingest import _harbor_file

import imb
from flows.daily_partner_ingest import daily_partner_ingest

KEYSTONE = (
    "RecordID,Borrower,PropertyAddress,City,State,Zip,RecordingDate,Phone,PieceType,"
    "Version,CoBorrower,County,LoanAmount,LoanType,Lender\n"
    "K1,Ann Lee,1 Main St,Boston,MA,2134,2026-11-19,,LETTER,A,,Suffolk,1000,VA,B\n"
)


def test_flow_collects_processes_and_is_idempotent(
    prefect_harness: None, db_url: str, demo_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    inbox = demo_home / "inbox"
    monkeypatch.setenv("DATABASE_URL", db_url)
    (inbox / "harbor_ftps" / "HARBOR_CLOSINGS_20261120.xlsx").write_bytes(_harbor_file()[0])
    (inbox / "partner_mailbox" / "keystone-mtg-2026-11-20.csv").write_text(KEYSTONE)
    (inbox / "partner_mailbox" / "notes.txt").write_text("hello")

    results = daily_partner_ingest(mailed_on=date(2026, 11, 20))
    summary = {(r["filename"], r["status"], r["rows_read"], r["rows_loaded"]) for r in results}
    assert summary == {
        ("HARBOR_CLOSINGS_20261120.xlsx", "COMPLETE_WITH_ERRORS", 5, 2),
        ("keystone-mtg-2026-11-20.csv", "COMPLETE", 1, 1),
        ("notes.txt", "QUARANTINED", 0, 0),
    }
    assert sorted(p.name for p in (inbox / "partner_mailbox" / "processed").iterdir()) == [
        "keystone-mtg-2026-11-20.csv", "notes.txt"]
    prints = list((inbox.parent / "landing" / "print" / "keystone").iterdir())
    assert len(prints) == 1
    lines = prints[0].read_text().splitlines()
    assert lines[0].startswith("tracking_code,bars,routing_code,record_id,name")
    tracking, bars, routing, record_id, name = lines[1].split(",")[:5]
    assert (tracking, routing, record_id, name) == ("00270271828000000001", "02134", "K1",
                                                    "Ann Lee")
    assert imb.decode(bars).full == tracking + routing

    harbor = next(r["batch_id"] for r in results if r["filename"].startswith("HARBOR"))
    artifacts = _latest_artifacts([f"batch-{harbor}-errors", f"batch-{harbor}-success",
                                   f"batch-{harbor}-checklist", "daily-partner-ingest-summary"])
    errors = json.loads(artifacts[f"batch-{harbor}-errors"])
    assert [(e["row_number"], e["error_type"]) for e in errors] == [
        (2, "BARCODE_REPAIRED"), (2, "PHONE_INVALID"), (2, "INVALID_VALUE"),
        (3, "MISSING_REQUIRED"), (4, "BARCODE_EXCEL_NUMBER"), (5, "BARCODE_INVALID")]
    success = json.loads(artifacts[f"batch-{harbor}-success"])
    assert (success[0]["total_rows"], success[0]["errors"]) == (5, 3)
    assert "Row count reconciles | PASS" in artifacts[f"batch-{harbor}-checklist"]
    assert len(json.loads(artifacts["daily-partner-ingest-summary"])) == 3

    with psycopg.connect(db_url) as conn:
        before = conn.execute("SELECT count(*), max(id) FROM mail_pieces").fetchone()
        assert conn.execute(
            "SELECT sum(pieces) FROM report_partner_delivery").fetchone() == (3,)

    # Nothing new on the channels: nothing changes.
    assert daily_partner_ingest() == []

    # A re-send under a new name is recorded as a duplicate, not processed.
    shutil.copy(inbox / "partner_mailbox" / "processed" / "keystone-mtg-2026-11-20.csv",
                inbox / "partner_mailbox" / "keystone-mtg-2026-11-21.csv")
    again = daily_partner_ingest()
    assert [(r["filename"], r["status"]) for r in again] == [
        ("keystone-mtg-2026-11-21.csv", "REJECTED_DUPLICATE")]
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*), max(id) FROM mail_pieces").fetchone() == before


def _latest_artifacts(keys: list[str]) -> dict[str, str]:
    """The data of the latest artifact under each key, from the Prefect API."""
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys)))
    latest: dict[str, str] = {}
    for artifact in sorted(found, key=lambda a: a.created):
        latest[artifact.key] = artifact.data
    return latest
