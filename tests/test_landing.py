"""Landing: bytes kept and hashed first; duplicates and unknown names recorded, not processed."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from leadpipe import tenant as tenant_config
from tasks.landing import land
from tasks.landing_zone import LocalZone, landing_key

AT = datetime(2026, 11, 20, 7, 30, 5, 123456, tzinfo=UTC)


@pytest.fixture
def zone(tmp_path: Path) -> LocalZone:
    return LocalZone(tmp_path / "landing")


def test_landing_key_follows_design() -> None:
    assert landing_key("HARBOR_DLV_20261120.csv", AT) == (
        "raw/2026/11/20/07/HARBOR_DLV_20261120_20261120T073005123456Z.csv"
    )


def test_a_new_partner_file_is_stored_hashed_and_pending(db_url: str, zone: LocalZone) -> None:
    data = b"a,b\r\n1,2\r\n"
    t = tenant_config.load("demo")
    with psycopg.connect(db_url) as conn:
        landed = land(conn, t, zone, "HARBOR_DLV_20261120.csv", data, channel="harbor_ftps",
                      received_at=AT)
        row = conn.execute(
            "SELECT filename, source_type, partner, channel, sha256, file_size, status, "
            "landing_uri FROM import_batches WHERE id = %s", (landed.batch_id,)
        ).fetchone()
    assert landed.to_process and (landed.partner, landed.feed, landed.format) == (
        "harbor", "delivery", "D1")
    sha = hashlib.sha256(data).hexdigest()
    assert row == ("HARBOR_DLV_20261120.csv", "delivery_d1", "harbor", "harbor_ftps", sha,
                   len(data), "PENDING", landed.landing_uri)
    assert zone.get(landed.landing_uri) == data
    assert landed.landing_uri.endswith(
        "/raw/2026/11/20/07/HARBOR_DLV_20261120_20261120T073005123456Z.csv")


def test_the_same_bytes_under_another_name_are_a_rejected_duplicate(
    db_url: str, zone: LocalZone
) -> None:
    t = tenant_config.load("demo")
    data = b"RecordID,Borrower\n1,Jane Doe\n"
    with psycopg.connect(db_url) as conn:
        first = land(conn, t, zone, "keystone-mtg-2026-11-20.csv", data)
        again = land(conn, t, zone, "keystone-mtg-2026-11-21.csv", data)
        statuses = conn.execute(
            "SELECT status, duplicate_of FROM import_batches ORDER BY id").fetchall()
    assert not again.to_process
    assert (again.status, again.duplicate_of) == ("REJECTED_DUPLICATE", first.batch_id)
    assert again.message == f"same bytes as batch {first.batch_id} (keystone-mtg-2026-11-20.csv)"
    assert statuses == [("PENDING", None), ("REJECTED_DUPLICATE", first.batch_id)]


def test_an_unknown_name_is_quarantined_and_may_be_sent_again(
    db_url: str, zone: LocalZone
) -> None:
    t = tenant_config.load("demo")
    data = b"imb31,date\n"
    with psycopg.connect(db_url) as conn:
        odd = land(conn, t, zone, "harbor deliveries.csv", data)
        fixed = land(conn, t, zone, "HARBOR_DLV_20261120.csv", data)
        message = conn.execute(
            "SELECT error_message FROM import_batches WHERE id = %s", (odd.batch_id,)
        ).fetchone()[0]
    assert (odd.status, odd.partner, odd.format) == ("QUARANTINED", None, None)
    assert message == (
        "file name 'harbor deliveries.csv' matches no partner's pattern in tenant demo"
    )
    assert fixed.status == "PENDING"
    assert zone.get(odd.landing_uri) == data
