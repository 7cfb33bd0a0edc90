"""Import reports as Prefect artifacts, for people reading a flow run.

The full CSVs stay in the landing zone; artifacts show the checklist, the
success row and the first rows of the error report, with stable keys
(`batch-<id>-checklist|success|errors`).
"""

from __future__ import annotations

import psycopg
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from tasks.reports import Outcome, batch_report

# Artifacts are for reading; the whole error report is the CSV beside the raw file.
ARTIFACT_ERROR_ROWS = 500


def checklist_markdown(outcome: Outcome) -> str:
    """The D4 checklist of an import as a markdown table."""
    lines = [f"### {outcome.filename} (batch {outcome.batch_id}): {outcome.status}", "",
             "| check | status | detail |", "|---|---|---|"]
    for check in outcome.checklist["checks"]:  # type: ignore[union-attr]
        detail = ", ".join(f"{k}={v}" for k, v in check.items() if k not in ("check", "status"))
        lines.append(f"| {check['check']} | {check['status']} | {detail} |")
    return "\n".join(lines)


def publish_import_reports(conn: psycopg.Connection, outcome: Outcome, where: str) -> None:
    """Publish an import's checklist, success report and (the head of) its error report."""
    success, errors = batch_report(conn, outcome).as_dicts(limit=ARTIFACT_ERROR_ROWS)
    key = f"batch-{outcome.batch_id}"
    create_markdown_artifact(key=f"{key}-checklist", markdown=checklist_markdown(outcome),
                             description=f"validation checklist of {outcome.filename}")
    create_table_artifact(key=f"{key}-success", table=success,
                          description=f"success report of {outcome.filename}; CSV in {where}")
    if errors:
        create_table_artifact(
            key=f"{key}-errors", table=errors,
            description=f"error report of {outcome.filename} (first {len(errors)} rows; "
                        f"all {outcome.rejected + outcome.warnings} in {where})")
