"""Process one landed partner file: read, check, stage, promote, count, report.

All of a file's database work is one transaction: a file is either fully
processed or not at all, so a run killed mid-file leaves the batch PENDING (or
RUNNING) and the next run processes it again from the landing zone. Processing
a batch again (`replay`) replaces its staged rows and errors and re-applies the
idempotent promote functions, so nothing changes when nothing is new.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date

import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from db.queries import sql
from leadpipe.stages import StageClock
from leadpipe.tenant import Tenant
from tasks.copy import copy_arrow
from tasks.landing_zone import LandingZone
from tasks.parsers import read_partner_file
from tasks.parsers.partner_files import FileFormatError
from tasks.validation.delivery import check_delivery
from tasks.validation.mortgage import check_mortgage

#: The tables partner staging copies into (their per-row checks may be skipped).
_STAGE_TABLES = ["stg_mortgage", "stg_delivery", "import_errors"]


@dataclass(frozen=True)
class BatchResult:
    """What processing one batch did, for summaries and reports."""

    batch_id: int
    filename: str
    partner: str | None
    status: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    warnings: int = 0
    pieces_new: int = 0
    deliveries_applied: int = 0
    confirmations_ignored: int = 0
    confirmations_unmatched: int = 0
    message: str | None = None
    # Seconds per stage (read, check, stage, promote, finish, reports), for benchmarks.
    timings: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _batch_row(conn: psycopg.Connection, batch_id: int) -> dict[str, object]:
    cur = conn.execute(sql("batch_get"), {"batch_id": batch_id})
    row = cur.fetchone()
    if row is None:
        raise LookupError(f"no import batch {batch_id}")
    return dict(zip([c.name for c in cur.description], row, strict=True))


def process_batch(
    conn: psycopg.Connection,
    tenant: Tenant,
    zone: LandingZone,
    batch_id: int,
    *,
    mailed_on: date | None = None,
    only_rows: list[int] | None = None,
    clock: StageClock | None = None,
) -> BatchResult:
    """Process (or re-process) one landed batch of a partner file.

    Args:
        conn: the database; committed per file.
        tenant: the partner configuration.
        zone: the landing zone the batch's bytes are read from.
        batch_id: an `import_batches` id.
        mailed_on: the production date of pieces without a mail date (today by default).
        only_rows: re-process just these row numbers (an errors-only replay); the
            rest of the batch stays as it is.
        clock: where the seconds of each stage go (a new clock by default).
    """
    clock = clock or StageClock(label=f"batch {batch_id}")
    batch = _batch_row(conn, batch_id)
    partner_key = str(batch["partner"])
    partner = tenant.partners[partner_key]
    feed_kind = "mortgage" if str(batch["source_type"]).startswith("mortgage") else "delivery"
    feed = getattr(partner, feed_kind)
    data = zone.get(str(batch["landing_uri"]))
    try:
        with conn.transaction():
            if only_rows is None:
                conn.execute(sql("batch_reset"), {"batch_id": batch_id})
            else:
                conn.execute(sql("batch_reset_rows"), {"batch_id": batch_id, "rows": only_rows})
            skipped = conn.execute(sql("stage_checks_skip"), {
                "batch_id": batch_id, "tables": _STAGE_TABLES}).fetchone() is not None
            read = _stage(conn, batch_id, feed_kind, feed, partner_key, data, only_rows, clock)
            del data
            if skipped:
                conn.execute(sql("stage_checks_restore"))
            with clock.stage("promote"):
                effects = _promote(conn, batch_id, feed_kind, partner.mailer_id,
                                   mailed_on or date.today())
            with clock.stage("finish"):
                cur = conn.execute(sql("batch_counts"), {"batch_id": batch_id})
                counts = dict(zip([c.name for c in cur.description], cur.fetchone(),
                                  strict=True))
                counts["rows_read"] = read if only_rows is None else int(batch["row_count"] or 0)
                status = "COMPLETE_WITH_ERRORS" if counts["rows_rejected"] else "COMPLETE"
                result = BatchResult(batch_id, str(batch["filename"]), partner_key, status,
                                     **counts, **effects, timings=clock.timings)
                conn.execute(sql("batch_finish"), {**result.to_dict(),
                                                   "checklist": json.dumps(checklist(result))})
    except FileFormatError as exc:
        message = f"{batch['filename']}: {exc}"
        conn.execute(sql("batch_fail"), {"batch_id": batch_id, "message": message})
        conn.commit()
        return BatchResult(batch_id, str(batch["filename"]), partner_key, "FAILED",
                           message=message)
    conn.commit()
    return result


def _stage(conn: psycopg.Connection, batch_id: int, feed_kind: str, feed: object,
           partner: str, data: bytes, only_rows: list[int] | None, clock: StageClock) -> int:
    """Read, check and COPY the rows (all, or `only_rows`); returns the rows read.

    The file streams through a batch at a time (each batch is in staging before
    the next is read), so memory follows the batch size, not the file size.
    """
    check = check_mortgage if feed_kind == "mortgage" else check_delivery
    table = "stg_mortgage" if feed_kind == "mortgage" else "stg_delivery"
    wanted = None if only_rows is None else pa.array(only_rows, pa.int64())
    read = 0
    batches: Iterator[pa.RecordBatch] = read_partner_file(
        feed.format, data, feed)  # type: ignore[attr-defined]
    while True:
        with clock.stage("read"):
            rows = next(batches, None)
        if rows is None:
            return read
        read += rows.num_rows
        with clock.stage("check"):
            if wanted is not None:
                rows = rows.filter(pc.is_in(rows.column("row_number"), value_set=wanted))
            checked = check(rows, feed, partner)  # type: ignore[arg-type]
            staged = checked.staged
            staged = staged.add_column(0, "batch_id", pa.array([batch_id] * staged.num_rows,
                                                               pa.int64()))
            findings = checked.findings.table(batch_id)
        with clock.stage("stage"):
            copy_arrow(conn, table, staged)
            copy_arrow(conn, "import_errors", findings)


def error_rows(conn: psycopg.Connection, batch_id: int) -> list[int]:
    """The row numbers of a batch that were rejected."""
    rows = conn.execute(sql("batch_error_rows"), {"batch_id": batch_id}).fetchall()
    return [r[0] for r in rows]


def _promote(conn: psycopg.Connection, batch_id: int, feed_kind: str, mailer_id: str,
             mailed_on: date) -> dict[str, int]:
    if feed_kind == "mortgage":
        inserted, _skipped, _assigned = conn.execute(
            "SELECT * FROM promote_mortgage(%s, %s, %s)", (batch_id, mailer_id, mailed_on)
        ).fetchone()
        return {"pieces_new": inserted}
    applied, ignored, unmatched = conn.execute(
        "SELECT * FROM apply_deliveries(%s)", (batch_id,)
    ).fetchone()
    return {"deliveries_applied": applied, "confirmations_ignored": ignored,
            "confirmations_unmatched": unmatched}


def checklist(result: BatchResult) -> dict[str, object]:
    """The validation checklist of the seed's section D4 for one batch."""
    reconciled = result.rows_read == result.rows_loaded + result.rows_rejected
    checks = [
        {"check": "File readable", "status": "PASS"},
        {"check": "Schema matches expected", "status": "PASS"},
        {"check": "Row count reconciles", "status": "PASS" if reconciled else "FAIL",
         "expected": result.rows_read, "actual": result.rows_loaded + result.rows_rejected},
        {"check": "Rows rejected", "status": "FAIL" if result.rows_rejected else "PASS",
         "count": result.rows_rejected},
        {"check": "Warnings", "status": "WARN" if result.warnings else "PASS",
         "count": result.warnings},
    ]
    if result.confirmations_unmatched:
        checks.append({"check": "Confirmations matching no piece of this partner",
                       "status": "WARN", "count": result.confirmations_unmatched})
    return {"import_id": result.batch_id, "filename": result.filename, "checks": checks,
            "overall_status": result.status}


