"""Per-import reports of the seed's section D4: success CSV, error CSV, checklist JSON.

One shape for partner files and migrated legacy sources (`Outcome`).

They go to the landing zone under `reports/batch_<id>/`, next to the raw
files, so that wherever the bytes live their reports live too.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

import psycopg

from db.queries import sql
from tasks.ingest import BatchResult, checklist
from tasks.landing_zone import LandingZone
from tasks.migration import SourceRun, migration_checklist

SUCCESS_HEADER = ["import_id", "filename", "total_rows", "inserted", "updated", "skipped",
                  "errors", "warnings", "duration_sec", "status"]
ERROR_HEADER = ["row_number", "severity", "error_type", "field_name", "field_value",
                "error_message", "raw_row"]


def _csv(header: list[str], rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


@dataclass(frozen=True)
class BatchReport:
    """The rows of a batch's success and error reports."""

    success: list[list[object]]
    errors: list[list[object]]

    def as_dicts(self, limit: int | None = None) -> tuple[list[dict], list[dict]]:
        """The reports as lists of dicts (at most `limit` error rows), for artifacts."""
        success = [dict(zip(SUCCESS_HEADER, row, strict=True)) for row in self.success]
        errors = [dict(zip(ERROR_HEADER, row, strict=True)) for row in self.errors[:limit]]
        return success, errors


@dataclass(frozen=True)
class Outcome:
    """What a report says of one import, whatever kind of import it was."""

    batch_id: int
    filename: str
    rows_read: int
    inserted: int
    updated: int
    loaded: int
    rejected: int
    warnings: int
    status: str
    checklist: dict[str, object]

    @classmethod
    def of_partner_batch(cls, result: BatchResult) -> Outcome:
        inserted = result.pieces_new or result.deliveries_applied
        return cls(result.batch_id, result.filename, result.rows_read, inserted, 0,
                   result.rows_loaded, result.rows_rejected, result.warnings, result.status,
                   checklist(result))

    @classmethod
    def of_migrated_source(cls, run: SourceRun) -> Outcome:
        return cls(run.batch_id, run.source, run.rows_read, run.inserted, run.updated,
                   run.rows_loaded, run.rows_rejected, run.warnings, run.status,
                   migration_checklist(run))


def batch_report(conn: psycopg.Connection, outcome: Outcome) -> BatchReport:
    """The success row (the seed's D4 columns) and every finding of a processed import."""
    duration = conn.execute(sql("batch_duration"), {"batch_id": outcome.batch_id}).fetchone()[0]
    skipped = outcome.loaded - outcome.inserted - outcome.updated
    success = [[outcome.batch_id, outcome.filename, outcome.rows_read, outcome.inserted,
                outcome.updated, max(skipped, 0), outcome.rejected, outcome.warnings,
                round(float(duration or 0), 3), outcome.status]]
    errors = conn.execute(sql("batch_errors_report"), {"batch_id": outcome.batch_id}).fetchall()
    return BatchReport(success, [list(r) for r in errors])


def write_batch_reports(conn: psycopg.Connection, zone: LandingZone,
                        result: BatchResult | Outcome) -> dict[str, str]:
    """Write the three reports of a processed import; returns their URIs by kind."""
    outcome = result if isinstance(result, Outcome) else Outcome.of_partner_batch(result)
    report = batch_report(conn, outcome)
    prefix = f"reports/batch_{outcome.batch_id}"
    return {
        "success": zone.put(f"{prefix}/success.csv", _csv(SUCCESS_HEADER, report.success)),
        "errors": zone.put(f"{prefix}/errors.csv", _csv(ERROR_HEADER, report.errors)),
        "checklist": zone.put(f"{prefix}/checklist.json",
                              json.dumps(outcome.checklist, indent=2).encode("utf-8")),
    }


def report_migrated_source(conn: psycopg.Connection, zone: LandingZone,
                           run: SourceRun) -> Outcome | None:
    """Write a migrated source's three reports; None for a duplicate or failed run (no
    rows of it were processed, so there is nothing to report but its status)."""
    if run.status in ("REJECTED_DUPLICATE", "FAILED"):
        return None
    outcome = Outcome.of_migrated_source(run)
    write_batch_reports(conn, zone, outcome)
    return outcome
