"""Checks a partner run against the generator's manifest: every row ends as it says."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import psycopg

# Warnings recorded as findings on the row; the others are effects of applying it.
ROW_WARNINGS = {"PHONE_INVALID", "BARCODE_REPAIRED", "ENCODING_LATIN1"}


def assert_manifest_outcomes(conn: psycopg.Connection, manifest: dict) -> None:
    """Every file reconciles and every manifest row ended as the manifest says."""
    batches: dict[str, tuple] = {}
    for r in conn.execute("SELECT filename, id, status, row_count, success_count, error_count "
                          "FROM import_batches ORDER BY id").fetchall():
        batches.setdefault(r[0], r[1:])  # the first landing of a name is the one processed
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

