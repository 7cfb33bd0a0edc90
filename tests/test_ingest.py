"""One landed file through read, check, stage and promote: counts reconcile, nothing lost."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import psycopg
import pytest
from filemakers import xlsx_bytes

import imb
from leadpipe import tenant as tenant_config
from tasks.ingest import process_batch
from tasks.landing import land
from tasks.landing_zone import LocalZone

DEMO = tenant_config.load("demo")
MAILED = date(2026, 11, 20)
CODES = [f"00270314159{n:09d}" for n in range(1, 5)]


def _harbor_file() -> tuple[bytes, str]:
    cols = DEMO.partners["harbor"].mortgage.columns
    header = list(cols.values())
    good = {"record_id": "H1", "borrower": "ANN B LEE", "street": "1 Main St", "zip": 2134,
            "city": "Boston", "state": "MA", "phone": "617-555-0101",
            "mail_piece_type": "LETTER", "mailer_version": "A",
            "barcode": imb.encode(CODES[0], "02134"), "mail_date": datetime(2026, 11, 19)}
    bars = imb.encode(CODES[1], "02139")
    damaged = bars[:10] + ("A" if bars[10] != "A" else "D") + bars[11:]
    rows = [
        good,
        {**good, "record_id": "H2", "borrower": "SMITH, JOHN JR", "barcode": damaged,
         "phone": "12", "mailer_version": "C"},
        {**good, "record_id": "H3", "street": None, "barcode": imb.encode(CODES[2])},
        {**good, "record_id": "H4", "barcode": 2.7031415900000002e19},
        {**good, "record_id": "H5", "barcode": "ADFT" * 16 + "A"},
    ]
    return xlsx_bytes("Sheet1", [header] + [[row.get(f) for f in cols] for row in rows]), damaged


@pytest.fixture
def zone(tmp_path: Path) -> LocalZone:
    return LocalZone(tmp_path / "landing")


def _errors(conn: psycopg.Connection, batch: int) -> list[tuple]:
    return conn.execute(
        "SELECT row_number, severity, error_type, field_name, field_value FROM import_errors "
        "WHERE batch_id = %s ORDER BY row_number, error_type", (batch,)).fetchall()


def test_m32_file_end_to_end_and_replay_changes_nothing(db_url: str, zone: LocalZone) -> None:
    with psycopg.connect(db_url) as conn:
        data, damaged = _harbor_file()
        landed = land(conn, DEMO, zone, "HARBOR_CLOSINGS_20261120.xlsx", data)
        result = process_batch(conn, DEMO, zone, landed.batch_id, mailed_on=MAILED)
        assert (result.status, result.rows_read, result.rows_loaded, result.rows_rejected,
                result.pieces_new) == ("COMPLETE_WITH_ERRORS", 5, 2, 3, 2)
        errors = _errors(conn, landed.batch_id)
        pieces = conn.execute(
            "SELECT record_id, tracking_code, routing_code, mailed_on, mailer_version "
            "FROM mail_pieces ORDER BY record_id").fetchall()
        person = conn.execute(
            "SELECT first_name, middle_name, last_name, name_suffix FROM persons p "
            "JOIN mail_pieces m ON m.person_id = p.id WHERE m.record_id = 'H2'").fetchone()
        batch = conn.execute(
            "SELECT status, row_count, success_count, error_count, warning_count, "
            "checklist->>'overall_status' FROM import_batches WHERE id = %s",
            (landed.batch_id,)).fetchone()

        again = process_batch(conn, DEMO, zone, landed.batch_id, mailed_on=MAILED)
        assert again.rows_loaded == 2 and again.pieces_new == 2
        assert _errors(conn, landed.batch_id) == errors
        assert conn.execute("SELECT count(*) FROM persons").fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM mail_piece_events").fetchone() == (2,)

    assert errors == [
        (2, "WARN", "BARCODE_REPAIRED", "barcode", damaged),
        (2, "WARN", "INVALID_VALUE", "mailer_version", "C"),
        (2, "WARN", "PHONE_INVALID", "phone", "12"),
        (3, "ERROR", "MISSING_REQUIRED", "street", None),
        (4, "ERROR", "BARCODE_EXCEL_NUMBER", "barcode", "2.70314159e+19"),
        (5, "ERROR", "BARCODE_INVALID", "barcode", "ADFT" * 16 + "A"),
    ]
    assert pieces == [("H1", CODES[0], "02134", date(2026, 11, 19), "A"),
                      ("H2", CODES[1], "02139", date(2026, 11, 19), None)]
    assert person == ("John", None, "Smith", "Jr")
    assert batch == ("COMPLETE_WITH_ERRORS", 5, 2, 3, 3, "COMPLETE_WITH_ERRORS")


def test_m15_then_deliveries_d1(db_url: str, zone: LocalZone) -> None:
    m15 = ("RecordID,Borrower,PropertyAddress,City,State,Zip,RecordingDate,Phone,PieceType,"
           "Version,CoBorrower,County,LoanAmount,LoanType,Lender\n"
           "K1,Ann Lee,1 Main St,Boston,MA,2134,2026-11-19,,LETTER,A,,Suffolk,\"$1,000\",VA,B\n"
           ",No Id,2 Main St,Boston,MA,02134,bad-date,,LETTER,B,,,x,VA,B\n")
    with psycopg.connect(db_url) as conn:
        landed = land(conn, DEMO, zone, "keystone-mtg-2026-11-20.csv", m15.encode())
        result = process_batch(conn, DEMO, zone, landed.batch_id, mailed_on=MAILED)
        assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 1, 1)
        assert _errors(conn, landed.batch_id) == [
            (2, "WARN", "INVALID_AMOUNT", "loan_amount", "x"),
            (2, "WARN", "INVALID_DATE", "recording_date", "bad-date"),
            (2, "ERROR", "MISSING_REQUIRED", "record_id", None),
        ]
        code = conn.execute("SELECT tracking_code FROM mail_pieces").fetchone()[0]
        assert code == "00270271828000000001"

        harbor_code = "00270314159000000009"
        d2 = xlsx_bytes("Delivered", [["Tracking Code", "Delivery Date", "ZIP"],
                                      [code, datetime(2026, 11, 23), "02134"],
                                      [code, datetime(2026, 11, 24), "02134"],
                                      [harbor_code, datetime(2026, 11, 23), "02134"],
                                      [27027182800000000001, datetime(2026, 11, 23), 2134]])
        landed = land(conn, DEMO, zone, "Keystone Delivered 20261124.xlsx", d2)
        result = process_batch(conn, DEMO, zone, landed.batch_id)
        assert (result.rows_read, result.rows_loaded, result.rows_rejected,
                result.deliveries_applied, result.confirmations_ignored,
                result.confirmations_unmatched) == (4, 3, 1, 1, 1, 1)
        assert conn.execute(
            "SELECT status, delivered_on FROM mail_pieces WHERE tracking_code = %s", (code,)
        ).fetchone() == ("delivered", date(2026, 11, 23))


def test_report_views_refresh_after_ingestion(db_url: str, zone: LocalZone) -> None:
    with psycopg.connect(db_url) as conn:
        data, _ = _harbor_file()
        landed = land(conn, DEMO, zone, "HARBOR_CLOSINGS_20261120.xlsx", data)
        process_batch(conn, DEMO, zone, landed.batch_id, mailed_on=MAILED)
        conn.execute("SELECT refresh_report_views()")
        assert conn.execute(
            "SELECT partner, mailed_on, pieces, delivered FROM report_partner_delivery"
        ).fetchall() == [("harbor", date(2026, 11, 19), 2, 0)]
        assert conn.execute(
            "SELECT files, rows_read, rows_loaded, rows_rejected FROM report_import_health"
        ).fetchall() == [(1, 5, 2, 3)]


def test_checks_skipped_while_staging_are_back_on_for_promotion(db_url: str,
                                                                 zone: LocalZone) -> None:
    # The dedup queue is fed by triggers on persons and addresses, which replica mode
    # would silence: every promoted person is queued, so they fired.
    with psycopg.connect(db_url) as conn:
        data, _ = _harbor_file()
        landed = land(conn, DEMO, zone, "HARBOR_CLOSINGS_20261120.xlsx", data)
        process_batch(conn, DEMO, zone, landed.batch_id, mailed_on=MAILED)
        assert conn.execute(
            "SELECT count(*), count(DISTINCT q.person_id) FROM persons p "
            "LEFT JOIN dedup_queue q ON q.person_id = p.id").fetchone() == (4, 2)
        assert conn.execute(
            "SELECT count(*) FROM stg_mortgage s JOIN import_batches b ON b.id = s.batch_id"
        ).fetchone() == (2,)
