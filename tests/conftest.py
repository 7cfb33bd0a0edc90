"""Shared fixtures: a real PostgreSQL for every database test.

The server is `DATABASE_URL` when set (the role must be allowed to create
databases), else the embedded pgserver under `.leadpipe/pg/`. Each test that
asks for `db_url` gets its own fresh database cloned from a migrated template,
so tests never see each other's rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from db import connection, migrate
from db.databases import create_database
from leadpipe import settings

settings.apply_quiet_defaults()

# Test servers that some tests need, started on loopback and stopped after.
pytest_plugins = ["mariadb_server"]

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = f"lp_template_{os.getpid()}"


def _url_for(server_url: str, dbname: str) -> str:
    params = conninfo_to_dict(server_url)
    params["dbname"] = dbname
    return make_conninfo(**params)


def _create(server_url: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        create_database(conn, name, template)
    return _url_for(server_url, name)


def _drop(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_server() -> str:
    """A URI on the test server's maintenance database."""
    return _url_for(connection.database_url(), "postgres")


@pytest.fixture(scope="session")
def migrated_template(pg_server: str) -> Iterator[str]:
    """A database with every migration applied, cloned by `db_url`."""
    _drop(pg_server, TEMPLATE)
    url = _create(pg_server, TEMPLATE)
    migrate.upgrade(url)
    yield TEMPLATE
    _drop(pg_server, TEMPLATE)


@pytest.fixture
def empty_db(pg_server: str) -> Iterator[str]:
    """A fresh, empty database."""
    name = f"lp_test_{uuid.uuid4().hex[:12]}"
    yield _create(pg_server, name)
    _drop(pg_server, name)


@pytest.fixture
def db_url(pg_server: str, migrated_template: str) -> Iterator[str]:
    """A fresh database with the whole schema."""
    name = f"lp_test_{uuid.uuid4().hex[:12]}"
    yield _create(pg_server, name, template=migrated_template)
    _drop(pg_server, name)


CliRun = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli() -> CliRun:
    """Run the real `leadpipe` command in a subprocess, as an operator would."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "leadpipe", *args],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One ephemeral Prefect API for the whole session (starting one costs ~20 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def demo_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private LEADPIPE_HOME with the demo tenant's channel folders (`inbox/<channel>`)."""
    import tomllib

    home = tmp_path / "home"
    monkeypatch.setenv("LEADPIPE_HOME", str(home))
    demo = tomllib.loads((ROOT / "deployments" / "tenants" / "demo.toml").read_text())
    for channel in demo["channels"].values():
        (home / channel["folder"]).mkdir(parents=True)
    return home
