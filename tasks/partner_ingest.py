"""The daily partner data path for a set of files: land each, then process every batch.

Shared by the `daily-partner-ingest` flow and `leadpipe ingest DIR`. Each file
is processed on its own: one that fails is marked FAILED with its error and
the others go on. Batches left PENDING or RUNNING by an interrupted run are
picked up again.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg.conninfo import make_conninfo

from db import connection
from db.queries import sql
from leadpipe.stages import StageClock
from leadpipe.tenant import Tenant
from tasks.ingest import BatchResult, process_batch
from tasks.landing import LandedFile, land
from tasks.landing_zone import LandingZone, zone_for
from tasks.print_file import write_print_file
from tasks.reports import write_batch_reports

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundFile:
    """A file fetched from a channel, not yet landed."""

    name: str
    data: bytes
    channel: str | None = None


def land_all(conn: psycopg.Connection, tenant: Tenant, zone: LandingZone,
             files: Iterable[InboundFile]) -> list[LandedFile]:
    """Land every file (hash, store, record its batch)."""
    return [land(conn, tenant, zone, f.name, f.data, channel=f.channel) for f in files]


def process_pending(conn: psycopg.Connection, tenant: Tenant, zone: LandingZone,
                    mailed_on: date | None = None, workers: int | None = None
                    ) -> list[BatchResult]:
    """Process every waiting partner batch, each on its own, and write its reports.

    Mortgage files go before delivery files (deliveries confirm pieces). Within
    each phase one partner's files stay in landing order (its serials and its
    first-wins confirmations depend on the order), while different partners'
    files run in parallel processes when there is enough to do.

    Args:
        conn: the database.
        tenant: the partner configuration.
        zone: the landing zone.
        mailed_on: production date of pieces without a mail date (today by default).
        workers: processes to use; default: one per CPU, one when the work is small.
    """
    waiting = conn.execute(sql("batches_to_process")).fetchall()
    conn.commit()
    phases: list[tuple[list[list[int]], list[int]]] = []  # per phase: chains, their bytes
    for phase in ("mortgage", "delivery"):
        chains: dict[str, list[int]] = {}
        sizes: dict[str, int] = {}
        for batch_id, partner, kind, size in waiting:
            if kind == phase:
                chains.setdefault(partner, []).append(batch_id)
                sizes[partner] = sizes.get(partner, 0) + (size or 0)
        phases.append((list(chains.values()), list(sizes.values())))
    wanted = workers or (os.cpu_count() or 1)
    parallel = [wanted > 1 and len(found) > 1 and sum(size) >= PARALLEL_BYTES
                for found, size in phases]
    results: list[BatchResult] = []
    with ExitStack() as stack:
        pool: ProcessPoolExecutor | None = None
        for (phase_chains, phase_sizes), in_pool in zip(phases, parallel, strict=True):
            if not in_pool:
                for chain in phase_chains:
                    results += process_chain(conn, tenant, zone, chain, mailed_on)
                continue
            if pool is None:
                # One pool for both phases: a spawned worker costs seconds to start.
                most = max(len(c) for (c, _), p in zip(phases, parallel, strict=True) if p)
                pool = stack.enter_context(_pool(min(wanted, most)))
            # Workers connect to the same database as this connection, password included.
            url = make_conninfo(conn.info.dsn, password=conn.info.password or None)
            results += _in_pool(pool, url, tenant, phase_chains, phase_sizes, mailed_on)
    return results


# Below this much input a pool's start-up (about a second a process) is not worth it.
PARALLEL_BYTES = 8 << 20


def _pool(workers: int) -> ProcessPoolExecutor:
    # Spawned, not forked: the caller may be a threaded Prefect worker.
    return ProcessPoolExecutor(max_workers=workers,
                               mp_context=multiprocessing.get_context("spawn"))


def _in_pool(pool: ProcessPoolExecutor, url: str, tenant: Tenant, chains: list[list[int]],
             sizes: list[int], mailed_on: date | None) -> list[BatchResult]:
    """Every chain in the pool, biggest first; results in chain order.

    Started in landing order, a big chain that came last ran alone at the end
    (one process and its backend use about one core); biggest first, the chains
    left for the end are the small ones.
    """
    order = sorted(range(len(chains)), key=lambda i: -sizes[i])
    futures = {i: pool.submit(_chain_in_worker, (url, tenant, chains[i], mailed_on))
               for i in order}
    return [result for i in range(len(chains)) for result in futures[i].result()]


def _chain_in_worker(job: tuple[str, Tenant, list[int], date | None]) -> list[BatchResult]:
    url, tenant, chain, mailed_on = job
    with connection.connect(url) as conn:
        return process_chain(conn, tenant, zone_for(tenant), chain, mailed_on)


def process_chain(conn: psycopg.Connection, tenant: Tenant, zone: LandingZone,
                  batch_ids: list[int], mailed_on: date | None) -> list[BatchResult]:
    """Process batches in order, each in isolation: one failing does not stop the rest."""
    results = []
    for batch_id in batch_ids:
        # The result's timings are this clock's: the reports' seconds join them below.
        clock = StageClock(label=f"batch {batch_id}")
        try:
            result = process_batch(conn, tenant, zone, batch_id, mailed_on=mailed_on,
                                   clock=clock)
        except Exception as exc:  # one bad file must not stop the others
            conn.rollback()
            message = f"{type(exc).__name__}: {exc}"
            log.exception("batch %s failed", batch_id)
            conn.execute(sql("batch_fail"), {"batch_id": batch_id, "message": message})
            conn.commit()
            row = conn.execute("SELECT filename, partner FROM import_batches WHERE id = %s",
                               (batch_id,)).fetchone()
            results.append(BatchResult(batch_id, row[0], row[1], "FAILED", message=message))
            continue
        if result.status != "FAILED":
            with clock.stage("reports"):
                write_batch_reports(conn, zone, result)
                # Only a mortgage batch places pieces; M15 pieces are barcoded by us.
                partner = tenant.partners.get(result.partner or "")
                if result.pieces_new and partner and partner.mortgage.format == "M15":
                    write_print_file(conn, zone, batch_id, str(result.partner),
                                     result.filename)
                conn.commit()
        results.append(result)
    return results


def not_processed(landed: list[LandedFile]) -> list[BatchResult]:
    """Results for landed files that will not be processed (duplicates, quarantined)."""
    return [BatchResult(f.batch_id, f.filename, f.partner, f.status, message=f.message)
            for f in landed if not f.to_process]
