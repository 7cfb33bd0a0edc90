"""`make demo`: everything on this machine, on generated data, with what happened and where.

Runs the real paths: the embedded database and schema, the generator (a
partner week and 100k legacy rows), and the `daily-partner-ingest` flow once
per day of the week, with the files put where the demo tenant's channels
(local folders) pick them up. Running it again changes nothing and says so.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from datetime import date
from pathlib import Path

from rich.console import Console

from db import connection, migrate
from leadpipe import settings
from leadpipe import tenant as tenant_config
from leadpipe.tenant import Tenant
from sampledata.legacy import LegacyOptions, generate_legacy
from sampledata.manifest import load_manifest
from sampledata.partner_day import PartnerDayOptions, generate_partner_days
from tasks.ingest import BatchResult
from tasks.landing_zone import zone_for
from tasks.migration import SourceRun, expand_sources, migrate_sources
from tasks.reports import report_migrated_source
from tasks.sources import open_source

WEEK_START = date(2026, 11, 16)
LEGACY_ROWS = 100_000
SEED = 1


def run(console: Console) -> tuple[list[BatchResult], list[SourceRun]]:
    """Set up, generate, ingest the partner week, migrate the legacy sample."""
    t = tenant_config.load("demo")
    console.print(f"[bold]tenant[/] {t.name}: partners {', '.join(t.partners)}")
    # Imported late: the flow runs under an ephemeral Prefect API unless
    # PREFECT_API_URL names one, and Prefect reads its settings at import.
    from flows.daily_partner_ingest import daily_partner_ingest

    url = connection.database_url()
    applied = migrate.upgrade(url)
    state = "applied " + ", ".join(applied) if applied else "up to date: nothing changed"
    console.print(f"[bold]schema[/] {state}")

    root = settings.home() / "demo"
    partners, legacy = root / "partners", root / "legacy"
    generate_partner_days(PartnerDayOptions(day=WEEK_START, pieces=200, seed=SEED,
                                            out=partners, days=5))
    manifest = load_manifest(partners)
    console.print(f"[bold]generated[/] a partner week: {len(manifest['files'])} files, "
                  f"{len(manifest['rows'])} rows in {partners}")
    if not (legacy / "legacy.json").exists():
        generate_legacy(LegacyOptions(rows=LEGACY_ROWS, seed=SEED, out=legacy))
    console.print(f"[bold]generated[/] {LEGACY_ROWS:,} legacy person rows in {legacy}")

    by_day: dict[str, list[str]] = defaultdict(list)
    for f in manifest["files"]:
        by_day[f["day"]].append(f["name"])
    results: list[dict] = []
    for day, names in sorted(by_day.items()):
        deliver(t, partners, names)
        console.print(f"[bold]flow[/] daily-partner-ingest for {day}: {len(names)} files")
        results += daily_partner_ingest(tenant="demo", mailed_on=date.fromisoformat(day))
    console.print(f"[bold]migrate[/] the legacy sample from {legacy}")
    zone = zone_for(t)
    with connection.connect(url) as conn:
        runs = []
        for migrated in migrate_sources(conn, [open_source(ref, t)
                                               for ref in expand_sources([str(legacy)])]):
            runs.append(migrated)
            report_migrated_source(conn, zone, migrated)
    return [BatchResult(**r) for r in results], runs


def deliver(t: Tenant, folder: Path, names: list[str]) -> None:
    """Put files where their partner's channel picks them up (the demo's local folders)."""
    for name in names:
        match = t.partner_for_file(name)
        assert match is not None, f"the generator wrote {name}, which no partner pattern names"
        channel = t.channels[t.partners[match[0]].channel]
        inbox = settings.home() / str(channel.folder)
        inbox.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / name, inbox / name)


def where_to_look(console: Console, results: list[BatchResult], runs: list[SourceRun]) -> None:
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
    migrated = [r for r in runs if r.status != "REJECTED_DUPLICATE"]
    if migrated:
        console.print(f"[bold]migrated[/] {sum(r.rows_read for r in migrated):,} legacy rows "
                      f"from {len(migrated)} sources: {sum(r.inserted for r in migrated):,} "
                      f"people inserted, {sum(r.updated for r in migrated):,} updates")
    else:
        console.print("[bold]legacy[/] nothing new: every source was migrated before")
    zone = zone_for(tenant_config.load("demo"))
    console.print(f"[bold]reports[/] {zone.location('reports')} (success CSV, error CSV, "
                  "checklist JSON per batch)")
    console.print(f"[bold]print files[/] {zone.location('print')}")
    console.print('[bold]database[/] psql "$(.venv/bin/leadpipe db url)"; try '
                  "SELECT * FROM report_partner_delivery;")
