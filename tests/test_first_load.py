"""A first load (DuckDB upsert, one COPY at the end) leaves exactly the tables of the chunked
upsert_persons path, ids included; it refuses person tables that hold rows, and a run that
dies before its write leaves no person and starts anew."""

from __future__ import annotations

import psycopg
import pyarrow as pa
import pytest
from test_migration import Flaky
from test_person_upsert import ROUTED, STAGED, new_batch, realistic_rows, stage

from db import migrate
from db.queries import sql
from leadpipe import tenant as tenant_config
from leadpipe.errors import UserError
from sampledata.legacy import LegacyOptions, generate_legacy
from tasks import first_load, migration
from tasks.first_load import FirstLoad
from tasks.migration import migrate_sources
from tasks.sources import open_source

DEMO = tenant_config.load("demo")

# Every column but the timestamps of the writes themselves (created_at, updated_at).
TABLES = {
    "persons": """SELECT id, name_prefix, first_name, middle_name, last_name, name_suffix,
                         full_name_raw, primary_email, primary_phone_e164, zip5, is_original,
                         golden_id, source_system, source_updated_at, first_batch_id,
                         last_batch_id
                  FROM persons ORDER BY id""",
    "phone_numbers": """SELECT id, person_id, phone_raw, phone_e164, phone_type, is_primary,
                               dnc_status, source_batch_id
                        FROM phone_numbers ORDER BY id""",
    "email_addresses": """SELECT id, person_id, email, is_valid, is_primary, verified,
                                 source_batch_id
                          FROM email_addresses ORDER BY id""",
    "addresses": """SELECT id, person_id, street, street2, city, state, zip, zip4, county,
                           address_raw, usps_normalized, is_primary, source_batch_id
                    FROM addresses ORDER BY id""",
    "person_lineage": """SELECT id, person_id, batch_id, source_file, source_row_number,
                                source_key, action, fields, merge_reason
                         FROM person_lineage ORDER BY id""",
    "audit": """SELECT batch_id, operation, record_count, details FROM import_audit_log
                WHERE operation IN ('INSERT', 'UPDATE') ORDER BY batch_id, id""",
    "queued": "SELECT DISTINCT person_id FROM dedup_queue ORDER BY 1",
    "batches": """SELECT b.id, b.filename, b.status, b.row_count, b.success_count,
                         b.error_count, c.last_row_number, c.rows_read
                  FROM import_batches b LEFT JOIN import_checkpoints c ON c.batch_id = b.id
                  ORDER BY b.id""",
    "staged": "SELECT batch_id, count(*) FROM stg_person GROUP BY 1 ORDER BY 1",
    "next_person": "SELECT nextval(pg_get_serial_sequence('persons', 'id'))",
}


def tables(url: str) -> dict[str, list]:
    with psycopg.connect(url) as conn:
        return {name: conn.execute(query).fetchall() for name, query in TABLES.items()}


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    out = tmp_path_factory.mktemp("legacy")
    generate_legacy(LegacyOptions(rows=4000, seed=11, out=out))
    return sorted(str(p) for p in out.rglob("*") if p.suffix in (".csv", ".sql", ".sqlite"))


def run(url: str, files: list[str], **options: object) -> list[dict]:
    with psycopg.connect(url) as conn:
        runs = migrate_sources(conn, [open_source(f, DEMO) for f in files], batch_rows=250,
                               **options)
        return [r.to_dict() for r in runs]


def test_a_first_load_leaves_the_tables_of_the_chunked_upsert(
        legacy: list[str], db_url: str, empty_db: str) -> None:
    # Small chunks, so that later chunks match, update and re-route the people of earlier
    # ones (several passes), as a million-row load's chunks do.
    migrate.upgrade(empty_db)
    chunked = run(empty_db, legacy)
    loaded = run(db_url, legacy, first_load=True)
    assert loaded == chunked
    expected, got = tables(empty_db), tables(db_url)
    assert {name: len(rows) for name, rows in got.items()} == {
        name: len(rows) for name, rows in expected.items()}
    for name in TABLES:
        assert got[name] == expected[name], name
    assert sum(r["rows_read"] for r in loaded) == 4000
    # The load queued its people itself, and turned the queue's triggers back on.
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "SELECT tgname, tgenabled FROM pg_trigger WHERE tgname LIKE '%dedup_queue_insert' "
            "ORDER BY 1").fetchall() == [("addresses_dedup_queue_insert", "A"),
                                         ("persons_dedup_queue_insert", "A")]


@pytest.mark.parametrize("opted_out", [False, True])
def test_a_first_load_writes_new_files_unless_a_referencing_table_holds_rows(
        legacy: list[str], db_url: str, opted_out: bool) -> None:
    # New files (TRUNCATE) take no WAL on a minimal-WAL server; an opt-out nobody matched yet
    # must survive the load, so then the tables are filled as they stand.
    with psycopg.connect(db_url) as conn:
        if opted_out:
            conn.execute("INSERT INTO opt_outs (channel, contact_value, source) "
                         "VALUES ('email', 'ann@example.com', 'test')")
        files = conn.execute("SELECT pg_relation_filenode('persons'), "
                             "pg_relation_filenode('mail_pieces')").fetchone()
    (loaded,) = run(db_url, legacy[:1], first_load=True)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM persons").fetchone()[0] == loaded["inserted"]
        assert conn.execute("SELECT contact_value FROM opt_outs").fetchall() == (
            [("ann@example.com",)] if opted_out else [])
        now = conn.execute("SELECT pg_relation_filenode('persons'), "
                           "pg_relation_filenode('mail_pieces')").fetchone()
    assert [a != b for a, b in zip(files, now, strict=True)] == [not opted_out] * 2


# Rows a call routes again (ROUTED: a second pass), the realistic rows of many people in
# several calls, and a call repeated (it changes nothing).
CALLS = [(1, 1, 6), (1, 1, 6), (2, 1, 150), (2, 151, 420), (3, 1, 200), (3, 201, 420)]


@pytest.mark.parametrize(("compact_bytes", "read_at"), [
    (FirstLoad.COMPACT_BYTES, None), (0, None), (FirstLoad.COMPACT_BYTES, 2), (0, 0)])
def test_each_call_equals_upsert_persons(db_url: str, empty_db: str, compact_bytes: int,
                                         read_at: int | None) -> None:
    # (compact_bytes 0: every call ends with a checkpoint, which changes no result; read_at:
    # every source is read before that call, so that from then on each call sends its
    # people, the people of earlier calls it changed deleted and sent again)
    migrate.upgrade(empty_db)
    people = realistic_rows(120)
    staged = {1: ROUTED, 2: people[:420], 3: list(reversed(people))[:420]}
    with psycopg.connect(empty_db) as conn, psycopg.connect(db_url) as target:
        for number, rows in staged.items():
            assert new_batch(conn) == new_batch(target) == number
            stage(conn, number, rows)
        conn.commit()
        target.commit()
        loader = FirstLoad(db_url, compact_bytes=compact_bytes)
        resent: list[list[int]] = []
        execute = loader._writer.execute

        def recording(statement: str, params: dict[str, object]) -> None:
            if statement == sql("first_load_resent_people"):
                resent.append(params["ids"])
            execute(statement, params)

        loader._writer.execute = recording
        for call, (batch, first, last) in enumerate(CALLS):
            if call == read_at:
                loader.reading_done()
            expected = conn.execute("SELECT * FROM upsert_persons(%s, %s, %s)",
                                    (batch, first, last)).fetchone()
            assert loader.upsert(batch, "legacy.csv", staged_rows(conn, batch, first, last),
                                 first, last) == expected
        conn.commit()
        loader.finish()
        loader.close()
    assert loader.checkpoints == (len(CALLS) if compact_bytes == 0 else 0)
    # Once sent, a person is sent again by each later call that changes it (its lineage:
    # an update, or child rows added), and deleted first.
    with psycopg.connect(empty_db) as conn:
        changed = [conn.execute(CHANGED_STORED, {"batch": batch, "first": first, "last": last}
                                ).fetchone()[0] for batch, first, last in CALLS]
    later = [] if read_at is None else [n for n in changed[read_at + 1:] if n]
    assert [len(ids) for ids in resent] == later == {None: [], 2: [52], 0: [1, 52]}[read_at]
    expected, got = tables(empty_db), tables(db_url)
    for name in ("persons", "phone_numbers", "email_addresses", "addresses",
                 "person_lineage", "audit", "queued", "next_person"):
        assert got[name] == expected[name], name
    passes = [d["passes"] for _, op, _, d in got["audit"] if op == "INSERT"]
    assert passes == [2, 2, 1, 1]  # two calls re-routed rows; two changed nothing, no audit


# The people a call changed that earlier calls had made.
CHANGED_STORED = """
    SELECT count(DISTINCT l.person_id) FROM person_lineage l
    WHERE l.batch_id = %(batch)s AND l.source_row_number BETWEEN %(first)s AND %(last)s
      AND l.action IN ('update', 'matched')
      AND NOT EXISTS (SELECT 1 FROM person_lineage i
                      WHERE i.person_id = l.person_id AND i.action = 'insert'
                        AND i.batch_id = %(batch)s
                        AND i.source_row_number BETWEEN %(first)s AND %(last)s)"""


def staged_rows(conn: psycopg.Connection, batch: int, first: int, last: int) -> pa.Table:
    """A call's staged rows as the migration hands them over (the columns of stg_person)."""
    cur = conn.execute(
        f"SELECT row_number, {', '.join(STAGED)} FROM stg_person "
        "WHERE batch_id = %s AND row_number BETWEEN %s AND %s ORDER BY row_number",
        (batch, first, last))
    names = [c.name for c in cur.description]
    columns = list(zip(*cur.fetchall(), strict=True))
    types = {"row_number": pa.int64(), "source_created_at": pa.timestamp("us", "UTC"),
             "source_updated_at": pa.timestamp("us", "UTC")}
    return pa.table({name: pa.array(values, types.get(name, pa.string()))
                     for name, values in zip(names, columns, strict=True)})


def test_a_first_load_refuses_person_tables_that_hold_rows(legacy: list[str],
                                                           db_url: str) -> None:
    run(db_url, legacy[:1])
    with pytest.raises(UserError, match="a first load needs empty person tables; persons"):
        run(db_url, legacy[1:], first_load=True)


def test_a_first_load_that_dies_before_its_write_starts_anew(
        legacy: list[str], db_url: str, empty_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Everything is staged and checkpointed, the child rows and lineage are written, then the
    # write of the people at the end fails: the load's transaction leaves nothing. The next
    # run supersedes the staged runs and ends as an uninterrupted one.
    migrate.upgrade(empty_db)
    uninterrupted = run(empty_db, legacy, first_load=True)
    real = first_load.copy_arrow

    def dies_at_people(conn: psycopg.Connection, table: str, data: object) -> int:
        if table == "persons":
            raise psycopg.OperationalError("server closed the connection")
        return real(conn, table, data)

    monkeypatch.setattr(first_load, "copy_arrow", dies_at_people)
    with pytest.raises(psycopg.OperationalError):
        run(db_url, legacy, first_load=True)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT (SELECT count(*) FROM persons), "
                            "(SELECT count(*) FROM person_lineage)").fetchone() == (0, 0)
        assert conn.execute("SELECT count(DISTINCT batch_id) FROM import_checkpoints"
                            ).fetchone() == (len(legacy),)
    monkeypatch.setattr(first_load, "copy_arrow", real)
    again = run(db_url, legacy, first_load=True)
    assert [r["status"] for r in again] == [r["status"] for r in uninterrupted]
    assert batches_as_files(db_url) == batches_as_files(empty_db)


# The person tables with batches named by their files (the superseded run used batch ids up).
AS_FILES = {
    "persons": """SELECT p.id, p.first_name, p.last_name, p.primary_email, p.primary_phone_e164,
                         p.zip5, p.source_updated_at, f.filename, l.filename
                  FROM persons p JOIN import_batches f ON f.id = p.first_batch_id
                  JOIN import_batches l ON l.id = p.last_batch_id ORDER BY p.id""",
    "phone_numbers": """SELECT n.id, n.person_id, n.phone_raw, n.is_primary, b.filename
                        FROM phone_numbers n JOIN import_batches b ON b.id = n.source_batch_id
                        ORDER BY n.id""",
    "email_addresses": """SELECT a.id, a.person_id, a.email, a.is_primary, b.filename
                          FROM email_addresses a
                          JOIN import_batches b ON b.id = a.source_batch_id ORDER BY a.id""",
    "addresses": """SELECT a.id, a.person_id, a.street, a.zip, a.is_primary, b.filename
                    FROM addresses a JOIN import_batches b ON b.id = a.source_batch_id
                    ORDER BY a.id""",
    "person_lineage": """SELECT l.id, l.person_id, b.filename, l.source_row_number, l.action,
                                l.fields, l.merge_reason
                         FROM person_lineage l JOIN import_batches b ON b.id = l.batch_id
                         ORDER BY l.id""",
}


def batches_as_files(url: str) -> dict[str, list]:
    with psycopg.connect(url) as conn:
        return {name: conn.execute(query).fetchall() for name, query in AS_FILES.items()}


def test_calls_ramp_up_from_one_chunk_and_follow_the_row_counts_alone(
        legacy: list[str], db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Chunks of 50 rows read; calls of at most 200: 50, 100, 200, 200, ... rows, a source's
    # last call holding what is left; a dropped read resumed in between changes none of them.
    monkeypatch.setattr(FirstLoad, "READ_ROWS", 50)
    monkeypatch.setattr(migration, "BACKOFF_SECONDS", 0.0)
    first, second = (open_source(f, DEMO) for f in legacy[:2])
    with psycopg.connect(db_url) as conn:
        runs = list(migrate_sources(conn, [Flaky(first, until=180, failures=1), second],
                                    batch_rows=200, first_load=True))
        calls = conn.execute(
            "SELECT batch_id, (details ->> 'first_row')::int, (details ->> 'last_row')::int "
            "FROM import_audit_log WHERE operation = 'INSERT' ORDER BY id").fetchall()
    assert [r.reconciled for r in runs] == [True, True]
    sizes = {batch: [] for batch, _, _ in calls}
    for batch, low, high in calls:
        sizes[batch].append(high - low + 1)
    one, two = (sizes[r.batch_id] for r in runs)
    assert one[:3] == [50, 100, 200] and all(n == 200 for n in one[3:-1]) and one[-1] <= 200
    assert len(two) > 1 and all(n == 200 for n in two[:-1]) and two[-1] <= 200
    assert sum(one) == runs[0].rows_read and sum(two) == runs[1].rows_read


def test_duckdb_leaves_the_reader_a_core_until_every_source_is_read(
        legacy: list[str], db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The first call starts while the reader still has sources to read (it can be at most
    # CHUNKS_AHEAD and two chunks ahead); the last one, in finish, after it is done.
    threads: list[int] = []
    real = FirstLoad._run

    def run_section(self: FirstLoad, section: str, **params: object) -> object:
        result = real(self, section, **params)
        if section == "rows":
            threads.append(self._db.execute("SELECT current_setting('threads')").fetchone()[0])
        return result

    monkeypatch.setattr(FirstLoad, "_run", run_section)
    monkeypatch.setattr(FirstLoad, "CORES_WHILE_READING", 1)
    run(db_url, legacy, first_load=True)
    every = FirstLoad.CORES
    assert threads[0] == 1 and threads[-1] == every
    assert threads == sorted(threads) and set(threads) == {1, every}


@pytest.mark.parametrize("max_bytes", [1, first_load._Writer.MAX_BYTES])
def test_the_writer_copies_in_order_and_raises_its_error(db_url: str, max_bytes: int,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # (max_bytes 1: each table waits until the one before is written)
    monkeypatch.setattr(first_load._Writer, "MAX_BYTES", max_bytes)
    with psycopg.connect(db_url) as conn:
        conn.execute("CREATE TABLE written (n bigint)")
        writer = first_load._Writer(conn)
        for start in range(0, 50, 10):
            writer.put("written", pa.table({"n": pa.array(range(start, start + 10), pa.int64())}))
        writer.execute("INSERT INTO written VALUES (%(n)s)", {"n": 50})
        writer.close()
        assert [n for (n,) in conn.execute("SELECT n FROM written").fetchall()] == list(range(51))
        failing = first_load._Writer(conn)
        failing.put("no_such_table", pa.table({"n": pa.array([1], pa.int64())}))
        with pytest.raises(psycopg.errors.UndefinedTable):
            failing.close()
