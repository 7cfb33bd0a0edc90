"""A small migration runner for plain `.sql` files, PL/pgSQL included.

Files in `db/migrations/` apply in name order, each once, each in its own
transaction, recorded in `schema_migrations` with a checksum. The whole run
holds a PostgreSQL advisory lock, so concurrent runners serialize and the
later ones find nothing left to do. An applied file whose text has changed is
an error: schema changes go in new files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import psycopg

from leadpipe.errors import UserError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any fixed bigint works; it only has to be the same for every runner.
LOCK_KEY = 0x1EAD_91BE


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class MigrationStatus:
    """What `db status` reports."""

    applied: list[str]
    pending: list[str]


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files, in the order they apply (`0001_name.sql`, ...)."""
    return [Migration(p.stem, p) for p in sorted(directory.glob("*.sql"))]


_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    checksum   char(64) NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def _applied(conn: psycopg.Connection) -> dict[str, str]:
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return {}
    rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
    return {version: checksum.strip() for version, checksum in rows}


def _check_unchanged(migrations: list[Migration], applied: dict[str, str]) -> None:
    for m in migrations:
        if m.version in applied and applied[m.version] != m.checksum:
            raise UserError(
                f"migration {m.path.name} was changed after it was applied; "
                "put schema changes in a new migration file"
            )


def status(url: str, directory: Path = MIGRATIONS_DIR) -> MigrationStatus:
    """Applied and pending migration versions."""
    migrations = discover(directory)
    with psycopg.connect(url) as conn:
        applied = _applied(conn)
    _check_unchanged(migrations, applied)
    return MigrationStatus(
        applied=[m.version for m in migrations if m.version in applied],
        pending=[m.version for m in migrations if m.version not in applied],
    )


def upgrade(url: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every pending migration; returns the versions applied by this call."""
    migrations = discover(directory)
    done: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            conn.execute(_LEDGER)
            applied = _applied(conn)
            _check_unchanged(migrations, applied)
            for m in migrations:
                if m.version in applied:
                    continue
                with conn.transaction():
                    conn.execute(m.sql)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
                        (m.version, m.checksum),
                    )
                done.append(m.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    return done


def upgraded_database() -> str:
    """The configured database (`db.connection.database_url`), its schema brought up to date:
    what every command that writes starts from."""
    from db import connection

    url = connection.database_url()
    upgrade(url)
    return url
