"""A generated partner week through the partner data path: every manifest row ends as it says.

Each day's files are landed and processed like a daily run (mailed on that
day). Then: re-running the whole week changes no row; a renamed re-send is a
rejected duplicate.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from pathlib import Path

import psycopg
import pytest

from leadpipe import tenant as tenant_config
from sampledata.partner_day import PartnerDayOptions, generate_partner_days
from tasks import partner_ingest
from tasks.landing_zone import LocalZone
from tasks.partner_ingest import InboundFile, land_all, process_pending

DEMO = tenant_config.load("demo")
# Warnings recorded as findings on the row; the others are effects of applying it.
ROW_WARNINGS = {"PHONE_INVALID", "BARCODE_REPAIRED", "ENCODING_LATIN1"}


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("week")
    generate_partner_days(PartnerDayOptions(day=date(2026, 11, 16), pieces=120, seed=7,
                                            out=out, days=4, defect_rate=0.1))
    return out, json.loads((out / "manifest.json").read_text())


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
        batches = {r[0]: r[1:] for r in conn.execute(
            "SELECT filename, id, status, row_count, success_count, error_count "
            "FROM import_batches").fetchall()}
        pieces = {(r[0], r[1]): r[2:] for r in conn.execute(
            "SELECT partner, record_id, tracking_code, status, mailed_on, delivered_on, "
            "undeliverable_on FROM mail_pieces").fetchall()}
        findings = defaultdict(set)
        for batch, row, severity, kind, field in conn.execute(
                "SELECT batch_id, row_number, severity, error_type, field_name "
                "FROM import_errors").fetchall():
            findings[(batch, row)].add((severity, kind, field))
        ignored = {(r[0], r[1]) for r in conn.execute(
            "SELECT batch_id, (details->>'row_number')::int FROM mail_piece_events "
            "WHERE event_type = 'confirmation_ignored'").fetchall()}
        by_code = {v[0]: (k[0], v) for k, v in pieces.items()}
        touched = {(r[0], r[1]) for r in conn.execute(
            "SELECT batch_id, tracking_code FROM mail_piece_events").fetchall()}

        for f in manifest["files"]:
            batch_id, status, read, loaded, rejected = batches[f["name"]]
            if f["resend_of"]:
                assert status == "REJECTED_DUPLICATE", f["name"]
                continue
            assert read == f["rows"] == loaded + rejected, f["name"]

        for row in manifest["rows"]:
            batch_id, status = batches[row["file"]][:2]
            where = f"{row['file']} row {row['row_number']}: {row['expect']}"
            found = findings[(batch_id, row["row_number"])]
            expect = row["expect"]
            if expect == "untouched":
                assert status == "REJECTED_DUPLICATE", where
                continue
            if expect == "rejected":
                error = row["error"]
                assert ("ERROR", error["error_type"], error["field_name"]) in found, where
                continue
            assert not {k for k in found if k[0] == "ERROR"}, where
            for warning in row.get("warnings") or []:
                if warning["error_type"] in ROW_WARNINGS:
                    assert ("WARN", warning["error_type"], warning["field_name"]) in found \
                        or ("WARN", warning["error_type"], "row") in found, where
            if expect == "loaded":
                piece = pieces[(row["partner"], row["record_id"])]
                assert piece[0] == row["tracking_code"], where
                assert piece[2] == date.fromisoformat(row["mailed_on"]), where
            elif expect in ("delivered", "undeliverable"):
                partner, piece = by_code[row["tracking_code"]]
                assert partner == row["partner"] and piece[1] == expect, where
                on = piece[3] if expect == "delivered" else piece[4]
                assert on == date.fromisoformat(row["delivered_on"]), where
            elif expect == "ignored":
                kinds = {w["error_type"] for w in row.get("warnings") or []}
                if "DELIVERY_ALREADY_CONFIRMED" in kinds:
                    assert (batch_id, row["row_number"]) in ignored, where
                else:
                    assert (batch_id, row["tracking_code"]) not in touched, where

        before = _snapshot(conn)
        _run_week(conn, zone, folder, manifest)
        assert _snapshot(conn) == before
        statuses = {r[0] for r in conn.execute(
            "SELECT DISTINCT status FROM import_batches WHERE id > %s",
            (max(b[0] for b in batches.values()),)).fetchall()}
        assert statuses == {"REJECTED_DUPLICATE"}

        first = manifest["files"][0]["name"]
        renamed = first.replace("2026", "2027")
        landed = land_all(conn, DEMO, zone, [InboundFile(renamed, (folder / first).read_bytes())])
        assert landed[0].status == "REJECTED_DUPLICATE"
        assert process_pending(conn, DEMO, zone) == []
        assert _snapshot(conn) == before
