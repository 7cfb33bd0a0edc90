"""The `leadpipe` command: one entry point for operators and for `make`.

User errors (a bad tenant file, a missing secret, bad input) print one line on
stderr and exit 2; only bugs show a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from db import connection, embedded, migrate
from db.queries import sql
from dedup_ray.cli import app as dedup_app
from imb.cli import app as imb_app
from leadpipe import settings
from leadpipe import tenant as tenant_config
from leadpipe.errors import UserError
from sampledata.cli import app as generate_app
from tasks.ingest import error_rows, process_batch
from tasks.landing_zone import LandingZone, zone_for
from tasks.migration import MIGRATION_KINDS, replay_batch
from tasks.partner_ingest import InboundFile, land_all, not_processed, process_pending
from tasks.reports import report_migrated_source, write_batch_reports
from tasks.sources.errors import SourceError

# Wide enough for the summary tables when output goes to a file or a CI log.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True)

app = typer.Typer(
    name="leadpipe",
    help="Partner ingestion, legacy migration, golden-record dedup and compliance.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="The database: schema migrations and the embedded server.",
                     no_args_is_help=True)
tenant_app = typer.Typer(help="Tenant parameter files.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(tenant_app, name="tenant")
app.add_typer(imb_app, name="imb", help="USPS Intelligent Mail barcode codec.")
app.add_typer(generate_app, name="generate", help="Sample data with ground truth.")
app.add_typer(dedup_app, name="dedup", help="Golden records: run, explain, override, unmerge.")


def _where() -> str:
    """The database in words, without credentials."""
    url = connection.database_url()
    if "@" in url.split("?")[0]:
        scheme, rest = url.split("://", 1)
        url = f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations, then changed function files (under an advisory lock)."""
    applied = migrate.upgrade(connection.database_url())
    if applied:
        for version in applied:
            console.print(f"applied {version}")
        console.print(f"schema upgraded: {len(applied)} migration(s) applied")
    else:
        console.print("schema up to date: nothing to apply")


@db_app.command("status")
def db_status() -> None:
    """List applied and pending migrations and function files."""
    state = migrate.status(connection.database_url())
    console.print(f"database: {_where()}")
    for version in state.applied:
        console.print(f"  applied  {version}")
    for version in state.pending:
        console.print(f"  pending  {version}")
    console.print(f"{len(state.applied)} applied, {len(state.pending)} pending")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL server."""
    if embedded.stop():
        console.print(f"stopped the embedded database ({embedded.data_dir()})")
    else:
        console.print("the embedded database is not running")


@db_app.command("url")
def db_url() -> None:
    """Print the database URI this machine uses (starts the embedded server if needed)."""
    console.print(connection.database_url(), soft_wrap=True, highlight=False)


@tenant_app.command("check")
def tenant_check(name: str = typer.Argument("demo", help="tenant name or .toml path")) -> None:
    """Validate a tenant parameter file."""
    t = tenant_config.load(name)
    console.print(
        f"tenant {t.name}: {len(t.partners)} partners ({', '.join(t.partners)}), "
        f"{len(t.channels)} channels: OK"
    )


def _summary_table(results: list) -> Table:
    table = Table(title="per-file summary")
    for column in ("batch", "file", "partner", "status", "read", "loaded", "rejected", "warn",
                   "new pieces", "delivered", "ignored", "unmatched"):
        table.add_column(column, justify="right" if column not in ("file", "status") else "left")
    for r in results:
        table.add_row(str(r.batch_id), r.filename, r.partner or "-", r.status, str(r.rows_read),
                      str(r.rows_loaded), str(r.rows_rejected), str(r.warnings),
                      str(r.pieces_new), str(r.deliveries_applied),
                      str(r.confirmations_ignored), str(r.confirmations_unmatched))
    return table


@app.command("ingest")
def ingest(
    folder: Annotated[Path, typer.Argument(help="a folder of partner files")],
    tenant: Annotated[str | None, typer.Option(help="tenant name or .toml path")] = None,
) -> None:
    """Land and process every file in FOLDER through the daily partner path."""
    if not folder.is_dir():
        raise UserError(f"not a folder: {folder}")
    t = tenant_config.load(tenant)
    zone = zone_for(t)
    files = [InboundFile(p.name, p.read_bytes(), "local")
             for p in sorted(folder.iterdir()) if p.is_file()]
    url = migrate.upgraded_database()
    with connection.connect(url) as conn:
        landed = land_all(conn, t, zone, files)
        results = not_processed(landed) + process_pending(conn, t, zone)
    console.print(_summary_table(sorted(results, key=lambda r: r.batch_id)))
    console.print(f"reports (success CSV, error CSV, checklist JSON): {zone.location('reports')}")


class ReplayMode(StrEnum):
    full = "full"
    errors_only = "errors-only"


@app.command("replay")
def replay(
    import_id: Annotated[int, typer.Option("--import-id", help="the import_batches id")],
    mode: Annotated[ReplayMode, typer.Option(help="the whole batch, or its rejected rows")] =
        ReplayMode.full,
    tenant: Annotated[str | None, typer.Option(help="tenant name or .toml path")] = None,
) -> None:
    """Process a batch again: a partner file from the landing zone, a migrated source from
    the rows the database keeps of it; nothing changes if nothing is new."""
    t = tenant_config.load(tenant)
    zone = zone_for(t)
    with connection.connect() as conn:
        found = conn.execute(sql("batch_status"), {"batch_id": import_id})
        row = found.fetchone()
        if row is None:
            raise UserError(f"no import batch {import_id}")
        if row[0] in ("REJECTED_DUPLICATE", "QUARANTINED"):
            raise UserError(f"batch {import_id} is {row[0]}: there is nothing to replay")
        if row[1] in MIGRATION_KINDS:
            _replay_migrated(conn, t, zone, import_id, mode)
            return
        only = None if mode is ReplayMode.full else error_rows(conn, import_id)
        if only == []:
            console.print(f"batch {import_id} has no rejected rows: nothing to replay")
            return
        result = process_batch(conn, t, zone, import_id, only_rows=only)
        if result.status != "FAILED":
            write_batch_reports(conn, zone, result)
    console.print(_summary_table([result]))


def _replay_migrated(conn: psycopg.Connection, t: tenant_config.Tenant, zone: LandingZone,
                     import_id: int, mode: ReplayMode) -> None:
    """Replay a migrated batch from its kept rows, write its reports, print its table."""
    try:
        run = replay_batch(conn, import_id, t.legacy.header_synonyms,
                           errors_only=mode is ReplayMode.errors_only)
    except SourceError as exc:  # a kept row edited into something unreadable
        raise UserError(str(exc)) from None
    if run is None:
        console.print(f"batch {import_id} has no rejected rows: nothing to replay")
        return
    report_migrated_source(conn, zone, run)
    console.print(_migration_table([run]))
    console.print(f"reports (success CSV, error CSV, checklist JSON): "
                  f"{zone.location(f'reports/batch_{import_id}')}")


person_app = typer.Typer(help="People: lineage of a person record.", no_args_is_help=True)
app.add_typer(person_app, name="person")


@person_app.command("lineage")
def person_lineage_command(person_id: Annotated[int, typer.Argument(help="persons.id")]) -> None:
    """Print a person's lineage JSON (the seed's section E4)."""
    from tasks.lineage import person_lineage

    with connection.connect() as conn:
        document = person_lineage(conn, person_id)
    console.print_json(json.dumps(document))


def _migration_table(runs: list) -> Table:
    table = Table(title="reconciliation per source: read = loaded + rejected")
    for column in ("batch", "source", "kind", "status", "read", "loaded", "rejected", "warn",
                   "inserted", "updated", "reconciled"):
        table.add_column(column, justify="left" if column in ("source", "kind", "status")
                         else "right")
    for r in runs:
        table.add_row(str(r.batch_id), r.source, r.kind, r.status, str(r.rows_read),
                      str(r.rows_loaded), str(r.rows_rejected), str(r.warnings),
                      str(r.inserted), str(r.updated), "yes" if r.reconciled else "NO")
    return table


@app.command("migrate")
def migrate_command(
    sources: Annotated[list[str], typer.Argument(
        help="CSV, .sql dump or SQLite files, folders of them, or mysql:// URLs")],
    tenant: Annotated[str | None, typer.Option(help="tenant name or .toml path")] = None,
    batch_rows: Annotated[int | None, typer.Option(
        help="rows per committed chunk (default 50,000); with --first-load, rows per call "
             "of the upsert (default 1,000,000)")] = None,
    resume: Annotated[bool, typer.Option(
        help="continue a source's interrupted run from its checkpoint (always on for files)")]
        = True,
    first_load: Annotated[bool, typer.Option(
        "--first-load", help="the person tables are empty: resolve people in DuckDB and "
        "write them once at the end (a run killed before that starts anew)")] = False,
) -> None:
    """Migrate legacy person sources through the validated, idempotent upsert path."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from tasks.migration import batch_rows_for, expand_sources, migrate_sources
    from tasks.sources import Source, open_source

    t = tenant_config.load(tenant)
    zone = zone_for(t)
    opened = [open_source(ref, t) for ref in expand_sources(sources)]
    if not resume:
        console.print("--no-resume: interrupted runs of these sources start again from the top")
    url = migrate.upgraded_database()
    runs = []
    with connection.connect(url) as conn, Progress(
            "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
            TimeRemainingColumn(), console=console) as progress:

        def bar(source: Source) -> Callable[[int], None]:
            task = progress.add_task(Path(source.name).name[:40], total=source.estimate())
            return lambda rows: progress.advance(task, rows)

        rows = batch_rows or batch_rows_for(first_load)
        for run in migrate_sources(conn, opened, batch_rows=rows, progress=bar,
                                   fresh=not resume, first_load=first_load):
            runs.append(run)
            report_migrated_source(conn, zone, run)
    console.print(_migration_table(runs))
    console.print(f"reports: {zone.location('reports')}/batch_<id>/ (success CSV, error CSV, "
                  "checklist JSON)", highlight=False)


@app.command("demo")
def demo() -> None:
    """Set up everything on this machine and show what the pipeline does."""
    from dedup_ray.cli import demo_step
    from leadpipe import demo as demo_run

    results, runs = demo_run.run(console)
    console.print(_summary_table(sorted(results, key=lambda r: r.batch_id)))
    console.print(_migration_table(runs))
    demo_step(console)
    demo_run.where_to_look(console, results, runs)


def main() -> None:
    """Console entry point: runs the app, turning user errors into one line."""
    settings.apply_quiet_defaults()
    try:
        app()
    except UserError as exc:
        err_console.print(f"error: {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0]
        err_console.print(f"error: cannot reach the database: {reason}", highlight=False,
                          soft_wrap=True)
        sys.exit(2)
