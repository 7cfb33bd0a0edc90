"""The daily partner data path for a set of files: land each, then process every batch.

Shared by the `daily-partner-ingest` flow and `leadpipe ingest DIR`. Each file
is processed on its own: one that fails is marked FAILED with its error and
the others go on. Batches left PENDING or RUNNING by an interrupted run are
picked up again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import psycopg

from db.queries import sql
from leadpipe.tenant import Tenant
from tasks.ingest import BatchResult, process_batch
from tasks.landing import LandedFile, land
from tasks.landing_zone import LandingZone
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
                    mailed_on: date | None = None) -> list[BatchResult]:
    """Process every waiting partner batch, each on its own, and write its reports."""
    results = []
    for (batch_id,) in conn.execute(sql("batches_to_process")).fetchall():
        try:
            result = process_batch(conn, tenant, zone, batch_id, mailed_on=mailed_on)
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
            write_batch_reports(conn, zone, result)
            # Only a mortgage batch places pieces; M15 pieces are barcoded by us.
            partner = tenant.partners.get(result.partner or "")
            if result.pieces_new and partner and partner.mortgage.format == "M15":
                write_print_file(conn, zone, batch_id, str(result.partner), result.filename)
        results.append(result)
    return results


def not_processed(landed: list[LandedFile]) -> list[BatchResult]:
    """Results for landed files that will not be processed (duplicates, quarantined)."""
    return [BatchResult(f.batch_id, f.filename, f.partner, f.status, message=f.message)
            for f in landed if not f.to_process]
