"""`leadpipe dedup` operators on a real database: override, unmerge, explain, file, run."""

from __future__ import annotations

import io
from pathlib import Path

import psycopg
import pyarrow.csv as pacsv
import pytest
from rich.console import Console
from typer.testing import CliRunner

from dedup_ray.cli import app, demo_step
from dedup_ray.database import load_people
from dedup_ray.runs import run_dedup
from dedup_ray.synthetic import synthetic_people
from leadpipe.errors import UserError

runner = CliRunner()


@pytest.fixture
def resolved(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database with 3000 synthetic people after a full dedup run; DATABASE_URL set."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    people, _ = synthetic_people(3000, seed=5)
    with psycopg.connect(db_url) as conn:
        load_people(conn, people)
    run_dedup(db_url, "full", use_ray=False)
    return db_url


def _cluster(conn: psycopg.Connection) -> tuple[int, list[int]]:
    """A golden record with at least two duplicates, all matched to it by a tier."""
    return conn.execute(
        "SELECT original_id, array_agg(duplicate_id ORDER BY duplicate_id) "
        "FROM person_duplicates WHERE (score_parts ->> 'tier')::int > 0 "
        "GROUP BY original_id HAVING count(*) >= 2 ORDER BY original_id LIMIT 1"
    ).fetchone()


def _audit(conn: psycopg.Connection, since: int) -> list[tuple]:
    return conn.execute(
        "SELECT action, original_person_id, duplicate_person_id, actor FROM dedup_audit_log "
        "WHERE id > %s ORDER BY id", (since,)).fetchall()


def _last_audit_id(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT coalesce(max(id), 0) FROM dedup_audit_log").fetchone()[0]


def test_explain_prints_stored_and_computed_score_parts(resolved: str) -> None:
    with psycopg.connect(resolved) as conn:
        golden, (dup, *_) = _cluster(conn)
        reason = conn.execute("SELECT match_reason FROM person_duplicates "
                              "WHERE duplicate_id = %s", (dup,)).fetchone()[0]
        stranger = conn.execute("SELECT id FROM persons WHERE is_original AND id <> %s "
                                "AND golden_id IS NULL ORDER BY id LIMIT 1",
                                (golden,)).fetchone()[0]
    stored = runner.invoke(app, ["explain", str(golden), str(dup)])
    assert stored.exit_code == 0, stored.output
    assert reason in stored.output and "(stored)" in stored.output
    assert "address_similarity" in stored.output and "same cluster" in stored.output

    computed = runner.invoke(app, ["explain", str(dup), str(stranger)])
    assert computed.exit_code == 0, computed.output
    assert "(computed)" in computed.output and "name_similarity" in computed.output

    missing = runner.invoke(app, ["explain", str(dup), "99999999"])
    assert isinstance(missing.exception, UserError)


def test_override_makes_a_duplicate_golden_and_is_audited(resolved: str) -> None:
    with psycopg.connect(resolved) as conn:
        golden, (chosen, *_) = _cluster(conn)
        since = _last_audit_id(conn)

    result = runner.invoke(app, ["override", "--golden", str(chosen), "--actor", "alice"])
    assert result.exit_code == 0, result.output

    with psycopg.connect(resolved) as conn:
        state = conn.execute("SELECT is_original, manual_override FROM persons WHERE id = %s",
                             (chosen,)).fetchone()
        assert state == (True, True)
        audit = _audit(conn, since)
        assert audit[0] == ("override", chosen, golden, "alice")
        old_golden = conn.execute("SELECT golden_id FROM persons WHERE id = %s",
                                  (golden,)).fetchone()[0]
        # The old golden record follows unless the chain guard splits it off.
        assert old_golden in (chosen, None)
        if old_golden == chosen:
            assert ("golden_change", chosen, golden, "alice") in audit
        lineage = conn.execute("SELECT action, related_person_id FROM person_lineage "
                               "WHERE person_id = %s AND action = 'override'",
                               (chosen,)).fetchall()
        assert lineage == [("override", golden)]
        assert conn.execute("SELECT count(*) FROM dedup_queue").fetchone() == (0,)

    # The override holds on later runs.
    again = run_dedup(resolved, "full", use_ray=False)
    assert again.counts["golden_changes"] == again.counts["merges"] == 0


def test_unmerge_separates_for_good(resolved: str) -> None:
    with psycopg.connect(resolved) as conn:
        golden, (separated, *_) = _cluster(conn)
        since = _last_audit_id(conn)

    result = runner.invoke(app, ["unmerge", str(separated), "--actor", "bob"])
    assert result.exit_code == 0, result.output

    with psycopg.connect(resolved) as conn:
        assert conn.execute("SELECT is_original, golden_id FROM persons WHERE id = %s",
                            (separated,)).fetchone() == (True, None)
        assert conn.execute("SELECT count(*) FROM person_duplicates WHERE duplicate_id = %s",
                            (separated,)).fetchone() == (0,)
        assert ("unmerge", golden, separated, "bob") in _audit(conn, since)
        assert conn.execute("SELECT action, related_person_id FROM person_lineage "
                            "WHERE person_id = %s AND action = 'unmerged'",
                            (separated,)).fetchall() == [("unmerged", golden)]
        assert conn.execute("SELECT count(*) FROM dedup_exclusions WHERE %s IN "
                            "(person_id, other_id)", (separated,)).fetchone()[0] >= 2
        since = _last_audit_id(conn)

    # Neither a full run nor a daily run merges it back.
    full = run_dedup(resolved, "full", use_ray=False)
    assert full.counts["excluded_pairs"] >= 1
    assert {k: full.counts[k] for k in ("merges", "golden_changes", "unmerges")} == {
        "merges": 0, "golden_changes": 0, "unmerges": 0}
    touch = ("UPDATE persons SET source_updated_at = source_updated_at - interval '1 second' "
             "WHERE id = %s")
    with psycopg.connect(resolved) as conn:
        conn.execute(touch, (separated,))
    assert run_dedup(resolved, "incremental", use_ray=False).counts["rows"] >= 2
    with psycopg.connect(resolved) as conn:
        assert conn.execute("SELECT is_original FROM persons WHERE id = %s",
                            (separated,)).fetchone() == (True,)
        assert [a for a in _audit(conn, since) if separated in a[1:3]] == []
        # It is the exclusions that keep it apart: without them it merges back.
        conn.execute("DELETE FROM dedup_exclusions")
        conn.execute(touch, (separated,))
    run_dedup(resolved, "incremental", use_ray=False)
    with psycopg.connect(resolved) as conn:
        assert ("merge", golden, separated, None) in _audit(conn, since)

    golden_again = runner.invoke(app, ["unmerge", str(golden)])
    assert isinstance(golden_again.exception, UserError)


def test_run_command_reports_golden_counts(resolved: str) -> None:
    result = runner.invoke(app, ["run", "--incremental", "--no-ray"])
    assert result.exit_code == 0, result.output
    assert "golden records" in result.output and "people resolved" in result.output
    full = runner.invoke(app, ["run", "--no-ray"])
    assert full.exit_code == 0, full.output
    assert "3,000" in full.output


def test_file_command_cleans_a_list(tmp_path: Path) -> None:
    people, _ = synthetic_people(400, seed=9)
    source, target = tmp_path / "list.csv", tmp_path / "clean.csv"
    listed = people.drop_columns(["id"])
    names = ["First Name" if c == "first_name" else c for c in listed.column_names]
    pacsv.write_csv(listed.rename_columns(names), source)

    result = runner.invoke(app, ["file", str(source), "--out", str(target), "--no-ray",
                                 "--map", "first_name=First Name"])
    assert result.exit_code == 0, result.output
    clean = pacsv.read_csv(target)
    assert clean.num_rows == 400
    golden = clean.filter(clean.column("is_original"))
    assert 0 < golden.num_rows < 400
    assert f"{golden.num_rows:,} golden records" in result.output

    bad = runner.invoke(app, ["file", str(source), "--out", str(target), "--map", "first_name"])
    assert isinstance(bad.exception, UserError)


def test_demo_step_prints_golden_counts_and_one_explained_merge(resolved: str) -> None:
    out = Console(file=io.StringIO(), width=120)
    summary = demo_step(out)
    text = out.file.getvalue()
    assert f"{summary.golden['golden_records']:,} golden records" in text
    assert "this run: 0 merges" in text, "the run after the fixture's changes nothing"
    assert "(stored)" in text and "address_similarity" in text
