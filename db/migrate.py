"""A small migration runner for plain `.sql` files, PL/pgSQL included.

Files in `db/migrations/` apply in name order, each once, each in its own
transaction, recorded in `schema_migrations` with a checksum. The whole run
holds a PostgreSQL advisory lock, so concurrent runners serialize and the
later ones find nothing left to do. An applied file whose text has changed is
an error: schema changes go in new files.

Files in `db/functions/` hold the current definition of one function each
(`CREATE OR REPLACE FUNCTION`): after the migrations, each is applied again
whenever its text differs from the text last applied (recorded in the same
ledger as `functions/<name>`). So a function that changes is edited in place,
instead of being copied whole into every migration that changes it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import psycopg

from leadpipe.errors import UserError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
FUNCTIONS_DIR = Path(__file__).parent / "functions"
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


def discover_functions(directory: Path = FUNCTIONS_DIR) -> list[Migration]:
    """The function files (`functions/<name>`), applied after the migrations in name order."""
    return [Migration(f"functions/{p.stem}", p) for p in sorted(directory.glob("*.sql"))]


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


def _pending(migrations: list[Migration], functions: list[Migration],
             applied: dict[str, str]) -> list[Migration]:
    """What an upgrade applies, in order: new migrations, then function files whose text
    is not the one last applied."""
    return ([m for m in migrations if m.version not in applied]
            + [f for f in functions if applied.get(f.version) != f.checksum])


def status(url: str, directory: Path = MIGRATIONS_DIR,
           functions: Path = FUNCTIONS_DIR) -> MigrationStatus:
    """Applied and pending versions (migrations, then function files)."""
    migrations, defined = discover(directory), discover_functions(functions)
    with psycopg.connect(url) as conn:
        applied = _applied(conn)
    _check_unchanged(migrations, applied)
    pending = [m.version for m in _pending(migrations, defined, applied)]
    return MigrationStatus(
        applied=[m.version for m in migrations + defined if m.version not in pending],
        pending=pending,
    )


def upgrade(url: str, directory: Path = MIGRATIONS_DIR,
            functions: Path = FUNCTIONS_DIR) -> list[str]:
    """Apply every pending migration, then every changed function file; returns the
    versions applied by this call."""
    migrations, defined = discover(directory), discover_functions(functions)
    done: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            conn.execute(_LEDGER)
            applied = _applied(conn)
            _check_unchanged(migrations, applied)
            for m in _pending(migrations, defined, applied):
                with conn.transaction():
                    conn.execute(m.sql)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s) "
                        "ON CONFLICT (version) DO UPDATE "
                        "SET checksum = excluded.checksum, applied_at = now()",
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
