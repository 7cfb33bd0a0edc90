"""Dedup against PostgreSQL: write-back, stability, incremental runs, the change queue."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from dedup_ray import DedupSettings, run, runs, writeback
from dedup_ray.database import load_people, read_people
from dedup_ray.runs import run_dedup
from dedup_ray.synthetic import synthetic_people

CHANGES = ("persons_changed", "merges", "golden_changes", "unmerges", "rescored",
           "keys_rewritten", "keys_moved")

SNAPSHOT = {
    "persons": "SELECT id, is_original, golden_id, manual_override, updated_at "
               "FROM persons ORDER BY id",
    "person_duplicates": "SELECT * FROM person_duplicates ORDER BY duplicate_id",
    "dedup_audit_log": "SELECT * FROM dedup_audit_log ORDER BY id",
    "person_lineage": "SELECT * FROM person_lineage ORDER BY id",
    "dedup_person_keys": "SELECT * FROM dedup_person_keys ORDER BY person_id",
    "dedup_band_keys": "SELECT * FROM dedup_band_keys ORDER BY band, bucket_hash, person_id",
    "dedup_exclusions": "SELECT * FROM dedup_exclusions ORDER BY person_id, other_id",
}
#: What a full run on the same final data must reproduce (timestamps and run ids aside).
RESULT = {
    "persons": "SELECT id, is_original, golden_id FROM persons ORDER BY id",
    "person_duplicates": "SELECT duplicate_id, original_id, match_score, match_reason, "
                         "score_parts FROM person_duplicates ORDER BY duplicate_id",
    "dedup_person_keys": "SELECT * FROM dedup_person_keys ORDER BY person_id",
    "dedup_band_keys": "SELECT * FROM dedup_band_keys ORDER BY band, bucket_hash, person_id",
}
FOREIGN_KEYS = (
    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE contype IN ('f', 'p') UNION ALL "
    "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
    "ORDER BY 1, 2, 3"
)


@pytest.fixture(scope="module")
def population() -> tuple[pa.Table, np.ndarray]:
    return synthetic_people(3000, seed=5)


@pytest.fixture
def other_db_url(pg_server: str, migrated_template: str) -> Iterator[str]:
    """A second fresh database, for comparing two histories of the same data."""
    name = f"lp_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"')
    params = conninfo_to_dict(pg_server)
    params["dbname"] = name
    yield make_conninfo(**params)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _load(url: str, people: pa.Table) -> None:
    with psycopg.connect(url) as conn:
        load_people(conn, people)


def _rows(url: str, queries: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url) as conn:
        return {name: conn.execute(q).fetchall() for name, q in queries.items()}


def _expected(url: str) -> Any:
    """The core's result on the people as stored (what the write-back must hold)."""
    with psycopg.connect(url) as conn, conn.transaction():
        return run(read_people(conn), DedupSettings(), use_ray=False)


def test_full_run_writes_back_every_table(db_url: str, population) -> None:
    people, _ = population
    _load(db_url, people)
    expected = _expected(db_url)
    summary = run_dedup(db_url, "full", use_ray=False)

    a = expected.assignments
    dups = a.filter(pc.invert(a.column("is_golden")))
    with psycopg.connect(db_url) as conn:
        persons = conn.execute("SELECT id, is_original, coalesce(golden_id, id) FROM persons "
                               "ORDER BY id").fetchall()
        assert [r[0] for r in persons] == a.column("person_id").to_pylist()
        assert [r[1] for r in persons] == a.column("is_golden").to_pylist()
        assert [r[2] for r in persons] == a.column("golden_id").to_pylist()

        stored = conn.execute(
            "SELECT duplicate_id, original_id, match_score, match_reason, score_parts, "
            "dedup_run_id FROM person_duplicates ORDER BY duplicate_id").fetchall()
        assert [(r[0], r[1]) for r in stored] == list(
            zip(dups["person_id"].to_pylist(), dups["golden_id"].to_pylist(), strict=True))
        assert [float(r[2]) for r in stored] == pytest.approx(dups["match_score"].to_pylist())
        assert [r[3] for r in stored] == dups["match_reason"].to_pylist()
        assert [r[4]["tier"] for r in stored] == dups["match_tier"].to_pylist()
        parts = dups["score_parts"].to_pylist()
        assert [r[4]["address_similarity"] for r in stored] == [p["address_similarity"]
                                                               for p in parts]
        assert {r[5] for r in stored} == {summary.run_id}

        audit = conn.execute(
            "SELECT job_id::text, action, original_person_id, duplicate_person_id, match_score,"
            " merged_fields, actor FROM dedup_audit_log ORDER BY duplicate_person_id").fetchall()
        assert len(audit) == dups.num_rows == summary.counts["merges"]
        assert {(r[0], r[1], r[6]) for r in audit} == {(summary.job_id, "merge", None)}
        assert [(r[2], r[3]) for r in audit] == [(r[1], r[0]) for r in stored]
        fields = expected.merged_fields.to_pylist()
        donated = {(f["from_person_id"], f["field"]): f["value"] for f in fields
                   if f["from_person_id"] != f["golden_id"]}
        from_audit = {(r[3], k): v["value"] for r in audit for k, v in r[5].items()}
        assert from_audit == donated

        lineage = conn.execute(
            "SELECT person_id, related_person_id, action, fields, dedup_run_id "
            "FROM person_lineage ORDER BY related_person_id").fetchall()
        assert [(r[0], r[1]) for r in lineage] == [(r[1], r[0]) for r in stored]
        assert {(r[2], r[4]) for r in lineage} == {("merged_from", summary.run_id)}
        assert sum(len(r[3]) for r in lineage) == len(donated)

        keys = expected.band_keys()
        real = keys.filter(pc.greater_equal(keys.column("band"), 0))
        band_rows = conn.execute("SELECT person_id, band, bucket_hash FROM dedup_band_keys "
                                 "ORDER BY person_id, band").fetchall()
        assert band_rows == list(zip(*(real[c].to_pylist() for c in real.column_names),
                                     strict=True))
        pseudo = conn.execute("SELECT person_id, subkey, component_id FROM dedup_person_keys "
                              "ORDER BY person_id").fetchall()
        assert [r[2] for r in pseudo] == a.column("component_id").to_pylist()

        status, mode, parameters, counts, timings, finished = conn.execute(
            "SELECT status, mode, parameters, counts, timings, finished_at FROM dedup_runs "
            "WHERE id = %s", (summary.run_id,)).fetchone()
        assert (status, mode, parameters) == ("COMPLETE", "full", DedupSettings().to_dict())
        assert counts["duplicates"] == counts["merges"] == dups.num_rows
        assert counts["keys_rewritten"] == people.num_rows
        assert {"read", "normalize_and_keys", "blocking", "scoring", "golden",
                "write_golden", "write_keys", "total"} <= set(timings)
        assert finished is not None
        assert conn.execute("SELECT count(*) FROM dedup_queue").fetchone() == (0,)
    assert summary.golden["golden_records"] == people.num_rows - dups.num_rows


def test_rerun_on_unchanged_data_changes_nothing(db_url: str, population) -> None:
    people, _ = population
    _load(db_url, people)
    run_dedup(db_url, "full", use_ray=False)
    before = _rows(db_url, SNAPSHOT)

    again = run_dedup(db_url, "full", use_ray=False)
    daily = run_dedup(db_url, "incremental", use_ray=False)

    assert _rows(db_url, SNAPSHOT) == before
    assert {k: again.counts[k] for k in CHANGES} == dict.fromkeys(CHANGES, 0)
    assert again.counts["duplicates"] > 0
    assert daily.counts["rows"] == 0
    with psycopg.connect(db_url) as conn:
        runs = conn.execute("SELECT status, counts->>'merges' FROM dedup_runs ORDER BY id")
        assert runs.fetchall() == [("COMPLETE", str(len(before["person_duplicates"]))),
                                   ("COMPLETE", "0"), ("COMPLETE", "0")]


def test_large_write_back_restores_every_constraint(
    db_url: str, population, monkeypatch: pytest.MonkeyPatch
) -> None:
    people, _ = population
    _load(db_url, people)
    with psycopg.connect(db_url) as conn:
        constraints = conn.execute(FOREIGN_KEYS).fetchall()
    expected = _expected(db_url).assignments
    monkeypatch.setattr(writeback, "BULK_ROWS", 10)
    summary = run_dedup(db_url, "full", use_ray=False)
    assert summary.counts["bulk_write"] == 1

    with psycopg.connect(db_url) as conn:
        assert conn.execute(FOREIGN_KEYS).fetchall() == constraints
        golden = conn.execute("SELECT coalesce(golden_id, id) FROM persons ORDER BY id")
        assert [r[0] for r in golden] == expected.column("golden_id").to_pylist()
        pairs = conn.execute("SELECT count(*) FROM person_duplicates").fetchone()[0]
        keys = conn.execute("SELECT count(*) FROM dedup_band_keys").fetchone()[0]
    assert pairs == summary.counts["duplicates"]
    assert keys > 10 * summary.counts["rows"]
    before = _rows(db_url, SNAPSHOT)
    assert run_dedup(db_url, "full", use_ray=False).counts["bulk_write"] == 0
    assert _rows(db_url, SNAPSHOT) == before


def test_failed_run_is_recorded_and_writes_nothing(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    people, _ = synthetic_people(500, seed=2)
    _load(db_url, people)
    before = _rows(db_url, SNAPSHOT)

    def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(writeback, "_write_keys", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run_dedup(db_url, "full", use_ray=False)
    assert _rows(db_url, SNAPSHOT) == before
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT status, error FROM dedup_runs").fetchone()
        assert row == ("FAILED", "RuntimeError: disk full")
        leftover = conn.execute("SELECT to_regclass('dedup_band_keys_next')").fetchone()
        assert leftover == (None,)
        queued = conn.execute("SELECT count(DISTINCT person_id) FROM dedup_queue").fetchone()
        assert queued == (500,)


def test_incremental_equals_full_on_the_same_final_data(
    db_url: str, other_db_url: str
) -> None:
    people, _ = synthetic_people(3000, seed=8)
    rng = np.random.default_rng(2)
    is_new = np.zeros(people.num_rows, dtype=np.bool_)
    is_new[rng.choice(people.num_rows, 300, replace=False)] = True
    before, new = people.filter(pa.array(~is_new)), people.filter(pa.array(is_new))
    with_phone = before.filter(pc.is_valid(before.column("phone_e164"))).column("id")
    changed = rng.choice(with_phone.to_numpy(), 40, replace=False).tolist()
    change = "UPDATE persons SET primary_phone_e164 = NULL WHERE id = ANY(%s)"

    _load(db_url, before)
    run_dedup(db_url, "full", use_ray=False)
    _load(db_url, new)
    with psycopg.connect(db_url) as conn:
        conn.execute(change, (changed,))
        queued = conn.execute("SELECT count(DISTINCT person_id) FROM dedup_queue").fetchone()
    assert queued == (340,)
    daily = run_dedup(db_url, "incremental", use_ray=False)
    assert daily.counts["rows"] < people.num_rows / 2, "cost follows the new rows"
    assert daily.counts["merges"] > 0

    _load(other_db_url, people)
    with psycopg.connect(other_db_url) as conn:
        conn.execute(change, (changed,))
    run_dedup(other_db_url, "full", use_ray=False)

    incremental, full = _rows(db_url, RESULT), _rows(other_db_url, RESULT)
    for table in RESULT:
        assert incremental[table] == full[table], table


def test_newer_record_takes_over_as_golden_and_it_is_audited(db_url: str, population) -> None:
    people, _ = population
    _load(db_url, people)
    run_dedup(db_url, "full", use_ray=False)
    with psycopg.connect(db_url) as conn:
        golden, members = conn.execute(
            "SELECT original_id, array_agg(duplicate_id ORDER BY duplicate_id) "
            "FROM person_duplicates GROUP BY original_id HAVING count(*) >= 2 "
            "ORDER BY original_id LIMIT 1").fetchone()
        newest = conn.execute("SELECT max(source_updated_at) FROM persons").fetchone()[0]
        copy = read_people(conn, np.array([golden]))
    twin = copy.set_column(0, "id", pa.array([10_000_000], pa.int64()))
    twin = twin.set_column(twin.schema.get_field_index("source_updated_at"),
                           "source_updated_at", pa.array([newest], twin["source_updated_at"].type))
    _load(db_url, twin)
    daily = run_dedup(db_url, "incremental", use_ray=False)

    assert daily.counts["golden_changes"] == 1
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT is_original, golden_id FROM persons WHERE id = %s",
                            (golden,)).fetchone() == (False, 10_000_000)
        audit = dict(conn.execute(
            "SELECT duplicate_person_id, action FROM dedup_audit_log a JOIN dedup_runs r "
            "ON r.job_id = a.job_id WHERE r.id = %s AND original_person_id = 10000000",
            (daily.run_id,)).fetchall())
    assert audit[golden] == "golden_change"
    assert {audit[m] for m in members if m in audit} <= {"merge"}


def test_changes_to_what_matching_reads_are_queued(db_url: str) -> None:
    people, _ = synthetic_people(50, seed=4)
    _load(db_url, people)
    run_dedup(db_url, "full", use_ray=False)

    def queued(statement: str) -> set[int]:
        with psycopg.connect(db_url) as conn:
            conn.execute("DELETE FROM dedup_queue")
            conn.execute(statement)
            return {r[0] for r in conn.execute("SELECT person_id FROM dedup_queue")}

    assert queued("UPDATE persons SET updated_at = now(), is_original = is_original") == set()
    assert queued("UPDATE persons SET first_name = 'Zed' WHERE id = 3") == {3}
    assert queued("UPDATE persons SET manual_override = true WHERE id = 4") == {4}
    assert queued("UPDATE addresses SET street = '9 Elm St' WHERE person_id = 5") == {5}
    assert queued("INSERT INTO addresses (person_id, street) VALUES (6, '1 Oak Rd')") == {6}
    assert queued("DELETE FROM addresses WHERE person_id = 7") == {7}
    assert queued("INSERT INTO persons (first_name) VALUES ('New')") == {51}


def test_band_keys_lost_in_a_crash_are_rebuilt(db_url: str, population) -> None:
    """dedup_band_keys is unlogged: crash recovery empties it, the next run rebuilds it."""
    people, _ = population
    _load(db_url, people)
    run_dedup(db_url, "full", use_ray=False)
    before = _rows(db_url, SNAPSHOT)
    with psycopg.connect(db_url) as conn:
        conn.execute("TRUNCATE dedup_band_keys")

    daily = run_dedup(db_url, "incremental", use_ray=False)

    assert daily.counts["rows"] == 0
    assert _rows(db_url, SNAPSHOT) == before


def test_queue_rows_committed_during_a_run_stay_queued(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run empties the queue at once only when it holds nothing the run did not read."""
    people, _ = synthetic_people(300, seed=3)
    _load(db_url, people)
    monkeypatch.setattr(runs, "QUEUE_TRUNCATE_ROWS", 1)
    real_write_back = runs.write_back

    def write_back_while_someone_queues(*args: Any, **kwargs: Any) -> Any:
        with psycopg.connect(db_url) as other:
            other.execute("UPDATE persons SET first_name = 'Zed' WHERE id = 3")
        return real_write_back(*args, **kwargs)

    monkeypatch.setattr(runs, "write_back", write_back_while_someone_queues)
    run_dedup(db_url, "full", use_ray=False)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT person_id FROM dedup_queue").fetchall() == [(3,)]

    monkeypatch.setattr(runs, "write_back", real_write_back)
    run_dedup(db_url, "incremental", use_ray=False)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM dedup_queue").fetchone() == (0,)
