"""A generated partner week through the partner data path: every manifest row ends as it says.

Each day's files are landed and processed like a daily run (mailed on that
day). Then: re-running the whole week changes no row; a renamed re-send is a
rejected duplicate.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path

import psycopg
import pytest
from manifest_check import assert_manifest_outcomes

from leadpipe import tenant as tenant_config
from sampledata.manifest import load_manifest
from sampledata.partner_day import PartnerDayOptions, generate_partner_days
from tasks import partner_ingest
from tasks.landing_zone import LocalZone
from tasks.partner_ingest import InboundFile, land_all, process_pending

DEMO = tenant_config.load("demo")


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("week")
    generate_partner_days(PartnerDayOptions(day=date(2026, 11, 16), pieces=120, seed=8,
                                            out=out, days=4, defect_rate=0.1))
    return out, load_manifest(out)


def _run_week(conn: psycopg.Connection, zone: LocalZone, folder: Path, manifest: dict,
              workers: int = 1) -> None:
    by_day: dict[str, list[str]] = defaultdict(list)
    for f in manifest["files"]:
        by_day[f["day"]].append(f["name"])
    for day, names in sorted(by_day.items()):
        files = [InboundFile(n, (folder / n).read_bytes(), "local") for n in names]
        land_all(conn, DEMO, zone, files)
        process_pending(conn, DEMO, zone, mailed_on=date.fromisoformat(day), workers=workers)


def _snapshot(conn: psycopg.Connection) -> dict[str, list]:
    queries = {
        "pieces": "SELECT tracking_code, partner, record_id, status, mailed_on, delivered_on, "
                  "undeliverable_on, person_id FROM mail_pieces ORDER BY 1",
        "events": "SELECT tracking_code, event_type, occurred_on, batch_id, details "
                  "FROM mail_piece_events ORDER BY id",
        "persons": "SELECT count(*), max(id) FROM persons",
        "errors": "SELECT batch_id, row_number, severity, error_type FROM import_errors "
                  "ORDER BY 1, 2, 4",
    }
    return {k: conn.execute(q).fetchall() for k, q in queries.items()}


@pytest.mark.parametrize("workers", [1, 2], ids=["in-process", "two-processes"])
def test_every_manifest_row_ends_as_the_manifest_says(
    week: tuple[Path, dict], db_url: str, tmp_path: Path, workers: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Small files too go to worker processes, so the parallel path is the one tested.
    monkeypatch.setattr(partner_ingest, "PARALLEL_BYTES", 0)
    folder, manifest = week
    expects = {row["expect"] for row in manifest["rows"]}
    assert expects == {"loaded", "delivered", "undeliverable", "rejected", "ignored",
                       "untouched"}
    assert any(f["resend_of"] for f in manifest["files"])
    zone = LocalZone(tmp_path / "landing")
    with psycopg.connect(db_url) as conn:
        _run_week(conn, zone, folder, manifest, workers)
        assert_manifest_outcomes(conn, manifest)
        before = _snapshot(conn)
        last = conn.execute("SELECT max(id) FROM import_batches").fetchone()[0]
        _run_week(conn, zone, folder, manifest)
        assert _snapshot(conn) == before
        statuses = {r[0] for r in conn.execute(
            "SELECT DISTINCT status FROM import_batches WHERE id > %s", (last,)).fetchall()}
        assert statuses == {"REJECTED_DUPLICATE"}

        first = manifest["files"][0]["name"]
        renamed = first.replace("2026", "2027")
        landed = land_all(conn, DEMO, zone, [InboundFile(renamed, (folder / first).read_bytes())])
        assert landed[0].status == "REJECTED_DUPLICATE"
        assert process_pending(conn, DEMO, zone) == []
        assert _snapshot(conn) == before
