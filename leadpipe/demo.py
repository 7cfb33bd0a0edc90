"""`make demo`: everything on this machine, on generated data, with what happened and where.

Runs the real paths: the embedded database and schema, the generator (a
partner week and 100k legacy rows), and the partner data path day by day as
the daily runs would. Running it again changes nothing and says so.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date

from rich.console import Console

from db import connection, migrate
from leadpipe import settings
from leadpipe import tenant as tenant_config
from sampledata.legacy import LegacyOptions, generate_legacy
from sampledata.partner_day import PartnerDayOptions, generate_partner_days
from tasks.ingest import BatchResult
from tasks.landing_zone import zone_for
from tasks.partner_ingest import InboundFile, land_all, not_processed, process_pending

WEEK_START = date(2026, 11, 16)
LEGACY_ROWS = 100_000
SEED = 1


def run(console: Console) -> list[BatchResult]:
    """Set up, generate, ingest; returns the per-file results."""
    t = tenant_config.load("demo")
    console.print(f"[bold]tenant[/] {t.name}: partners {', '.join(t.partners)}")
    url = connection.database_url()
    applied = migrate.upgrade(url)
    state = "applied " + ", ".join(applied) if applied else "up to date: nothing changed"
    console.print(f"[bold]schema[/] {state}")

    root = settings.home() / "demo"
    partners, legacy = root / "partners", root / "legacy"
    generate_partner_days(PartnerDayOptions(day=WEEK_START, pieces=200, seed=SEED,
                                            out=partners, days=5))
    manifest = json.loads((partners / "manifest.json").read_text())
    console.print(f"[bold]generated[/] a partner week: {len(manifest['files'])} files, "
                  f"{len(manifest['rows'])} rows in {partners}")
    if not (legacy / "legacy.json").exists():
        generate_legacy(LegacyOptions(rows=LEGACY_ROWS, seed=SEED, out=legacy))
    console.print(f"[bold]generated[/] {LEGACY_ROWS:,} legacy person rows in {legacy}")

    by_day: dict[str, list[str]] = defaultdict(list)
    for f in manifest["files"]:
        by_day[f["day"]].append(f["name"])
    zone = zone_for(t)
    results: list[BatchResult] = []
    with connection.connect(url) as conn:
        for day, names in sorted(by_day.items()):
            files = [InboundFile(n, (partners / n).read_bytes(), "demo") for n in names]
            landed = land_all(conn, t, zone, files)
            results += not_processed(landed)
            results += process_pending(conn, t, zone, mailed_on=date.fromisoformat(day))
        conn.execute("SELECT refresh_report_views()")
    return results


def where_to_look(console: Console, results: list[BatchResult]) -> None:
    """The closing lines: what changed, and where the reports and data are."""
    processed = [r for r in results if r.status not in ("REJECTED_DUPLICATE", "QUARANTINED")]
    if not processed:
        console.print(f"[bold]nothing new[/]: all {len(results)} files were processed before "
                      "(recorded as REJECTED_DUPLICATE); no row changed")
    else:
        read = sum(r.rows_read for r in processed)
        loaded = sum(r.rows_loaded for r in processed)
        rejected = sum(r.rows_rejected for r in processed)
        console.print(f"[bold]ingested[/] {len(processed)} files: {read} rows read = "
                      f"{loaded} loaded + {rejected} rejected; "
                      f"{sum(r.pieces_new for r in processed)} pieces mailed, "
                      f"{sum(r.deliveries_applied for r in processed)} confirmations applied")
    zone = zone_for(tenant_config.load("demo"))
    console.print(f"[bold]reports[/] {zone.location('reports')} (success CSV, error CSV, "
                  "checklist JSON per batch)")
    console.print(f"[bold]print files[/] {zone.location('print')}")
    console.print('[bold]database[/] psql "$(.venv/bin/leadpipe db url)"; try '
                  "SELECT * FROM report_partner_delivery;")
