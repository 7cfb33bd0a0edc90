"""Dedup runs over the database: full or incremental, one transaction each.

A run is one transaction under an advisory lock (one run or operator change at a time):

1. read: every person (``full``), or the people queued in ``dedup_queue`` (by the triggers
   on ``persons`` and ``addresses``, or by a first load) plus what they can affect, found
   through `PostgresKeyStore` (``incremental``, a cost that follows the queue);
2. the core (`dedup_ray.run` / `dedup_ray.run_incremental`), honouring the pairs operators
   separated (``dedup_exclusions``); golden ids stay put, as the core breaks ties in
   favour of the stored golden record;
3. the write-back (`dedup_ray.writeback`), then the queue rows the run read are deleted.

The ``dedup_runs`` row is committed as RUNNING before the work and set COMPLETE (with the
settings, counts and per-stage seconds) in the run's transaction, or FAILED after a
rollback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import psycopg
import pyarrow as pa
from psycopg.types.json import Jsonb

from db import connection
from db.queries import sql
from dedup_ray.database import (
    exclusions,
    golden_counts,
    read_people,
    read_queued_people,
    stored_settings,
)
from dedup_ray.engine import DedupResult, Progress, run
from dedup_ray.incremental import run_incremental
from dedup_ray.settings import DedupSettings
from dedup_ray.store import PostgresKeyStore, restore_band_keys
from dedup_ray.writeback import RunIds, drop_reload, write_back
from leadpipe import settings as env
from leadpipe.errors import UserError
from leadpipe.stages import StageClock

Mode = Literal["full", "incremental"]
#: ``prepare(conn, run)``: an operator's change, made inside the run's transaction.
Prepare = Callable[[psycopg.Connection, "RunIds"], None]

log = logging.getLogger("dedup_ray")

#: Queue rows read from which a run tries to empty the queue with TRUNCATE.
QUEUE_TRUNCATE_ROWS = 50_000
#: Settings that only change how a run executes, not which pairs match.
_EXECUTION = {"chunk_rows", "partitions", "workers"}


@dataclass
class RunSummary:
    """What a run did, for the CLI, the flow's artifact and the benchmark.

    Attributes:
        run_id: ``dedup_runs.id``.
        job_id: ``dedup_runs.job_id`` (the audit rows' job).
        mode: ``full`` or ``incremental``.
        counts: the core's counts and the write-back's (``persons_changed``, ``merges``,
            ``golden_changes``, ``unmerges``, ``rescored``, ``keys_rewritten``, ...).
        timings: seconds per stage (read, the core's stages, write-back steps, total).
        capped_buckets: the largest capped buckets (band, bucket_hash, size, pairs, ...).
        golden: golden record counts after the run (`golden_counts`).
        settings: the settings the run used.
    """

    run_id: int
    job_id: str
    mode: str
    counts: dict[str, int]
    timings: dict[str, float]
    capped_buckets: list[dict[str, Any]]
    golden: dict[str, int]
    settings: dict[str, Any] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


def _use_ray(use_ray: bool | None) -> bool:
    """Ray when asked, else when a cluster is configured.

    A local Ray takes 10-20 s to start and on a few cores runs the core no faster than one
    process (1M people: 18.5 s against 20.7 s on 2 CPUs), so it is opt-in on one machine.
    """
    return use_ray if use_ray is not None else bool(env.ray_address())


def _settings_for(
    conn: psycopg.Connection, mode: Mode, requested: DedupSettings | None
) -> DedupSettings:
    """Incremental runs must match the stored keys: the last run's matching settings."""
    if mode == "full":
        return requested or DedupSettings()
    stored = stored_settings(conn)
    if stored is None:
        return requested or DedupSettings()
    if requested is None:
        return stored
    differs = {
        k for k, v in requested.to_dict().items()
        if k not in _EXECUTION and stored.to_dict()[k] != v
    }
    if differs:
        raise UserError(
            f"incremental runs use the settings of the stored keys; {', '.join(sorted(differs))}"
            " differ: run a full dedup with the new settings first"
        )
    return requested


def run_dedup(
    url: str | None = None,
    mode: Mode = "full",
    *,
    use_ray: bool | None = None,
    settings: DedupSettings | None = None,
    actor: str | None = None,
    progress: Progress | None = None,
    prepare: Prepare | None = None,
) -> RunSummary:
    """Run dedup over the database and write the results back, in one transaction.

    Args:
        url: PostgreSQL URI (`db.connection.database_url()` when None).
        mode: ``full`` (every person) or ``incremental`` (the queued people against the
            stored golden records).
        use_ray: distribute the core over Ray (``RAY_ADDRESS``, else a local Ray); None:
            Ray for full runs when ``RAY_ADDRESS`` is set, in-process otherwise.
        settings: dedup settings (incremental runs keep the stored keys' settings).
        actor: who asked (operator commands), recorded on the run and its audit rows.
        progress: optional ``progress(stage, done, total)`` callback.
        prepare: an operator's change, applied in the same transaction before reading.

    Returns:
        What the run did.

    Raises:
        UserError: incremental settings that differ from the stored keys'.
    """
    if mode not in ("full", "incremental"):
        raise UserError(f"unknown dedup mode {mode!r}: use full or incremental")
    start = time.perf_counter()
    clock = StageClock(progress, label="dedup stage")
    url = url or connection.database_url()
    with psycopg.connect(url, autocommit=True) as conn:
        chosen = _settings_for(conn, mode, settings)
        row = conn.execute(
            sql("dedup_run_open"),
            {"mode": mode, "parameters": Jsonb(chosen.to_dict()), "actor": actor},
        ).fetchone()
        assert row is not None
        ids = RunIds(int(row[0]), str(row[1]))
        log.info("dedup run %d (%s) started", ids.run_id, mode)
        try:
            with conn.transaction():
                conn.execute(sql("dedup_lock"))
                restore_band_keys(conn, stored_settings(conn))
                if prepare is not None:
                    prepare(conn, ids)
                conn.execute(sql("dedup_queue_snapshot"))
                people, result = _compute(conn, mode, chosen, use_ray, clock, progress)
                counts, write_timings = write_back(
                    conn, result, ids, full=mode == "full", actor=actor, progress=progress,
                    stored=people, url=url,
                )
                _consume_queue(conn)
                counts = {**result.counts, **counts}
                timings = {**clock.timings, **_core_timings(result), **write_timings}
                timings["total"] = round(time.perf_counter() - start, 4)
                conn.execute(
                    sql("dedup_run_finish"),
                    {"run_id": ids.run_id, "counts": Jsonb(counts), "timings": Jsonb(timings)},
                )
        except BaseException as exc:
            _mark_failed(conn, ids, exc, clock, start)
            raise
        golden = golden_counts(conn)
    capped = result.capped_buckets.sort_by([("size", "descending"), ("bucket_hash", "ascending")])
    return RunSummary(
        run_id=ids.run_id,
        job_id=ids.job_id,
        mode=mode,
        counts=counts,
        timings=timings,
        capped_buckets=capped.slice(0, 20).to_pylist(),
        golden=golden,
        settings=chosen.to_dict(),
    )


def _consume_queue(conn: psycopg.Connection) -> None:
    """Delete the queue rows the run read (``dedup_seen``), and only those.

    A first full run reads millions (1M people queue 2M rows: 7 s of server CPU to delete
    them row by row); when the queue holds nothing else, TRUNCATE empties it at once. That
    needs the table's exclusive lock, taken only if it is free; otherwise rows are deleted.
    """
    seen = conn.execute(sql("dedup_queue_seen_count")).fetchone()
    if seen is not None and seen[0] >= QUEUE_TRUNCATE_ROWS:
        try:
            with conn.transaction():
                conn.execute(sql("dedup_queue_lock"))
                only = conn.execute(sql("dedup_queue_only_seen")).fetchone()
                if only is not None and only[0]:
                    conn.execute(sql("dedup_queue_truncate"))
                    return
        except psycopg.errors.LockNotAvailable:
            log.info("dedup queue is in use: deleting the rows read instead of truncating")
    conn.execute(sql("dedup_queue_consume"))


def _mark_failed(
    conn: psycopg.Connection, ids: RunIds, exc: BaseException, clock: StageClock, start: float
) -> None:
    """Record a failed run; a broken connection must not hide the original error."""
    timings = {**clock.timings, "total": round(time.perf_counter() - start, 4)}
    try:
        drop_reload(conn)
        conn.execute(
            sql("dedup_run_fail"),
            {"run_id": ids.run_id, "error": f"{type(exc).__name__}: {exc}"[:2000],
             "timings": Jsonb(timings)},
        )
    except psycopg.Error:
        log.exception("could not mark dedup run %d FAILED", ids.run_id)


def _core_timings(result: DedupResult) -> dict[str, float]:
    return {("core_total" if k == "total" else k): v for k, v in result.timings.items()}


def _compute(
    conn: psycopg.Connection,
    mode: Mode,
    settings: DedupSettings,
    use_ray: bool | None,
    clock: StageClock,
    progress: Progress | None,
) -> tuple[pa.Table | None, DedupResult]:
    """Read the run's people and run the core over them.

    Returns:
        Every person as read (full runs; None for incremental ones) and the result.
    """
    exclude = exclusions(conn)
    if mode == "full":
        with clock.stage("read"):
            people = read_people(conn)
        ray = _use_ray(use_ray)
        return people, run(people, settings, use_ray=ray, progress=progress, exclude=exclude)
    with clock.stage("read"):
        people = read_queued_people(conn)
    store = PostgresKeyStore(conn, settings)
    start = time.perf_counter()
    # A daily batch is small: in-process unless Ray is asked for.
    result = run_incremental(
        people, store, settings, use_ray=bool(use_ray), progress=progress, exclude=exclude
    )
    clock.timings["key_lookups"] = round(
        time.perf_counter() - start - result.timings.get("total", 0.0), 4
    )
    return None, result


