"""Writing a dedup result back to PostgreSQL: only what differs from what is stored.

Set-based: the results are COPYed into temporary tables and the statements in
``db/queries/dedup_*.sql`` compare them with what is stored (`dedup_changes.sql`) and
apply the differences: golden flags of the people whose golden record changed,
``person_duplicates`` rows of changed duplicates only, one ``dedup_audit_log`` row and one
``person_lineage`` row per merge, golden change and separation, and the band keys of
people whose keys changed. Writing an unchanged result therefore writes nothing.

Large write-backs (a first full run) drop the foreign keys of the tables they fill and
restore them at the end: one validating join instead of a check per row, which costs
about 12 us a row here. Where they change a large share of a table (`BULK_SHARE`: a third
of persons, the audit tables from empty) they also drop its indexes that back no
constraint and build them again after, sorted, instead of inserting at random into each
through a small buffer pool. Daily runs compare by index lookups per resolved person, so
their cost follows their people. A full reload of the band keys is built beside the live table on a
second connection while the run's own connection writes the results, and swapped in by
the run's transaction.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from db import connection
from db.queries import sql
from dedup_ray.database import fetch_packed
from dedup_ray.engine import DedupResult, Progress
from dedup_ray.store import key_state, write_band_keys, write_person_keys
from leadpipe.stages import StageClock
from tasks.copy import copy_arrow

#: Changed rows from which a write-back drops and restores foreign keys (see module doc).
BULK_ROWS = 50_000
WORK_MEM = "256MB"
MAINTENANCE_WORK_MEM = "1GB"
_BULK_TABLES = ["person_duplicates", "dedup_audit_log", "person_lineage", "dedup_person_keys"]
#: Share of a table's rows a bulk write-back changes from which it drops that table's
#: indexes that back no constraint (and, for ``persons``, its foreign keys) and builds them
#: again after (``0013_dedup_speed.sql``): row by row, 337k of 1M persons cost 44 s of
#: server CPU (index inserts, full-page images, ~30 us a ``golden_id`` check), against a few
#: seconds of sorted builds and one validating join.
BULK_SHARE = 0.1


@dataclass(frozen=True)
class RunIds:
    """The ``dedup_runs`` row of a run."""

    run_id: int
    job_id: str


def _assignments(result: DedupResult, stored: pa.Table | None) -> pa.Table:
    """Each person's new golden id (null: golden), only for people that may change.

    With the stored state of every person (`stored`: ``id``, ``is_original``,
    ``golden_id``), people who stay golden records are left out: neither their flags nor a
    person_duplicates row can change.
    """
    a = result.assignments
    golden = pc.if_else(a.column("is_golden"), pa.scalar(None, pa.int64()), a.column("golden_id"))
    table = pa.table({"person_id": a.column("person_id"), "golden_id": golden})
    if stored is None:
        return table
    pos = pc.index_in(a.column("person_id"), value_set=stored.column("id"))
    was_golden = pc.and_(
        pc.fill_null(stored.column("is_original").take(pos), False),
        pc.is_null(stored.column("golden_id").take(pos)),
    )
    stays = pc.and_(a.column("is_golden"), pc.fill_null(was_golden, False))
    return table.filter(pc.invert(stays))


def _duplicates(result: DedupResult) -> pa.Table:
    """Each duplicate's comparison with its golden record, parts flat (SQL builds the JSON)."""
    a = result.assignments
    dup = a.filter(pc.invert(a.column("is_golden")))
    parts = dup.column("score_parts").combine_chunks()
    return pa.table(
        {
            "duplicate_id": dup.column("person_id"),
            "original_id": dup.column("golden_id"),
            "match_score": dup.column("match_score"),
            "match_reason": dup.column("match_reason"),
            "tier": dup.column("match_tier"),
            "confidence": dup.column("match_confidence"),
            "golden_rule": dup.column("golden_rule"),
            **{name: parts.field(name) for name in (
                "name", "email", "phone", "address", "first_name", "name_distance",
                "name_similarity", "address_similarity",
            )},
        }
    )


def _donated_fields(result: DedupResult) -> pa.Table:
    """Survivorship values taken from a duplicate (the audit's merged_fields)."""
    fields = result.merged_fields
    return fields.filter(pc.not_equal(fields.column("from_person_id"), fields.column("golden_id")))


def _counts(conn: psycopg.Connection, name: str) -> dict[str, int]:
    cur = conn.execute(sql(name))
    names = [d.name for d in cur.description or []]
    return dict(zip(names, (int(v) for v in cur.fetchone() or ()), strict=True))


def write_back(
    conn: psycopg.Connection,
    result: DedupResult,
    ids: RunIds,
    *,
    full: bool,
    actor: str | None = None,
    progress: Progress | None = None,
    stored: pa.Table | None = None,
    url: str | None = None,
) -> tuple[dict[str, int], dict[str, float]]:
    """Apply a result to the database, changing only what differs from what is stored.

    Args:
        conn: a connection inside the run's transaction.
        result: the core's result over the people it covers (all of them when `full`).
        ids: the run's ``dedup_runs`` row.
        full: the result covers every person (a full reload of the keys is possible).
        actor: who caused the run (audit rows), None for scheduled runs.
        progress: optional ``progress(stage, done, total)`` callback.
        stored: the people as read (`read_people`, with ``golden_id``), when the result
            covers them all: people who stay golden records are then not sent.
        url: the database, for the second connection of a band-key reload.

    Returns:
        Write-back counts and per-step seconds.
    """
    clock = StageClock(progress, label="dedup stage")
    conn.execute(
        sql("dedup_session_settings"),
        {"work_mem": WORK_MEM, "maintenance_work_mem": MAINTENANCE_WORK_MEM},
    )
    # No stored keys yet (a first run): every person's keys are new, nothing to compare.
    fresh = not conn.execute(sql("dedup_person_keys_stored")).fetchone()[0]  # type: ignore[index]
    with clock.stage("write_copy_results"):
        for name in ("dedup_tmp_assign", "dedup_tmp_duplicates", "dedup_tmp_fields",
                     "dedup_tmp_key_state"):
            conn.execute(sql(name))
        copy_arrow(conn, "dedup_assign", _assignments(result, stored))
        copy_arrow(conn, "dedup_dup", _duplicates(result))
        copy_arrow(conn, "dedup_fields", _donated_fields(result))
        if not fresh:
            copy_arrow(conn, "dedup_key_state", key_state(result))
        # Real row counts: a full run's million-row joins hash, a daily run's few thousand
        # people are index lookups into the big tables (estimated from their size alone,
        # they were hash joins over all of persons, person_duplicates and the keys).
        conn.execute(sql("dedup_analyze_work"))
    with clock.stage("write_compare"):
        conn.execute(sql("dedup_changes"))
        counts = _counts(conn, "dedup_change_counts")
        conn.execute(sql("dedup_key_changes"))
        keys = _counts(conn, "dedup_key_change_counts")
    if fresh:
        keys["rekeyed"] = len(result.ids)
    changed = sum(counts.values()) + keys["rekeyed"]
    bulk = changed >= BULK_ROWS
    n = len(result.ids)
    # A first run (nothing stored) or a full run rewriting most keys (new settings) reloads
    # the band keys whole, on a second connection while this one writes the results.
    reload = fresh or (full and keys["rekeyed"] >= max(BULK_ROWS, n // 2))
    loader = _BandKeysReload(url, result) if reload else None
    try:
        if bulk:
            rebuilt = _rebuilt_tables(conn, counts)
            conn.execute(sql("dedup_fk_suspend"), {"tables": _BULK_TABLES})
            if "persons" in rebuilt:
                golden_fk = {"tables": ["persons"], "columns": ["golden_id"]}
                conn.execute(sql("dedup_fk_suspend_columns"), golden_fk)
            conn.execute(sql("dedup_indexes_suspend"), {"tables": rebuilt})
        params = {"run_id": ids.run_id, "job_id": ids.job_id, "actor": actor}
        with clock.stage("write_golden"):
            conn.execute(sql("dedup_persons_update"))
            conn.execute(sql("dedup_duplicates_delete"))
            conn.execute(sql("dedup_duplicates_insert"), params)
            conn.execute(sql("dedup_duplicates_rescore"), params)
        with clock.stage("write_audit"):
            conn.execute(sql("dedup_audit_insert"), params)
            conn.execute(sql("dedup_lineage_insert"), params)
        with clock.stage("write_keys"):
            rewritten = _write_keys(conn, result, rekeyed=keys["rekeyed"], loader=loader)
        if bulk:
            with clock.stage("write_constraints"):
                conn.execute(sql("dedup_indexes_restore"))
                conn.execute(sql("dedup_fk_restore"))
    finally:
        if loader is not None:
            loader.join()
    if loader is not None:
        clock.timings["write_band_keys_parallel"] = loader.seconds
    counts.update(
        keys_rewritten=rewritten,
        keys_moved=keys["moved"],
        bulk_write=int(bulk),
    )
    return counts, clock.timings


def _rebuilt_tables(conn: psycopg.Connection, counts: dict[str, int]) -> list[str]:
    """Tables whose indexes a bulk write-back builds again rather than maintains.

    Those of which it changes at least `BULK_SHARE` of the rows (estimated row counts).
    """
    entries = counts["merges"] + counts["golden_changes"]
    written = {
        "persons": counts["persons_changed"],
        "person_duplicates": entries,
        "dedup_audit_log": entries + counts["unmerges"],
        "person_lineage": entries + counts["unmerges"],
    }
    rows = dict(conn.execute(sql("dedup_table_rows"), {"tables": list(written)}).fetchall())
    return [t for t, n in written.items() if n > 0 and n >= BULK_SHARE * rows.get(t, 0)]


class _BandKeysReload:
    """Builds ``dedup_band_keys_next`` from a result on its own connection, in a thread.

    The table is committed by that connection, unused until the run's transaction swaps it
    in; if the run fails instead, it is dropped (`drop_reload`, or by the next reload).
    """

    def __init__(self, url: str | None, result: DedupResult) -> None:
        self.url = url or connection.database_url()
        self.error: BaseException | None = None
        self.seconds = 0.0
        self.thread = threading.Thread(target=self._load, args=(result,), daemon=True)
        self.thread.start()

    def _load(self, result: DedupResult) -> None:
        start = time.perf_counter()
        try:
            with psycopg.connect(self.url) as conn:
                conn.execute(
                    sql("dedup_session_settings"),
                    {"work_mem": WORK_MEM, "maintenance_work_mem": MAINTENANCE_WORK_MEM},
                )
                conn.execute(sql("dedup_band_keys_next_drop"))
                conn.execute(sql("dedup_band_keys_next_create"))
                write_band_keys(conn, result, np.arange(len(result.ids)), reload=True)
                conn.execute(sql("dedup_band_keys_next_index"))
                conn.execute(sql("dedup_band_keys_next_analyze"))
        except BaseException as exc:  # re-raised in the run's thread by `wait`
            self.error = exc
        self.seconds = round(time.perf_counter() - start, 4)

    def join(self) -> None:
        self.thread.join()

    def wait(self) -> None:
        """Wait for the table; raises what the loading raised."""
        self.join()
        if self.error is not None:
            raise self.error


def drop_reload(conn: psycopg.Connection) -> None:
    """Drop a reloaded band-key table that no transaction swapped in."""
    conn.execute(sql("dedup_band_keys_next_drop"))


def _write_keys(
    conn: psycopg.Connection,
    result: DedupResult,
    *,
    rekeyed: int,
    loader: _BandKeysReload | None,
) -> int:
    """Store the band keys of people whose keys changed; returns how many people."""
    conn.execute(sql("dedup_keys_move"))
    if loader is not None:
        rows = np.arange(len(result.ids), dtype=np.int64)
        conn.execute(sql("dedup_person_keys_truncate"))
        conn.execute(sql("dedup_person_keys_drop_pkey"))
        conn.execute(sql("dedup_person_keys_drop_component"))
        write_person_keys(conn, result, rows, frozen=True)
        conn.execute(sql("dedup_person_keys_add_pkey"))
        conn.execute(sql("dedup_person_keys_add_component"))
        conn.execute(sql("dedup_analyze_keys"))
        loader.wait()
        conn.execute(sql("dedup_band_keys_swap_drop"))
        conn.execute(sql("dedup_band_keys_swap_rename"))
        conn.execute(sql("dedup_band_keys_swap_index"))
        return len(rows)
    if rekeyed == 0:
        return 0
    conn.execute(sql("dedup_keys_delete"))
    ids = fetch_packed(conn, sql("dedup_keys_rekey_ids"), np.dtype(">i8")).astype(np.int64)
    order = np.argsort(result.ids)
    rows = order[np.searchsorted(result.ids, ids, sorter=order)]
    write_person_keys(conn, result, rows)
    write_band_keys(conn, result, rows)
    return len(rows)


