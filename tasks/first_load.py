"""The person upsert of a first load: every chunk resolved in DuckDB, written once by COPY.

`upsert_persons` in PostgreSQL pays for every row twice over on a first load: its
set-based steps run in the row executor over temporary tables (about 80 us a source row),
and every row it writes maintains the person tables' indexes one entry at a time (about
60 us more). A first load, into person tables that are empty, needs neither: the same
statements (`db/duckdb/upsert_persons.sql`, the contract of 0011_person_upsert.sql) run
chunk by chunk in DuckDB's vectorized engine against in-memory person tables, and at the
end the tables are copied into PostgreSQL in one transaction, their secondary indexes
dropped before and built after. Chunk for chunk the results are those of `upsert_persons`
(tests/test_first_load.py compares every table); the dedup queue gets every person once.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa

from leadpipe.errors import UserError
from tasks.copy import copy_arrow

log = logging.getLogger(__name__)

SQL_FILE = Path(__file__).resolve().parent.parent / "db" / "duckdb" / "upsert_persons.sql"
PERSON_TABLES = ("persons", "phone_numbers", "email_addresses", "addresses", "person_lineage")
MAX_PASSES = 5
_COPY_ROWS = 200_000


@dataclass(frozen=True)
class _Statement:
    text: str
    params: frozenset[str]

    @property
    def label(self) -> str:
        """The statement's start, on one line (its name in `FirstLoad.seconds`)."""
        return " ".join(self.text.split())[:60]


@cache
def _sections() -> dict[str, list[_Statement]]:
    """The named sections of the SQL file, each split into its statements."""
    sections: dict[str, list[_Statement]] = {}
    parts = re.split(r"^-- name: (\w+)\s*$", SQL_FILE.read_text(encoding="utf-8"), flags=re.M)
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        statements = [s.strip() for s in re.split(r";\s*$", body, flags=re.M)]
        sections[name] = [_Statement(s, frozenset(re.findall(r"\$(\w+)", s)))
                          for s in statements if re.sub(r"--[^\n]*", "", s).strip()]
    return sections


class FirstLoad:
    """A first load's person tables, built chunk by chunk in DuckDB, then written at once.

    Args:
        conn: the database the load goes to; its person tables must be empty.
        memory_limit: DuckDB's memory limit (it spills to a temporary directory past it).

    Raises:
        UserError: the person tables already hold rows (a first load only fills empty ones;
            later imports go through `upsert_persons`).
    """

    def __init__(self, conn: psycopg.Connection, *, memory_limit: str = "1GB") -> None:
        filled = [t for t in PERSON_TABLES
                  if conn.execute(f"SELECT EXISTS (SELECT 1 FROM {t})").fetchone()[0]]
        if filled:
            raise UserError(f"a first load needs empty person tables; {', '.join(filled)} "
                            "already hold rows (migrate without --first-load)")
        self._next_id = _next_id(conn, "persons")
        conn.rollback()
        self._calls = 0
        self.seconds: dict[str, float] = {}
        """Seconds per statement of the SQL file, by section (the first load's profile)."""
        self._audited: set[int] = set()
        self._db = duckdb.connect(config={"memory_limit": memory_limit})
        self._run("state")

    def _run(self, section: str, **params: object) -> duckdb.DuckDBPyConnection:
        started = time.perf_counter()
        result = self._db
        for statement in _sections()[section]:
            result = self._db.execute(statement.text,
                                      {k: params[k] for k in statement.params} or None)
            key = f"{section}: {statement.label}"
            self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - started
            started = time.perf_counter()
        return result

    def _scalar(self, query: str) -> int:
        return int(self._db.execute(query).fetchone()[0])

    def upsert(self, batch_id: int, filename: str, rows: pa.Table,
               first_row: int, last_row: int) -> tuple[int, int, int, int]:
        """`upsert_persons(batch_id, first_row, last_row)` of these staged rows (the columns of
        stg_person); returns (inserted, updated, matched, unchanged) as it does."""
        self._calls += 1
        call = self._calls
        self._db.register("chunk_in", rows)
        try:
            self._run("rows")
        finally:
            self._db.unregister("chunk_in")
        self._run("call_start")
        passes = touched = 0
        while True:
            self._run("cand", **{"pass": passes})
            self._run("hit", **{"pass": passes})
            if passes > 0:
                self._run("hit_settled")
                left = self._scalar("SELECT count(*) FROM ups_hit")
                if left == 0:
                    break
                if passes == MAX_PASSES:
                    log.warning("first load: batch %s rows %s-%s: %s rows still move after "
                                "%s passes", batch_id, first_row, last_row, left, passes)
                    break
            passes += 1
            self._run("group", next_id=self._next_id)
            self._next_id += self._scalar("SELECT count(*) FROM ups_src WHERE is_leader")
            self._run("final")
            self._run("write", batch=batch_id, call=call, **{"pass": passes})
            touched += int(self._run("update", batch=batch_id).fetchone()[0])
            self._run("lineage", batch=batch_id, file=filename, call=call, **{"pass": passes})
            self._run("moved")
        counts = self._run("counts").fetchone()
        inserted, updated, matched, unchanged = (int(c) for c in counts)
        if inserted + updated + matched > 0 or batch_id not in self._audited:
            self._audited.add(batch_id)
            details = {"what": "persons", "rows": self._scalar("SELECT count(*) FROM ups_rows"),
                       "inserted": inserted, "updated": updated, "matched": matched,
                       "unchanged": unchanged, "persons_updated": touched, "passes": passes,
                       "first_row": first_row, "last_row": last_row}
            self._db.executemany(
                "INSERT INTO import_audit_log VALUES ($1, $2, $3, $4, $5)",
                [[batch_id, "INSERT", inserted, json.dumps(details), call],
                 [batch_id, "UPDATE", updated, json.dumps(details), call]])
        return inserted, updated, matched, unchanged

    def write(self, conn: psycopg.Connection) -> dict[str, int]:
        """Copy the person tables into PostgreSQL in one transaction (committed here), in the
        order `upsert_persons` would have inserted their rows, so identity ids come out the
        same; the tables' secondary indexes are dropped first and built again after.

        Returns:
            Rows written per table.
        """
        written: dict[str, int] = {}
        with conn.transaction():
            conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
            tables = "ARRAY['persons', 'phone_numbers', 'email_addresses', 'addresses', " \
                     "'person_lineage']::regclass[]"
            if conn.execute(f"SELECT partner_checks_skippable({tables})").fetchone()[0]:
                conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute(f"SELECT dedup_suspend_indexes({tables})")
            for table, statement in _out_statements().items():
                params = ({"first_id": _next_id(conn, table)}
                          if "first_id" in statement.params else None)
                reader = self._db.execute(statement.text, params).to_arrow_reader(_COPY_ROWS)
                written[table] = sum(copy_arrow(conn, table, batch) for batch in reader)
            conn.execute("SET LOCAL session_replication_role = DEFAULT")
            conn.execute("SELECT dedup_restore_indexes()")
            for table in PERSON_TABLES:
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) "
                             f"FROM {table} HAVING count(*) > 0")
        return written

    def close(self) -> None:
        self._db.close()


def _out_statements() -> dict[str, _Statement]:
    """Per PostgreSQL table, the DuckDB query of its rows in insertion order."""
    return {table: _sections()[f"out_{table}"][0]
            for table in (*PERSON_TABLES, "import_audit_log")}


def _next_id(conn: psycopg.Connection, table: str) -> int:
    """The value the identity of `table` would give next (without drawing it, so that a
    write that fails changes no sequence, and the next run gives the same ids)."""
    last, called = conn.execute(
        f"SELECT last_value, is_called FROM {_sequence(conn, table)}").fetchone()
    return last + 1 if called else last


def _sequence(conn: psycopg.Connection, table: str) -> str:
    return conn.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,)).fetchone()[0]
