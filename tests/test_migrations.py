"""The schema: migrations apply once, concurrently safe, and constraints hold."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from db import migrate
from leadpipe.errors import UserError

ALL_VERSIONS = [m.version for m in migrate.discover() + migrate.discover_functions()]

DESIGN_TABLES = {
    "import_batches", "import_errors", "import_audit_log",
    "stg_mortgage", "stg_delivery", "stg_person",
    "persons", "person_duplicates", "phone_numbers", "email_addresses", "addresses",
    "person_lineage", "dedup_runs", "dedup_audit_log",
    "campaigns", "mail_pieces", "mail_piece_events", "touchpoints", "call_responses", "handoffs",
    "dnc_registry", "opt_outs", "contact_policies", "app_users",
}
FIXED_COLUMNS = {
    "import_batches": {"id", "filename", "source_type", "partner", "sha256", "status",
                       "row_count", "success_count", "error_count"},
    "import_errors": {"batch_id", "row_number", "severity", "error_type", "field_name",
                      "field_value", "error_message", "raw_row"},
    "mail_pieces": {"tracking_code", "partner", "status", "mailed_on", "delivered_on",
                    "record_id", "person_id", "mailer_version", "piece_type"},
    "mail_piece_events": {"tracking_code", "from_status", "to_status", "event_type",
                          "occurred_on", "batch_id", "details"},
    "persons": {"id", "first_name", "middle_name", "last_name", "is_original"},
    "phone_numbers": {"person_id", "phone_raw", "phone_e164"},
    "email_addresses": {"person_id", "email"},
    "addresses": {"person_id", "street", "city", "state", "zip"},
    "person_duplicates": {"original_id", "duplicate_id", "match_score", "match_reason",
                          "merged_at"},
    "dedup_audit_log": {"job_id", "original_person_id", "duplicate_person_id", "match_score",
                        "match_reason", "merged_fields"},
}


def _columns(url: str) -> dict[str, set[str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public'"
        ).fetchall()
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    return found


def test_every_migration_applies_on_an_empty_database(empty_db: str) -> None:
    assert migrate.status(empty_db).pending == ALL_VERSIONS
    assert migrate.upgrade(empty_db) == ALL_VERSIONS
    columns = _columns(empty_db)
    assert set(columns) >= DESIGN_TABLES
    for table, names in FIXED_COLUMNS.items():
        assert names <= columns[table], f"{table} lacks {names - columns[table]}"
    state = migrate.status(empty_db)
    assert (state.applied, state.pending) == (ALL_VERSIONS, [])


def test_reapplying_is_a_no_op(empty_db: str) -> None:
    migrate.upgrade(empty_db)
    before = _columns(empty_db)
    assert migrate.upgrade(empty_db) == []
    assert _columns(empty_db) == before
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (
            len(ALL_VERSIONS),
        )


def test_two_concurrent_upgrades_leave_one_applied_set(empty_db: str) -> None:
    code = "import sys; from db import migrate; print(','.join(migrate.upgrade(sys.argv[1])))"
    runners = [
        subprocess.Popen([sys.executable, "-c", code, empty_db], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = []
    for runner in runners:
        out, err = runner.communicate(timeout=120)
        assert runner.returncode == 0, err
        outputs.append([v for v in out.strip().split(",") if v])
    # One runner applied everything; the other waited on the lock and found nothing to do.
    assert sorted(outputs, key=len) == [[], ALL_VERSIONS]
    with psycopg.connect(empty_db) as conn:
        rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert [r[0] for r in rows] == ALL_VERSIONS


def test_a_changed_applied_migration_is_refused(empty_db: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, folder)
    migrate.upgrade(empty_db, folder)
    first = sorted(folder.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(UserError, match=f"{first.name} was changed after it was applied"):
        migrate.upgrade(empty_db, folder)


def test_a_changed_function_file_is_applied_again(empty_db: str, tmp_path: Path) -> None:
    folder = tmp_path / "functions"
    shutil.copytree(migrate.FUNCTIONS_DIR, folder)
    probe = folder / "zz_probe.sql"
    probe.write_text("CREATE OR REPLACE FUNCTION lp_probe() RETURNS int "
                     "LANGUAGE sql AS 'SELECT 1';")
    migrate.upgrade(empty_db, functions=folder)
    assert migrate.upgrade(empty_db, functions=folder) == []
    probe.write_text(probe.read_text().replace("SELECT 1", "SELECT 2"))
    assert migrate.status(empty_db, functions=folder).pending == ["functions/zz_probe"]
    assert migrate.upgrade(empty_db, functions=folder) == ["functions/zz_probe"]
    assert migrate.status(empty_db, functions=folder).pending == []
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT lp_probe()").fetchone() == (2,)


def _batch(conn: psycopg.Connection, **overrides: object) -> int:
    values = {"filename": "f.csv", "source_type": "mortgage_m15", "sha256": "a" * 64}
    values.update(overrides)
    cols = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    row = conn.execute(
        f"INSERT INTO import_batches ({cols}) VALUES ({marks}) RETURNING id", list(values.values())
    ).fetchone()
    assert row is not None
    return row[0]


def _piece(conn: psycopg.Connection, tracking: str, record_id: str, **overrides: object) -> None:
    values = {"tracking_code": tracking, "partner": "harbor", "record_id": record_id}
    values.update(overrides)
    cols = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    conn.execute(f"INSERT INTO mail_pieces ({cols}) VALUES ({marks})", list(values.values()))


TRACKING = "00270314159000000001"


@pytest.mark.parametrize(
    ("table", "overrides"),
    [
        ("import_batches", {"status": "DONE"}),
        ("import_batches", {"source_type": "fax"}),
        ("import_batches", {"sha256": "not-a-hash"}),
        ("mail_pieces", {"status": "lost"}),
        ("mail_pieces", {"mailer_version": "C"}),
        ("mail_pieces", {"piece_type": "PARCEL"}),
        ("mail_pieces", {"tracking_code": "0057031415900000000X"}),
        ("mail_pieces", {"tracking_code": "00270314159000000001"[:19] + " "}),
        ("mail_pieces", {"status": "delivered"}),
    ],
)
def test_constraints_reject_bad_values(db_url: str, table: str, overrides: dict) -> None:
    with psycopg.connect(db_url) as conn, pytest.raises(errors.CheckViolation):
        if table == "import_batches":
            _batch(conn, **overrides)
        else:
            _piece(conn, overrides.pop("tracking_code", TRACKING), "r1", **overrides)


def test_bad_error_severity_and_event_type_are_rejected(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        batch = _batch(conn)
        with pytest.raises(errors.CheckViolation):
            conn.execute(
                "INSERT INTO import_errors (batch_id, severity, error_type, error_message) "
                "VALUES (%s, 'FATAL', 'VALIDATION', 'x')",
                (batch,),
            )


def test_a_duplicate_tracking_code_is_rejected(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        _piece(conn, TRACKING, "r1")
        with pytest.raises(errors.UniqueViolation, match="tracking_code"):
            _piece(conn, TRACKING, "r2", partner="summit")


def test_a_file_hash_is_processed_once(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        first = _batch(conn, status="COMPLETE")
        # A later copy is recorded, pointing at the first...
        _batch(conn, status="REJECTED_DUPLICATE", duplicate_of=first)
        # ...but a second live batch of the same bytes is refused.
        with pytest.raises(errors.UniqueViolation):
            _batch(conn, status="PENDING")


def test_a_batch_that_loaded_people_cannot_be_deleted(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        kept, unused = _batch(conn), _batch(conn, sha256="b" * 64)
        person = conn.execute("INSERT INTO persons (last_name, first_batch_id) VALUES "
                              "('Ledger', %s) RETURNING id", (kept,)).fetchone()[0]
        conn.execute("INSERT INTO person_lineage (person_id, batch_id, action) "
                     "VALUES (%s, %s, 'insert')", (person, kept))
        conn.execute("DELETE FROM import_batches WHERE id = %s", (unused,))
        with pytest.raises(errors.ForeignKeyViolation, match=f"import batch {kept} is named"):
            conn.execute("DELETE FROM import_batches WHERE id = %s", (kept,))


def test_the_read_only_role_can_read_but_not_write(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        _batch(conn)
        conn.execute("SET ROLE leadpipe_readonly")
        assert conn.execute("SELECT count(*) FROM import_batches").fetchone() == (1,)
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("DELETE FROM import_batches")
    with psycopg.connect(db_url) as conn:
        conn.execute("SET ROLE leadpipe_readonly")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM app_users")
