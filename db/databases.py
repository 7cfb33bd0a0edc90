"""Creating the databases leadpipe owns (the embedded one, tests' and benchmarks' scratch ones).

Text in them compares bytewise (LC_COLLATE "C"); LC_CTYPE stays the server's, so lower()
and upper() still fold every letter, not ASCII only. PostgreSQL sorts text under "C" with
abbreviated keys and memcmp, and under any other libc locale with strcoll on every
comparison: the person tables' text indexes, built at the end of a first load, took about a
third less time (one-off measurement on 400,000 rows). Under the embedded server's C.UTF-8
locale the order is the same (glibc orders C.UTF-8 by code point, as UTF-8 bytes are); a
database named by DATABASE_URL is used as it is.
"""

from __future__ import annotations

import psycopg
from psycopg import sql


def create_database(conn: psycopg.Connection, name: str, template: str | None = None) -> None:
    """CREATE DATABASE `name` on an autocommit connection; a copy of `template` if given
    (which keeps the template's locale)."""
    if template is not None:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)))
        return
    ctype = conn.execute("SELECT datctype FROM pg_database WHERE datname = 'template1'"
                         ).fetchone()[0]
    conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE {}")
                 .format(sql.Identifier(name), sql.Literal(ctype)))
