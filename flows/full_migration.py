"""Flow `full-migration`: legacy sources into the person tables, resumable, reconciled.

Each source runs through `tasks.migration.migrate_source` (chunked commits with
checkpoints: a killed run started again resumes where it stopped). Progress is
a Prefect progress artifact; the end is a reconciliation table per source.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from db import connection
from leadpipe import tenant as tenant_config
from tasks.artifacts import publish_import_reports
from tasks.landing_zone import zone_for
from tasks.migration import expand_sources, migrate_source
from tasks.reports import report_migrated_source
from tasks.sources import open_source


@task(name="migrate-source", task_run_name="migrate-{ref}", cache_result_in_memory=False)
def migrate_one(ref: str, tenant: str, batch_rows: int, upload: bool = False) -> dict:
    """Migrate one source; its reports go to the landing zone and to artifacts."""
    t = tenant_config.load(tenant)
    source = open_source(ref, t, upload=upload)
    total = source.estimate() or 0
    progress_id = create_progress_artifact(progress=0.0, description=f"migrating {ref}")
    done = 0

    def advance(rows: int) -> None:
        nonlocal done
        done += rows
        if total:
            update_progress_artifact(progress_id, min(100.0, 100.0 * done / total))

    with connection.connect() as conn:
        run = migrate_source(conn, source, batch_rows=batch_rows, progress=advance)
        zone = zone_for(t)
        outcome = report_migrated_source(conn, zone, run)
        if outcome is not None:
            publish_import_reports(conn, outcome,
                                   zone.location(f"reports/batch_{run.batch_id}"))
    update_progress_artifact(progress_id, 100.0)
    get_run_logger().info("%s: %s, %d read = %d loaded + %d rejected", ref, run.status,
                          run.rows_read, run.rows_loaded, run.rows_rejected)
    return run.to_dict()


@flow(name="full-migration", log_prints=True)
def full_migration(sources: list[str], tenant: str = "demo",
                   batch_rows: int = 50_000) -> list[dict]:
    """Migrate every source (files, folders of them, mysql:// URLs, or "mysql" for the
    tenant's legacy database), one after another, and reconcile each."""
    runs = [migrate_one(ref, tenant, batch_rows) for ref in expand_sources(sources)]
    create_table_artifact(key="full-migration-reconciliation", table=runs,
                          description="per source: rows read = rows loaded + rows rejected")
    return runs
