"""The `leadpipe` command: one entry point for operators and for `make`.

User errors (a bad tenant file, a missing secret, bad input) print one line on
stderr and exit 2; only bugs show a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from db import connection, embedded, migrate
from imb.cli import app as imb_app
from leadpipe import tenant as tenant_config
from leadpipe.errors import UserError

console = Console()
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


def _where() -> str:
    """The database in words, without credentials."""
    url = connection.database_url()
    if "@" in url.split("?")[0]:
        scheme, rest = url.split("://", 1)
        url = f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations (each once, under an advisory lock)."""
    applied = migrate.upgrade(connection.database_url())
    if applied:
        for version in applied:
            console.print(f"applied {version}")
        console.print(f"schema upgraded: {len(applied)} migration(s) applied")
    else:
        console.print("schema up to date: nothing to apply")


@db_app.command("status")
def db_status() -> None:
    """List applied and pending migrations."""
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


@app.command("demo")
def demo() -> None:
    """Set up everything on this machine and show what the pipeline does."""
    t = tenant_config.load("demo")
    console.print(f"[bold]tenant[/] {t.name}: partners {', '.join(t.partners)}")
    url = connection.database_url()
    console.print(f"[bold]database[/] {_where()}")
    applied = migrate.upgrade(url)
    if applied:
        console.print(f"[bold]schema[/] applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        console.print("[bold]schema[/] up to date: nothing changed")
    state = migrate.status(url)
    console.print(f"[bold]migrations[/] {len(state.applied)} applied, {len(state.pending)} pending")
    console.print("next: `leadpipe db status`, `psql \"$(leadpipe db url)\"`, `make test`")


def main() -> None:
    """Console entry point: runs the app, turning user errors into one line."""
    try:
        app()
    except UserError as exc:
        err_console.print(f"error: {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
