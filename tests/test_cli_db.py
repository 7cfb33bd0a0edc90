"""`leadpipe db ...` against a real PostgreSQL, through the real command."""

from __future__ import annotations

from typing import Any

from db import migrate


def test_db_upgrade_then_status_then_upgrade_again(empty_db: str, cli: Any) -> None:
    env = {"DATABASE_URL": empty_db}
    total = len(migrate.discover()) + len(migrate.discover_functions())

    status = cli("db", "status", env=env)
    assert status.returncode == 0, status.stderr
    assert f"0 applied, {total} pending" in status.stdout

    first = cli("db", "upgrade", env=env)
    assert first.returncode == 0, first.stderr
    assert f"schema upgraded: {total} migration(s) applied" in first.stdout

    again = cli("db", "upgrade", env=env)
    assert again.returncode == 0, again.stderr
    assert "schema up to date: nothing to apply" in again.stdout

    status = cli("db", "status", env=env)
    assert f"{total} applied, 0 pending" in status.stdout
