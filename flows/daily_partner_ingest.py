"""Flow `daily-partner-ingest`: every partner channel, every new file, one code path.

Collect each channel (one failing channel does not stop the others), process
every waiting batch (one failing file does not stop the others), refresh the
report views, and publish a summary artifact.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact

from db import connection
from leadpipe import tenant as tenant_config
from tasks.artifacts import publish_import_reports
from tasks.collect import collect_channel, partner_channels
from tasks.landing_zone import zone_for
from tasks.partner_ingest import not_processed, process_pending
from tasks.reports import Outcome


@task(name="collect-channel", task_run_name="collect-{channel}", cache_result_in_memory=False)
def collect(tenant: str, channel: str) -> list[dict]:
    """Land one channel's new files; the transport retries network errors itself."""
    t = tenant_config.load(tenant)
    with connection.connect() as conn:
        landed = collect_channel(conn, t, zone_for(t), channel)
    get_run_logger().info("%s: %d new file(s)", channel, len(landed))
    return [r.to_dict() for r in not_processed(landed)]


@task(name="process-batches")
def process(tenant: str, mailed_on: date | None) -> list[dict]:
    """Process every waiting partner batch, each in its own transaction."""
    t = tenant_config.load(tenant)
    zone = zone_for(t)
    with connection.connect() as conn:
        results = process_pending(conn, t, zone, mailed_on)
        for result in results:
            if result.status != "FAILED":
                publish_import_reports(conn, Outcome.of_partner_batch(result),
                                       zone.location(f"reports/batch_{result.batch_id}"))
    return [r.to_dict() for r in results]


@task(name="refresh-report-views")
def refresh_reports() -> None:
    """Refresh the report materialized views concurrently."""
    with connection.connect() as conn:
        conn.execute("SELECT refresh_report_views()")


@flow(name="daily-partner-ingest", log_prints=True)
def daily_partner_ingest(tenant: str = "demo", mailed_on: date | None = None) -> list[dict]:
    """Collect, land, stage and promote every partner file of the day.

    Args:
        tenant: tenant name (deployments/tenants/<tenant>.toml) or path.
        mailed_on: production date for pieces without a mail date (today by default).
    """
    logger = get_run_logger()
    t = tenant_config.load(tenant)
    skipped: list[dict] = []
    futures = {channel: collect.submit(tenant, channel) for channel in partner_channels(t)}
    for channel, future in futures.items():
        future.wait()
        if future.state.is_failed():
            logger.error("channel %s failed: %s", channel, future.state.message)
            continue
        skipped.extend(future.result())
    results = skipped + process(tenant, mailed_on)
    refresh_reports()
    create_table_artifact(
        key="daily-partner-ingest-summary",
        table=sorted(results, key=lambda r: r["batch_id"]),
        description=f"per-file summary for tenant {t.name}",
    )
    return results
