"""The person upsert of a first load: resolved in DuckDB call by call, written by COPY.

`upsert_persons` in PostgreSQL pays for every row twice over on a first load: its
set-based steps run in the row executor over temporary tables (about 80 us a source row),
and every row it writes maintains the person tables' indexes one entry at a time (about
60 us more). A first load, into person tables that are empty, needs neither: the same
statements (`db/duckdb/upsert_persons.sql`, the contract of 0011_person_upsert.sql) run
call by call in DuckDB's vectorized engine against the load's own person tables, and the
rows go into PostgreSQL by COPY in one transaction held open from start to end, the
tables' secondary indexes dropped at its start and built at its end. Call for call the
results are those of `upsert_persons` (tests/test_first_load.py compares every table,
ids included); the dedup queue gets every person.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import numpy as np
import psycopg
import pyarrow as pa

from db.queries import sql
from leadpipe.errors import UserError
from leadpipe.stages import StageClock
from tasks.copy import copy_arrow

log = logging.getLogger(__name__)

SQL_FILE = Path(__file__).resolve().parent.parent / "db" / "duckdb" / "upsert_persons.sql"
PERSON_TABLES = ("persons", "phone_numbers", "email_addresses", "addresses", "person_lineage")
SENT_PER_CALL = ("phone_numbers", "email_addresses", "addresses", "person_lineage",
                 "import_audit_log")
"""The tables a call's rows go to as soon as it ends (the people wait for the last call)."""
MAX_PASSES = 5
UPSERTED = ("row_number", "source_system", "source_key", "first_name", "middle_name",
            "last_name", "name_suffix", "full_name_raw", "email_raw", "email", "phone_raw",
            "phone_e164", "phone2_raw", "phone2_e164", "street", "street2", "city", "state",
            "zip5", "zip4", "address_raw", "source_updated_at")
"""The staged columns the upsert reads (DuckDB would convert the others, `raw` above all:
a 50,000-row chunk's cleaning took 229 ms with them, 165 ms without)."""
_COPY_ROWS = 100_000


@dataclass(frozen=True)
class _Statement:
    text: str
    params: frozenset[str]

    @property
    def label(self) -> str:
        """The statement's start, on one line (its name in the load's profile)."""
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
    """A first load's person tables, built call by call in DuckDB and written into
    PostgreSQL in one transaction that the load holds open from start to end.

    Each call's child rows, lineage and audit go to the database as soon as the call is
    done, by COPY in a thread of their own (the database works while DuckDB does the next
    call). The people, whose state later calls still change, go once every source is read
    (`_send_people`), and from then on each call sends its new people and those it changed
    (deleted and COPYed again). The person tables' secondary indexes are dropped when the
    load starts and built when it ends, and the per-row foreign-key checks are skipped
    (every row names a person of the load).
    Until the end nothing is visible, and a load that fails or is killed leaves nothing.

    Args:
        conninfo: the database the load goes to; its person tables must be empty.
        call_rows: rows per call of the upsert, at most (DuckDB's work per row falls as
            calls grow: a 400,000-row table took 45 us a row in 50,000-row calls, 19 us in
            one). The first calls of a load ramp up to it from `read_rows`, doubling, so
            that DuckDB starts once one chunk is read rather than a whole call.
        memory_limit: DuckDB's memory limit (it spills to a temporary directory past it).
        compact_bytes: how much the load's tables (in memory and spilled) may grow after a
            checkpoint before a call ends with the next (`COMPACT_BYTES`).
        profile: collects seconds per statement of the SQL file (as "section: start").

    Raises:
        UserError: the person tables already hold rows (a first load only fills empty ones;
            later imports go through `upsert_persons`), or the role may not skip the
            foreign-key checks (`partner_checks_skippable`).
    """

    READ_ROWS = 50_000
    """Rows per chunk read, checked and staged; calls are made of whole chunks."""
    CHUNKS_AHEAD = 8
    """Staged chunks that may wait for the upsert (their upserted columns only): the reader
    goes on through a call's upsert instead of stopping one chunk ahead of it."""
    CORES = os.cpu_count() or 2
    CORES_WHILE_READING = max(1, CORES - 1)
    COMPACT_BYTES = 1_200_000_000
    """DuckDB's tables stay uncompressed until a checkpoint compresses them; its automatic
    ones (every 16 MB written) compressed the tables again and again: in a one-off
    probe (DuckDB alone over the 1M benchmark's calls, alternated) the calls took 63.7 and
    63.1 s with them, 49.5 and 50.3 s without. Without any, 10M rows had run out of memory
    sorting the people at the end (6.4 GB spilled), so a call checkpoints once the tables
    grew by this much since the last (1M rows end at 670 MB, and never do; a checkpoint at
    630 MB took 3.5 s). Checkpointing every call once the tables passed this size in all
    had spent 176 s of a 1,512 s 10M run."""
    CALL_ROWS = 1_000_000
    """Rows per call by default (`leadpipe migrate --first-load`, the benchmark). Each call
    reads every stored person's keys again, so fewer calls matter more as the load grows:
    `benchmarks/migration_bench.py --rows 10000000` took 873 s in calls of 250,000 (other work
    shared the cores for part of that run), 589 and 598 s in calls of a million (DuckDB
    spills past its memory limit; the process tree peaked at 2,077 MB, and at 1,477 to
    1,516 MB for 1M rows)."""

    def __init__(self, conninfo: str, *, call_rows: int = CALL_ROWS,
                 memory_limit: str = "600MB", compact_bytes: int = COMPACT_BYTES,
                 profile: StageClock | None = None) -> None:
        self._pg = psycopg.connect(conninfo)
        try:
            self._next_ids = _open_load(self._pg)
        except BaseException:
            self._pg.close()
            raise
        self._first_person = self._next_ids["persons"]
        self._people_sent = self._first_person
        self._calls = 0
        self.call_rows = call_rows
        self.read_rows = min(call_rows, self.READ_ROWS)
        self._pending: list[tuple[pa.Table, int, int, int]] = []
        self._rows_read = 0
        self._pending_batch: tuple[int, str] | None = None
        self._profile = profile or StageClock(label="first load")
        self._audited: set[int] = set()
        self._writer = _Writer(self._pg)
        self._dir = tempfile.TemporaryDirectory(prefix="leadpipe-first-load-")
        # In memory (a file-backed database wrote every scratch table out: 1M rows took
        # 99.5 s instead of 79.9 s); past memory_limit DuckDB spills to the folder. Its
        # automatic checkpoints are off (`_compact` checkpoints when the tables grow large).
        # While the sources are read, the reader thread keeps one core busy: DuckDB takes the
        # others, on two cores one thread (a second one mostly contended with the reader: in
        # a one-off probe, DuckDB alone over the 1M benchmark's calls used 39.8 and 42.2 CPU
        # s with one thread, 51.2 and 67.2 with two); once every source is read it takes
        # them all (`reading_done`).
        self._db = duckdb.connect(config={"memory_limit": memory_limit,
                                          "temp_directory": self._dir.name,
                                          "threads": self.CORES_WHILE_READING,
                                          "checkpoint_threshold": "1TB"})
        self.compact_bytes = compact_bytes
        self.checkpoints = 0
        self._compacted = 0
        self._read_all = threading.Event()
        self._all_cores = False
        self._run("state")

    def reading_done(self) -> None:
        """Every source is read (called from the reader's thread): DuckDB may take every
        core from its next call on."""
        self._read_all.set()

    def _run(self, section: str, **params: object) -> duckdb.DuckDBPyConnection:
        if not self._all_cores and self._read_all.is_set():
            self._db.execute(f"SET threads = {self.CORES}")
            self._all_cores = True
        result = self._db
        for statement in _sections()[section]:
            with self._profile.stage(f"{section}: {statement.label}"):
                result = self._db.execute(statement.text,
                                          {k: params[k] for k in statement.params} or None)
        return result

    def _scalar(self, query: str) -> int:
        return int(self._db.execute(query).fetchone()[0])

    def add(self, batch_id: int, filename: str, rows: pa.Table, read: int, first_row: int,
            last_row: int) -> None:
        """Take the next staged chunk of a batch: `read` rows read, first_row..last_row,
        `rows` the staged ones (the others were rejected); upsert the call it
        completes. A call holds one batch's consecutive chunks, up to
        min(call_rows, read_rows * 2^(calls so far)) rows read; a chunk of another batch first
        upserts the call in hand. The calls depend on the row counts alone, so a load gives
        the same results however its reading was interrupted and resumed."""
        if self._pending_batch not in (None, (batch_id, filename)):
            self.flush()
        # Only what the upsert reads is kept: a call's whole staged rows (their raw rows above
        # all) had been most of a million-row call's memory.
        self._pending.append((rows.select(UPSERTED), read, first_row, last_row))
        self._rows_read += read
        self._pending_batch = (batch_id, filename)
        target = min(self.call_rows, self.read_rows * 2 ** self._calls)
        if self._pending_rows >= target:
            self.flush()

    @property
    def _pending_rows(self) -> int:
        """Rows read of the call in hand."""
        return sum(chunk[1] for chunk in self._pending)

    def flush(self) -> None:
        """Upsert the call in hand, if any."""
        if self._pending_batch is None:
            return
        rows = pa.concat_tables([chunk[0] for chunk in self._pending])
        first, last = self._pending[0][2], self._pending[-1][3]
        batch_id, filename = self._pending_batch
        self._pending, self._pending_batch = [], None
        self.upsert(batch_id, filename, rows, first, last)

    def upsert(self, batch_id: int, filename: str, rows: pa.Table,
               first_row: int, last_row: int) -> tuple[int, int, int, int]:
        """`upsert_persons(batch_id, first_row, last_row)` of these staged rows (the columns of
        stg_person); returns (inserted, updated, matched, unchanged) as it does."""
        self._calls += 1
        self._db.register("chunk_in", rows.select(UPSERTED))
        try:
            self._run("rows")
        finally:
            self._db.unregister("chunk_in")
        self._run("call_start")
        passes = touched = 0
        while True:
            if passes == 0:
                self._run("hit_first")
            else:
                self._run("cand")
                self._run("hit")
                self._run("hit_settled")
                left = self._scalar("SELECT count(*) FROM ups_hit")
                if left == 0:
                    break
                if passes == MAX_PASSES:
                    log.warning("first load: batch %s rows %s-%s: %s rows still move after "
                                "%s passes", batch_id, first_row, last_row, left, passes)
                    break
            passes += 1
            self._run("group", next_id=self._next_ids["persons"])
            self._next_ids["persons"] += self._scalar(
                "SELECT count(*) FROM ups_src WHERE is_leader")
            self._run("final")
            self._run("write", batch=batch_id, **{"pass": passes})
            touched += int(self._run("update", batch=batch_id).fetchone()[0])
            self._run("lineage", batch=batch_id, file=filename, **{"pass": passes})
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
                "INSERT INTO import_audit_log VALUES ($1, $2, $3, $4)",
                [[batch_id, "INSERT", inserted, json.dumps(details)],
                 [batch_id, "UPDATE", updated, json.dumps(details)]])
        self._send()
        if self._read_all.is_set():
            self._send_people()
        self._compact()
        return inserted, updated, matched, unchanged

    def _held(self) -> int:
        return self._scalar("SELECT sum(memory_usage_bytes + temporary_storage_bytes) "
                            "FROM duckdb_memory() WHERE tag = 'IN_MEMORY_TABLE'")

    def _compact(self) -> None:
        """Checkpoint (compress the tables) once they grew by `compact_bytes` since the last.
        The call's scratch tables go first: the next call makes its own, and compressing
        them was work thrown away."""
        if self._held() - self._compacted <= self.compact_bytes:
            return
        with self._profile.stage("checkpoint"):
            for (table,) in self._db.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, 'ups_')"
            ).fetchall():
                self._db.execute(f"DROP TABLE {table}")
            self._db.execute("CHECKPOINT")
        self._compacted = self._held()
        self.checkpoints += 1

    def _send(self) -> None:
        """Hand the call's child rows, lineage and audit to the writer, with their ids, and
        keep of the child rows what later calls read."""
        for table in SENT_PER_CALL:
            with self._profile.stage(f"send: {table}"):
                data = self._db.execute(_out(table)).to_arrow_table()
            if table in self._next_ids:
                first = self._next_ids[table]
                data = data.add_column(0, "id", pa.array(
                    np.arange(first, first + data.num_rows, dtype=np.int64)))
                self._next_ids[table] += data.num_rows
            self._writer.put(table, data)
        self._run("kept")

    def _send_people(self) -> None:
        """Hand the writer the people not sent yet: the new ones, and those changed since
        they were sent (deleted first).

        The people go once every source is read, while DuckDB does the last calls and the
        database has a core to spare, instead of all after the last call: at 1M rows their
        COPY had been 2.4 to 3.0 s of the load's last stretch. Sent earlier, more of them
        would be sent twice, each leaving a dead row behind (98,060 of the 1M benchmark's
        659,326 people are sent twice, by its last seven calls)."""
        sent = {"sent": self._people_sent}
        with self._profile.stage("send: persons"):
            ids = self._run("resent_people", **sent).to_arrow_table().column(0)
            if len(ids):
                self._writer.execute(sql("first_load_resent_people"),
                                     {"ids": ids.to_pylist()})
            for batch in self._db.execute(_out("persons"), sent).to_arrow_reader(_COPY_ROWS):
                self._writer.put("persons", batch)
            if self._next_ids["persons"] > self._people_sent:
                self._writer.execute(sql("first_load_queue_people"), {
                    "first_id": self._people_sent, "last_id": self._next_ids["persons"] - 1})
            self._run("people_sent")
        self._people_sent = self._next_ids["persons"]

    def finish(self) -> None:
        """Write the people, build the indexes again, set the sequences and commit.

        The child tables' indexes are built by the writer while DuckDB does the last call,
        and that call's child rows then go into indexed tables, unless the call holds more
        than a quarter of the rows: a row COPYed into indexed tables cost about twice one
        indexed by a build. At 1M rows that moved 2.0-3.0 s of the 3.4-4.3 s of builds
        off the load's last stretch (whose seconds vary too much to show the gain); at 10M
        rows the builds left at the end took 16.5 s (all of them had taken 96 s).
        """
        self.reading_done()
        if self._pending_rows * 4 <= self._rows_read:
            self._writer.execute(sql("first_load_child_indexes"),
                                 {"tables": list(PERSON_TABLES[1:])})
        with self._profile.stage("finish: last call"):
            self.flush()
        # (the last call sent its people; none did when upsert was called directly)
        if self._people_sent < self._next_ids["persons"]:
            self._send_people()
        with self._profile.stage("finish: writes done"):
            self._writer.close()
        self._pg.execute(sql("first_load_queue_restore"))
        with self._profile.stage("finish: indexes built"):
            self._pg.execute("SET LOCAL session_replication_role = DEFAULT")
            self._pg.execute("SELECT dedup_restore_indexes()")
        with self._profile.stage("finish: commit"):
            for table in PERSON_TABLES:
                self._pg.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"max(id)) FROM {table} HAVING count(*) > 0")
            self._pg.commit()

    def close(self) -> None:
        """Stop; a load not finished is rolled back."""
        self._writer.close(raising=False)
        self._pg.close()
        self._db.close()
        self._dir.cleanup()


def _open_load(conn: psycopg.Connection) -> dict[str, int]:
    """Start the load's transaction: check the person tables are empty, take them over
    (their secondary indexes dropped, foreign-key checks off); the next id of each."""
    tables = ", ".join(f"'{t}'" for t in PERSON_TABLES)
    regclasses = f"ARRAY[{tables}]::regclass[]"
    filled = [t for t in PERSON_TABLES if _holds_rows(conn, t)]
    if filled:
        raise UserError(f"a first load needs empty person tables; {', '.join(filled)} "
                        "already hold rows (migrate without --first-load)")
    if not conn.execute(f"SELECT partner_checks_skippable({regclasses})").fetchone()[0]:
        raise UserError("a first load skips the foreign-key checks of the person tables, and "
                        "this role may not (it needs to set session_replication_role); "
                        "migrate without --first-load")
    next_ids = {t: _next_id(conn, t) for t in PERSON_TABLES}
    _truncate_empty(conn)
    conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
    # The load's files are synced at its commit (`_truncate_empty`): have the kernel write
    # them out as they are written instead.
    conn.execute("SET LOCAL backend_flush_after = '1MB'")
    conn.execute("SET LOCAL session_replication_role = replica")
    conn.execute(f"SELECT dedup_suspend_indexes({regclasses})")
    conn.execute(sql("first_load_queue_suspend"))
    return next_ids


def _holds_rows(conn: psycopg.Connection, table: str) -> bool:
    return bool(conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0])


def _truncate_empty(conn: psycopg.Connection) -> None:
    """TRUNCATE the (empty) person tables, with the tables that reference them when those
    are empty too.

    The tables then get new files in the load's transaction, and on a server with
    `wal_level = minimal` (the embedded one) PostgreSQL writes no WAL for what the load
    COPYs into them: it syncs the files at commit instead. On other servers nothing
    changes. A referencing table that holds rows (an opt-out not matched to anyone, say)
    must not be emptied, nor a table this role may not truncate: the load then writes its
    tables through the WAL as before. The truncated tables stay locked until the load
    ends, as the person tables already are.
    """
    found = conn.execute(sql("first_load_referencing"),
                         {"tables": list(PERSON_TABLES)}).fetchall()
    tables = [t for t, _ in found]
    barred = [t for t, allowed in found if not allowed]
    held = [t for t in tables if t not in PERSON_TABLES and _holds_rows(conn, t)]
    if held or barred:
        log.info("first load: the person tables are written through the WAL (%s)",
                 f"{', '.join(held)} hold rows" if held else
                 f"this role may not truncate {', '.join(barred)}")
        return
    conn.execute(f"TRUNCATE {', '.join(tables)}")


class _Writer:
    """COPYs tables into the load's transaction in a thread (and runs statements there, in
    turn with them); an error there is raised at the next `put` or `execute`, or at
    `close`.

    What waits for the writer is bounded by its Arrow bytes (`MAX_BYTES`), not by a count
    of tables: with room for four tables only, a call's sends waited for the previous
    call's COPYs, and the upsert stood still for 2.2 s of a 1M-row load (py-spy, one-off)
    while PostgreSQL COPYed; a count large enough for that held whole million-row calls at
    10M rows."""

    MAX_BYTES = 384 * 2**20

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn
        self._waiting: collections.deque[
            tuple[Callable[[psycopg.Connection], object] | None, int]] = collections.deque()
        self._held = 0
        self._changed = threading.Condition()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="first-load-writer",
                                        daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._waiting)
                work, size = self._waiting.popleft()
            if work is None:
                return
            if self._error is None:
                try:
                    work(self._conn)
                except BaseException as exc:  # raised in the loading thread
                    self._error = exc
            with self._changed:
                self._held -= size
                self._changed.notify_all()

    def _submit(self, work: Callable[[psycopg.Connection], object] | None, size: int) -> None:
        """Queue work, once what waits leaves room for `size` bytes (or nothing waits)."""
        with self._changed:
            self._changed.wait_for(lambda: not self._held or
                                   self._held + size <= self.MAX_BYTES)
            self._waiting.append((work, size))
            self._held += size
            self._changed.notify_all()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def put(self, table: str, data: pa.Table | pa.RecordBatch) -> None:
        self._raise()
        self._submit(lambda conn: copy_arrow(conn, table, data), data.nbytes)

    def execute(self, statement: str, params: dict[str, object]) -> None:
        self._raise()
        self._submit(lambda conn: conn.execute(statement, params), 0)

    def close(self, *, raising: bool = True) -> None:
        if self._thread.is_alive():
            self._submit(None, 0)
            self._thread.join()
        if raising:
            self._raise()


def _out(table: str) -> str:
    """The DuckDB query of a PostgreSQL table's rows, in insertion order (section out_*)."""
    return _sections()[f"out_{table}"][0].text


def _next_id(conn: psycopg.Connection, table: str) -> int:
    """The value the identity of `table` would give next (without drawing it, so that a
    write that fails changes no sequence, and the next run gives the same ids)."""
    sequence = conn.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,)).fetchone()[0]
    last, called = conn.execute(f"SELECT last_value, is_called FROM {sequence}").fetchone()
    return last + 1 if called else last
