"""The embedded PostgreSQL server (pgserver) used when no DATABASE_URL is set.

The server's data lives under `.leadpipe/pg/`; it is started on first use and
left running so that later commands reuse it; `leadpipe db stop` stops it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from db.databases import create_database
from leadpipe import settings

if TYPE_CHECKING:
    import psycopg


def data_dir() -> Path:
    """The embedded cluster's data directory."""
    return settings.home() / "pg"


def _quiet_runtime_dir() -> None:
    """pgserver keeps a lock in the user runtime dir; give it a private one."""
    if "XDG_RUNTIME_DIR" not in os.environ:
        runtime = Path(tempfile.gettempdir()) / f"leadpipe-runtime-{os.getuid()}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)


DATABASE = "leadpipe"

#: Settings for bulk loads on one machine: the defaults (128MB of shared buffers, a
#: checkpoint every 1GB of WAL) make a million-person migration rewrite its pages
#: through the OS cache and write most of them to the WAL twice. The embedded server has
#: no standby, so it keeps the minimal WAL (PostgreSQL's advice for bulk loads): an index
#: built, or a table filled in the transaction that created or truncated it (a first
#: load's person tables), is synced at commit instead of written to the WAL. A 1M-row
#: first load wrote 722 MB of WAL instead of 1,486 MB (the truncate) and its PostgreSQL
#: used 18.5-19.8 CPU s instead of 21.6-25.1 (runs of benchmarks/migration_bench.py).
TUNING = {
    "shared_buffers": "512MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "wal_compression": "off",
    "maintenance_work_mem": "256MB",
    "wal_level": "minimal",
    "max_wal_senders": "0",
}


def start() -> str:
    """Start (or reuse) the embedded server and return the URI of its `leadpipe` database."""
    _quiet_runtime_dir()
    import pgserver
    import psycopg

    pgdata = data_dir()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    ours = not is_running()
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        restart = _tune(conn) and ours
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
        if found.fetchone() is None:
            create_database(conn, DATABASE)
    if restart:
        stop()
        # pgserver keeps one handle per data directory: start the server again through it.
        server.ensure_postgres_running()
    return server.get_uri(DATABASE)


def _tune(conn: psycopg.Connection) -> bool:
    """Apply `TUNING` (ALTER SYSTEM, reload); whether a changed setting needs a restart.

    A server this process did not start is never restarted (others may be using it):
    its start-only settings apply at its next start.
    """
    restart = False
    for name, value in TUNING.items():
        same, context = conn.execute(
            "SELECT %s = current_setting(name), context FROM pg_settings WHERE name = %s",
            (value, name)).fetchone()  # type: ignore[misc]
        if not same:
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
            restart |= context == "postmaster"
    conn.execute("SELECT pg_reload_conf()")
    return restart


def is_running() -> bool:
    """Whether a postmaster is alive for the embedded data directory."""
    pid_file = data_dir() / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return False
    return True


def stop() -> bool:
    """Stop the embedded server; returns False when it was not running."""
    if not is_running():
        return False
    _quiet_runtime_dir()
    from pgserver._commands import pg_ctl

    # pgserver runs the cluster as the unprivileged `pgserver` user under root.
    user = "pgserver" if os.geteuid() == 0 else None
    pg_ctl(["-m", "fast", "-w", "stop"], pgdata=data_dir(), user=user, timeout=60)
    return True
