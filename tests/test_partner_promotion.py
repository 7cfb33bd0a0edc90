"""The partner functions in PostgreSQL: promotion of mortgage rows and first-wins deliveries."""

from __future__ import annotations

import json
import uuid
from datetime import date

import psycopg
import pytest

HARBOR_CODE = "00270314159000000777"


def _batch(conn: psycopg.Connection, name: str, partner: str, source_type: str) -> int:
    return conn.execute(
        "INSERT INTO import_batches (filename, source_type, partner, sha256) "
        "VALUES (%s, %s, %s, md5(%s) || md5(%s)) RETURNING id",
        (name, source_type, partner, name, name),
    ).fetchone()[0]


def _stage_mortgage(conn: psycopg.Connection, batch: int, partner: str, rows: list[dict]) -> None:
    for n, row in enumerate(rows, start=1):
        values = {"batch_id": batch, "row_number": n, "partner": partner,
                  "borrower_raw": f"{row.get('first_name')} {row.get('last_name')}",
                  "street": "1 MAIN ST", "zip5": "02134",
                  "raw": json.dumps(row, default=str), **row}
        cols = ", ".join(values)
        marks = ", ".join(f"%({c})s" for c in values)
        conn.execute(f"INSERT INTO stg_mortgage ({cols}) VALUES ({marks})", values)


def _stage_delivery(conn: psycopg.Connection, batch: int, partner: str,
                    rows: list[tuple[str, date, str]]) -> None:
    for n, (code, on, outcome) in enumerate(rows, start=1):
        conn.execute(
            "INSERT INTO stg_delivery (batch_id, row_number, partner, tracking_code, event_on, "
            "outcome, raw) VALUES (%s, %s, %s, %s, %s, %s, '{}')",
            (batch, n, partner, code, on, outcome),
        )


def _promote(conn: psycopg.Connection, batch: int, mailer: str) -> tuple[int, int, int]:
    return conn.execute(
        "SELECT * FROM promote_mortgage(%s, %s, %s)", (batch, mailer, date(2026, 11, 20))
    ).fetchone()


@pytest.fixture
def conn(db_url: str):
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c


def test_m15_rows_get_barcodes_in_row_order_and_rerun_changes_nothing(conn) -> None:
    batch = _batch(conn, "keystone-mtg-2026-11-20.csv", "keystone", "mortgage_m15")
    _stage_mortgage(conn, batch, "keystone", [
        {"record_id": "K1", "first_name": "Ann", "last_name": "Lee", "phone_raw": "617-555-0101",
         "phone_e164": "+16175550101", "mailer_version": "A", "piece_type": "LETTER"},
        {"record_id": "K2", "first_name": "Bo", "last_name": "Chu", "zip4": "1234"},
        {"record_id": "K1", "first_name": "Ann", "last_name": "Lee"},
    ])
    assert _promote(conn, batch, "271828") == (2, 1, 2)
    pieces = conn.execute(
        "SELECT record_id, tracking_code, routing_code, status, mailed_on FROM mail_pieces "
        "ORDER BY record_id").fetchall()
    assert pieces == [
        ("K1", "00270271828000000001", "02134", "mailed", date(2026, 11, 20)),
        ("K2", "00270271828000000002", "021341234", "mailed", date(2026, 11, 20)),
    ]
    assert conn.execute("SELECT count(*) FROM persons").fetchone() == (2,)
    assert conn.execute(
        "SELECT phone_raw, phone_e164 FROM phone_numbers").fetchall() == [
        ("617-555-0101", "+16175550101")]
    events = conn.execute(
        "SELECT tracking_code, from_status, to_status, event_type FROM mail_piece_events "
        "ORDER BY tracking_code").fetchall()
    assert events == [("00270271828000000001", None, "mailed", "mailed"),
                      ("00270271828000000002", None, "mailed", "mailed")]

    before = conn.execute("SELECT count(*) FROM persons").fetchone()
    assert _promote(conn, batch, "271828") == (2, 1, 0)
    assert conn.execute("SELECT count(*) FROM persons").fetchone() == before
    assert conn.execute("SELECT last_serial FROM mailer_serials").fetchone() == (2,)

    # A re-sent file (new batch, same rows) mails nobody twice and uses no serials.
    resend = _batch(conn, "keystone-mtg-2026-11-20 (1).csv", "keystone", "mortgage_m15")
    _stage_mortgage(conn, resend, "keystone", [{"record_id": "K2", "first_name": "Bo",
                                                 "last_name": "Chu"}])
    assert _promote(conn, resend, "271828") == (0, 1, 0)
    assert conn.execute("SELECT count(*) FROM mail_pieces").fetchone() == (2,)


def test_m32_rows_keep_their_barcode(conn) -> None:
    batch = _batch(conn, "HARBOR_CLOSINGS_20261120.xlsx", "harbor", "mortgage_m32")
    _stage_mortgage(conn, batch, "harbor", [
        {"record_id": "H1", "first_name": "Cy", "last_name": "Ng", "tracking_code": HARBOR_CODE,
         "routing_code": "02134123401", "mail_date": date(2026, 11, 19)},
    ])
    assert _promote(conn, batch, "314159") == (1, 0, 0)
    assert conn.execute(
        "SELECT tracking_code, routing_code, mailed_on FROM mail_pieces").fetchone() == (
        HARBOR_CODE, "02134123401", date(2026, 11, 19))


def test_deliveries_first_wins_partner_filtered_and_idempotent(conn) -> None:
    mortgage = _batch(conn, "HARBOR_CLOSINGS_20261120.xlsx", "harbor", "mortgage_m32")
    _stage_mortgage(conn, mortgage, "harbor", [
        {"record_id": "H1", "first_name": "Cy", "last_name": "Ng", "tracking_code": HARBOR_CODE},
    ])
    _promote(conn, mortgage, "314159")
    keystone = _batch(conn, "keystone-mtg-2026-11-20.csv", "keystone", "mortgage_m15")
    _stage_mortgage(conn, keystone, "keystone", [{"record_id": "K1", "first_name": "Ann",
                                                   "last_name": "Lee"}])
    _promote(conn, keystone, "271828")
    keystone_code = "00270271828000000001"

    first = _batch(conn, "HARBOR_DLV_20261123.csv", "harbor", "delivery_d1")
    _stage_delivery(conn, first, "harbor", [
        (HARBOR_CODE, date(2026, 11, 23), "delivered"),
        (HARBOR_CODE, date(2026, 11, 24), "delivered"),
        (keystone_code, date(2026, 11, 23), "delivered"),
    ])
    assert conn.execute("SELECT * FROM apply_deliveries(%s)", (first,)).fetchone() == (1, 1, 1)
    assert conn.execute("SELECT * FROM apply_deliveries(%s)", (first,)).fetchone() == (1, 1, 1)

    later = _batch(conn, "HARBOR_DLV_20261125.csv", "harbor", "delivery_d1")
    _stage_delivery(conn, later, "harbor", [(HARBOR_CODE, date(2026, 11, 25), "undeliverable")])
    assert conn.execute("SELECT * FROM apply_deliveries(%s)", (later,)).fetchone() == (0, 1, 0)

    pieces = conn.execute(
        "SELECT partner, status, delivered_on FROM mail_pieces ORDER BY partner").fetchall()
    assert pieces == [("harbor", "delivered", date(2026, 11, 23)), ("keystone", "mailed", None)]
    ignored = conn.execute(
        "SELECT batch_id, occurred_on, details FROM mail_piece_events "
        "WHERE event_type = 'confirmation_ignored' ORDER BY id").fetchall()
    assert ignored == [
        (first, date(2026, 11, 24), {"row_number": 2, "ignored_outcome": "delivered",
                                     "ignored_date": "2026-11-24", "first_outcome": "delivered",
                                     "first_date": "2026-11-23"}),
        (later, date(2026, 11, 25), {"row_number": 1, "ignored_outcome": "undeliverable",
                                     "ignored_date": "2026-11-25", "first_outcome": "delivered",
                                     "first_date": "2026-11-23"}),
    ]


def test_undeliverable_is_recorded(conn) -> None:
    batch = _batch(conn, "HARBOR_CLOSINGS_20261120.xlsx", "harbor", "mortgage_m32")
    _stage_mortgage(conn, batch, "harbor", [
        {"record_id": "H1", "first_name": "Cy", "last_name": "Ng", "tracking_code": HARBOR_CODE},
    ])
    _promote(conn, batch, "314159")
    dlv = _batch(conn, "summit_deliv_20261123.zip", "harbor", "delivery_d3")
    _stage_delivery(conn, dlv, "harbor", [(HARBOR_CODE, date(2026, 11, 23), "undeliverable")])
    assert conn.execute("SELECT * FROM apply_deliveries(%s)", (dlv,)).fetchone() == (1, 0, 0)
    assert conn.execute(
        "SELECT status, undeliverable_on, delivered_on FROM mail_pieces").fetchone() == (
        "undeliverable", date(2026, 11, 23), None)


def test_a_role_that_may_not_skip_checks_promotes_the_same(conn) -> None:
    # Foreign-key checks are skipped only where that is allowed; otherwise all run.
    role = f"lp_plain_{uuid.uuid4().hex[:8]}"
    conn.execute(f'CREATE ROLE "{role}"')
    try:
        conn.execute(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"')
        conn.execute(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
        batch = _batch(conn, "keystone-mtg-2026-11-20.csv", "keystone", "mortgage_m15")
        _stage_mortgage(conn, batch, "keystone", [
            {"record_id": "K1", "first_name": "Ann", "last_name": "Lee",
             "phone_raw": "617-555-0101", "phone_e164": "+16175550101"},
        ])
        tables = "ARRAY['phone_numbers', 'mail_pieces']::regclass[]"
        assert conn.execute(f"SELECT partner_checks_skippable({tables})").fetchone() == (True,)
        conn.execute(f'SET ROLE "{role}"')
        assert conn.execute(f"SELECT partner_checks_skippable({tables})").fetchone() == (False,)
        assert _promote(conn, batch, "271828") == (1, 0, 1)
        assert conn.execute("SELECT current_setting('session_replication_role')").fetchone() \
            == ("origin",)
        conn.execute("RESET ROLE")
        assert conn.execute(
            "SELECT count(*) FROM mail_piece_events e JOIN mail_pieces m USING (tracking_code) "
            "JOIN persons p ON p.id = m.person_id JOIN phone_numbers n ON n.person_id = p.id"
        ).fetchone() == (1,)
    finally:
        conn.execute("RESET ROLE")
        conn.execute(f'DROP OWNED BY "{role}"')
        conn.execute(f'DROP ROLE "{role}"')


def test_checks_are_not_skipped_on_a_table_with_a_trigger_replica_mode_silences(conn) -> None:
    skippable = "SELECT partner_checks_skippable(ARRAY['persons', 'addresses']::regclass[])"
    # The dedup queue triggers fire in replica mode too (ENABLE ALWAYS).
    assert conn.execute(skippable).fetchone() == (True,)
    conn.execute("CREATE FUNCTION nothing() RETURNS trigger LANGUAGE plpgsql "
                 "AS $$ BEGIN RETURN NULL; END $$")
    conn.execute("CREATE TRIGGER plain AFTER INSERT ON addresses "
                 "FOR EACH STATEMENT EXECUTE FUNCTION nothing()")
    assert conn.execute(skippable).fetchone() == (False,)
    conn.execute("ALTER TABLE addresses ENABLE ALWAYS TRIGGER plain")
    assert conn.execute(skippable).fetchone() == (True,)
