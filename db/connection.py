"""One way to reach the database: `DATABASE_URL` when set, else the embedded server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import psycopg

from db import embedded
from leadpipe import settings


def database_url() -> str:
    """The connection URI: `DATABASE_URL`, else the embedded server (started once)."""
    return settings.database_url() or _embedded_url()


@cache
def _embedded_url() -> str:
    return embedded.start()


@contextmanager
def connect(url: str | None = None, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A connection that commits on success and rolls back on error.

    Args:
        url: a PostgreSQL URI; defaults to `database_url()`.
        autocommit: run each statement in its own transaction.
    """
    with psycopg.connect(url or database_url(), autocommit=autocommit) as conn:
        yield conn
