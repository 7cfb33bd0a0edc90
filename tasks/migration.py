"""The legacy migration path: per source checksum, check, stage, upsert, checkpoint.

Every chunk's upsert into the person tables commits with its checkpoint; its rows
and findings are staged just before, on a second connection, while the previous
chunk upserts, and the next source is opened and read while the last chunk of
one upserts. A run killed at any moment resumes after the last committed chunk,
first removing what was staged past it, and ends in the state of an uninterrupted
run. A file seen before (same SHA-256) is rejected as a duplicate; a MySQL table
may be migrated again (the upsert makes that change nothing).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from db.queries import sql
from leadpipe.errors import UserError
from leadpipe.stages import StageClock
from tasks.copy import copy_arrow
from tasks.first_load import UPSERTED, FirstLoad
from tasks.prefetch import prefetch
from tasks.sources import RetryableSourceError, Source, SourceError, SourceKind
from tasks.sources.columns import Synonyms
from tasks.sources.stored import StoredSource
from tasks.validation.findings import CheckedRows
from tasks.validation.person import check_person

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
RETRIES = 3
CHUNK_ROWS = 50_000
BACKOFF_SECONDS = 2.0
MIGRATION_KINDS: tuple[str, ...] = get_args(SourceKind)
"""The source types of migrated batches (the others are partner files)."""


@dataclass(frozen=True)
class SourceRun:
    """What migrating one source did: its batch, its reconciliation and its effects."""

    batch_id: int
    source: str
    kind: str
    status: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    warnings: int = 0
    inserted: int = 0
    updated: int = 0
    message: str | None = None

    @property
    def reconciled(self) -> bool:
        return self.rows_read == self.rows_loaded + self.rows_rejected

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "reconciled": self.reconciled}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, streamed (sources may be gigabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _identity(source: Source) -> tuple[str, str | None]:
    """The checksum a batch records, and whether it must be unique (files only)."""
    path = Path(source.name)
    if path.is_file():
        return file_sha256(path), path.resolve().as_uri()
    started = datetime.now(UTC).isoformat()
    return hashlib.sha256(f"{source.name}@{started}".encode()).hexdigest(), None


def _open_batch(conn: psycopg.Connection, source: Source) -> tuple[int, str, object | None]:
    """The batch to run: an unfinished one of this source, else a new one.

    Returns:
        (batch id, status, last committed row number or None).
    """
    sha256, uri = _identity(source)
    name = source.name
    found = conn.execute(sql("batch_resumable"), {"filename": name, "sha256": sha256}).fetchone()
    if found is None and uri is None:
        found = conn.execute(sql("migration_open_run"),
                             {"filename": name, "source_type": source.kind}).fetchone()
    if found is not None:
        checkpoint = conn.execute(sql("checkpoint_get"), {"batch_id": found[0]}).fetchone()
        return found[0], "RUNNING", checkpoint[0] if checkpoint else None
    size = Path(name).stat().st_size if uri else None
    params = {"filename": name, "source_type": source.kind, "partner": None,
              "channel": "migration", "landing_uri": uri, "sha256": sha256, "file_size": size}
    opened = conn.execute(sql("batch_open"), params).fetchone()
    if opened is None:
        batch_id = conn.execute(sql("batch_duplicate"), params).fetchone()[0]
        conn.commit()
        return batch_id, "REJECTED_DUPLICATE", None
    conn.commit()
    return opened[0], "PENDING", None


@dataclass(frozen=True)
class _Opened:
    """A source with the batch it runs in: new, resumed after `last`, or a duplicate."""

    source: Source
    batch_id: int
    status: str
    last: object | None

    @property
    def duplicate(self) -> bool:
        return self.status == "REJECTED_DUPLICATE"


@dataclass(frozen=True)
class _Item:
    """What the reader hands on: a chunk of a source (read, checked, then staged), or the
    source alone when it yields no chunk (a duplicate, or a run already read to its end).
    The chunks of one source share one `opened`."""

    opened: _Opened
    chunk: tuple[pa.RecordBatch, CheckedRows] | None = None


class _SourceDropped(Exception):
    """Reading a source failed with a network error (`RetryableSourceError`)."""

    def __init__(self, opened: _Opened, error: RetryableSourceError) -> None:
        super().__init__(str(error))
        self.opened = opened


def batch_rows_for(first_load: bool) -> int:
    """The default `batch_rows`: rows per chunk, or per call of a first load."""
    return FirstLoad.CALL_ROWS if first_load else CHUNK_ROWS


def migrate_source(conn: psycopg.Connection, source: Source, *, batch_rows: int = CHUNK_ROWS,
                   progress: Progress | None = None,
                   clock: StageClock | None = None) -> SourceRun:
    """Migrate one source into the person tables, resuming an interrupted run
    (`migrate_sources` with one source)."""
    (run,) = migrate_sources(conn, [source], batch_rows=batch_rows,
                             progress=lambda _source: progress, clock=clock)
    return run


def migrate_sources(conn: psycopg.Connection, sources: Sequence[Source], *,
                    batch_rows: int = CHUNK_ROWS,
                    progress: Callable[[Source], Progress | None] | None = None,
                    clock: StageClock | None = None,
                    fresh: bool = False, first_load: bool = False,
                    profile: StageClock | None = None) -> Iterator[SourceRun]:
    """Migrate sources one after another into the person tables; each source's run as it ends.

    Each source resumes its interrupted run if it has one, and commits chunk by chunk.
    One thread opens each source's batch, reads and checks its chunks, another stages them,
    both ahead of the upsert in this one, and they go on to the next source while the last
    chunk of this one upserts, so the database does not wait for a source's first chunk (a
    tenth of a million-row migration of eight files had been that wait). A network error
    while reading is retried 3 times with exponential backoff from the last checkpoint, then
    the source is FAILED and the next one goes on.

    Args:
        conn: the database (committed per chunk).
        sources: opened legacy sources (`tasks.sources.open_source`), in order.
        batch_rows: rows per chunk and per commit (with first_load: rows per call at most).
        progress: given a source when it opens, returns what to call with the number of rows
            of each of its committed chunks.
        clock: collects seconds per stage (read, check, stage, upsert, commit, and wait: the
            time the database waited for the next chunk).
        fresh: give up the sources' interrupted runs (`--no-resume`): each starts anew.
        first_load: upsert in DuckDB and write the person tables once at the end
            (`tasks.first_load`); they must be empty. Chunks are staged and checkpointed as
            they are read, and the sources' runs come when everything is written; a run
            killed before that wrote no person and starts anew (as with `fresh`).
        profile: with first_load, collects seconds per statement of its upsert.

    Raises:
        UserError: first_load with person tables that already hold rows, or by a role that
            may not skip their foreign-key checks.
        psycopg.Error: a database error; the chunk is rolled back and the batch FAILED.
    """
    clock = clock or StageClock()
    todo = list(sources)
    supersede = {s.name for s in todo} if fresh or first_load else set()
    loader = (FirstLoad(_conninfo(conn), call_rows=batch_rows, profile=profile)
              if first_load else None)
    try:
        ended = _migrate(conn, todo, batch_rows, progress, clock, supersede, loader)
        if loader is not None:
            ended = iter(list(ended))
            with clock.stage("write"):
                loader.finish()
        for end in ended:
            yield _finish(conn, end.batch_id, end.source) if isinstance(end, _Opened) else end
    finally:
        if loader is not None:
            loader.close()


def _migrate(conn: psycopg.Connection, todo: list[Source], batch_rows: int,
             progress: Callable[[Source], Progress | None] | None, clock: StageClock,
             supersede: set[str], loader: FirstLoad | None) -> Iterator[_Opened | SourceRun]:
    """`migrate_sources`' loop over the sources: each source as it ends, a run read to its
    end as its `_Opened` (to be finished: at once, or after a first load's write), a
    duplicate or a failed one as its `SourceRun`."""
    attempt = 0
    while todo:
        current: _Opened | None = None
        try:
            with contextlib.ExitStack() as stack:
                stager = stack.enter_context(psycopg.connect(_conninfo(conn)))
                # Three threads: reading and checking, staging, upserting (this one).
                read = stack.enter_context(contextlib.closing(prefetch(
                    _read_sources(_conninfo(conn), list(todo),
                                  loader.read_rows if loader else batch_rows, clock,
                                  supersede, done=loader.reading_done if loader else None))))
                items = stack.enter_context(contextlib.closing(prefetch(
                    _staged(read, stager, clock, checkpoint=loader is not None),
                    depth=loader.CHUNKS_AHEAD if loader else 1)))
                advance: Progress | None = None
                while True:
                    with clock.stage("wait"):
                        item = next(items, None)
                    if current is not None and (item is None or item.opened is not current):
                        done, current, attempt = current, None, 0
                        todo.pop(0)
                        yield done
                    if item is None:
                        break
                    if item.opened is not current:
                        current = item.opened
                        advance = progress(current.source) if progress else None
                        if current.duplicate:
                            duplicate, current, attempt = current, None, 0
                            todo.pop(0)
                            yield SourceRun(duplicate.batch_id, duplicate.source.name,
                                            duplicate.source.kind, duplicate.status,
                                            message="the same file was imported before")
                            continue
                    if item.chunk is None:
                        continue
                    if loader is None:
                        _commit_chunk(conn, current.batch_id, *item.chunk, clock, advance,
                                      replay=False)
                    else:
                        _load_chunk(loader, current, *item.chunk, clock, advance)
        except _SourceDropped as dropped:
            conn.rollback()
            if current is not None and current.batch_id != dropped.opened.batch_id:
                # the reader had read the source before to its end: it is complete
                todo.pop(0)
                yield current
            attempt += 1
            if attempt > RETRIES:
                attempt = 0
                todo.pop(0)
                if loader is not None:
                    with clock.stage("upsert"):
                        loader.flush()
                yield _fail(conn, dropped.opened.batch_id, dropped.opened.source,
                            f"{dropped} (after {RETRIES} retries)")
                continue
            pause = BACKOFF_SECONDS * 2 ** (attempt - 1)
            log.warning("%s: %s; retrying in %.0f s", dropped.opened.source.name, dropped, pause)
            time.sleep(pause)
        except psycopg.Error as exc:
            conn.rollback()
            if current is not None:
                _fail(conn, current.batch_id, current.source, f"database error: {exc}")
            raise


def _read_sources(conninfo: str, sources: list[Source], batch_rows: int, clock: StageClock,
                  supersede: set[str], done: Callable[[], None] | None = None
                  ) -> Iterator[_Item]:
    """Each source opened (its batch found or made, on a connection of this reader's own) and
    read and checked chunk by chunk after its checkpoint, in order. A source named in
    `supersede` first gives up its interrupted runs (once). `done` is called once the last
    source is read.

    Raises:
        _SourceDropped: reading a source failed with a network error.
    """
    with psycopg.connect(conninfo) as side:
        for source in sources:
            if source.name in supersede:
                side.execute(sql("migration_supersede"), {"filename": source.name})
                supersede.discard(source.name)
            opened = _Opened(source, *_open_batch(side, source))
            side.commit()
            empty = True
            if not opened.duplicate:
                chunks = source.batches(start_after=opened.last,  # type: ignore[arg-type]
                                        batch_rows=batch_rows)
                try:
                    for chunk in checked_chunks(chunks, source.kind, clock):
                        empty = False
                        yield _Item(opened, chunk)
                except RetryableSourceError as exc:
                    raise _SourceDropped(opened, exc) from exc
            if empty:
                yield _Item(opened)
    if done is not None:
        done()


def replay_batch(conn: psycopg.Connection, batch_id: int, synonyms: Synonyms, *,
                 errors_only: bool = False, batch_rows: int = CHUNK_ROWS,
                 progress: Progress | None = None,
                 clock: StageClock | None = None) -> SourceRun | None:
    """Process a migrated batch again from the rows the database keeps of it.

    Needs neither the source file nor the MySQL server: the rows are read back from
    `stg_person` and `import_errors` (`tasks.sources.stored`) and go through the
    migration's own chunk path; nothing changes where nothing is new.

    Args:
        conn: the database (committed per chunk).
        batch_id: a migrated batch (a legacy or upload source type), finished.
        synonyms: the tenant's `legacy.header_synonyms`.
        errors_only: only the rejected rows (e.g. after their raw rows were corrected).
        batch_rows: rows per chunk and per commit (with first_load: rows per call at most).
        progress: called with the number of rows of each committed chunk.
        clock: collects seconds per stage.

    Returns:
        The batch as it stands afterwards, or None when errors_only finds no rejected row.

    Raises:
        UserError: no such batch, not a migrated batch, or not a finished one.
        SourceError: a kept row no longer reads as a row of its source (edited by hand).
        psycopg.Error: a database error.
        Either way the chunk is rolled back and committed chunks stay (a replay started
        again completes them); the batch's counts change only when a replay ends.
    """
    with conn.cursor(row_factory=dict_row) as cur:
        batch = cur.execute(sql("batch_get"), {"batch_id": batch_id}).fetchone()
    if batch is None:
        raise UserError(f"no import batch {batch_id}")
    name, kind, status = batch["filename"], batch["source_type"], batch["status"]
    if kind not in MIGRATION_KINDS:
        raise UserError(f"batch {batch_id} is a {kind} batch, not a migrated source")
    if status not in ("COMPLETE", "COMPLETE_WITH_ERRORS"):
        raise UserError(f"batch {batch_id} is {status}: only a finished migration can be "
                        "replayed (an interrupted one resumes with `leadpipe migrate`)")
    if errors_only and not conn.execute(sql("batch_error_rows"),
                                        {"batch_id": batch_id}).fetchone():
        return None
    source = StoredSource(_conninfo(conn), batch_id, name=name, kind=kind, synonyms=synonyms,
                          errors_only=errors_only)
    started = datetime.now(UTC)
    try:
        _replay_chunks(conn, batch_id, kind, source.batches(batch_rows=batch_rows),
                       clock=clock or StageClock(), progress=progress)
    except (psycopg.Error, SourceError):
        conn.rollback()
        raise
    conn.execute(sql("batch_replay_started"), {"batch_id": batch_id, "started_at": started})
    return _finish(conn, batch_id, source)


def _conninfo(conn: psycopg.Connection) -> str:
    """How to open another connection to the database `conn` is connected to."""
    password = conn.info.password
    return make_conninfo(conn.info.dsn, password=password) if password else conn.info.dsn


def checked_chunks(chunks: Iterator[pa.RecordBatch], kind: str,
                   clock: StageClock) -> Iterator[tuple[pa.RecordBatch, CheckedRows]]:
    """The chunks, each with its checks and cleaned columns (read and check timed on
    `clock`)."""
    while True:
        with clock.stage("read"):
            rows = next(chunks, None)
        if rows is None:
            return
        if rows.num_rows == 0:
            continue
        with clock.stage("check"):
            checked = check_person(rows, kind)
        yield rows, checked


def _replay_chunks(conn: psycopg.Connection, batch_id: int, kind: str,
                   chunks: Iterator[pa.RecordBatch], *, clock: StageClock,
                   progress: Progress | None = None) -> None:
    """Replay a migrated batch's rows: check, restage and upsert each chunk, as the migration
    did (`_commit_chunk`); a thread reads and checks the next chunk meanwhile.

    Staged rows and findings equal to their new version are kept, only rows staged anew are
    upserted, and the checkpoint (rows read) stays as it is.
    """
    with contextlib.closing(prefetch(checked_chunks(chunks, kind, clock))) as items:
        for rows, found in items:
            _commit_chunk(conn, batch_id, rows, found, clock, progress, replay=True)


def _commit_chunk(conn: psycopg.Connection, batch_id: int, rows: pa.RecordBatch,
                  found: CheckedRows, clock: StageClock, progress: Progress | None, *,
                  replay: bool) -> None:
    """Upsert a staged chunk and commit it with its checkpoint: the migration's and the
    replay's one step, so a replayed row is treated exactly as the migration treated it.
    A replayed chunk is restaged first (rows equal to their new version kept)."""
    numbers = rows.column("row_number")
    first, last = pc.min(numbers).as_py(), pc.max(numbers).as_py()
    ranges = [(first, last)]
    if replay:
        with clock.stage("stage"):
            ranges = _restage(conn, batch_id, _staged_rows(found, batch_id),
                              found.findings.table(batch_id), first, last)
    with clock.stage("upsert"):
        for low, high in ranges:
            conn.execute("SELECT * FROM upsert_persons(%s, %s, %s)", (batch_id, low, high))
    with clock.stage("commit"):
        if not replay:
            _checkpoint(conn, batch_id, rows)
        conn.commit()
    if progress:
        progress(rows.num_rows)


def _checkpoint(conn: psycopg.Connection, batch_id: int, rows: pa.RecordBatch) -> None:
    """Record a chunk read: its last row number, and its rows added to the rows read."""
    read = conn.execute(sql("checkpoint_get"), {"batch_id": batch_id}).fetchone()
    conn.execute(sql("checkpoint_set"), {
        "batch_id": batch_id, "last_row_number": pc.max(rows.column("row_number")).as_py(),
        "rows_read": (read[1] if read else 0) + rows.num_rows})


def _load_chunk(loader: FirstLoad, opened: _Opened, rows: pa.RecordBatch,
                found: CheckedRows, clock: StageClock, progress: Progress | None) -> None:
    """A staged chunk handed to a first load (upserted in DuckDB when its call is full)."""
    numbers = rows.column("row_number")
    with clock.stage("upsert"):
        loader.add(opened.batch_id, opened.source.name, found.staged, rows.num_rows,
                   pc.min(numbers).as_py(), pc.max(numbers).as_py())
    if progress:
        progress(rows.num_rows)


def _staged_rows(checked: CheckedRows, batch_id: int) -> pa.Table:
    return checked.staged.add_column(
        0, "batch_id", pa.array([batch_id] * checked.staged.num_rows, pa.int64()))


def _staged(items: Iterator[_Item], stager: psycopg.Connection, clock: StageClock, *,
            checkpoint: bool = False) -> Iterator[_Item]:
    """The reader's items, each chunk staged (rows and findings) and committed on `stager`
    first, with its checkpoint if `checkpoint` (a first load: nothing else commits one). A
    source starts there: its run is RUNNING, and rows a killed run staged past its
    checkpoint are removed, to be staged again."""
    started: _Opened | None = None
    for item in items:
        opened = item.opened
        if opened is not started and not opened.duplicate:
            stager.execute(sql("migration_unstage_after"),
                           {"batch_id": opened.batch_id, "after": opened.last})
            stager.execute(sql("migration_start"), {"batch_id": opened.batch_id})
            stager.commit()
        started = opened
        if item.chunk is not None:
            _, checked = item.chunk
            with clock.stage("stage"):
                skipped = stager.execute(sql("stage_checks_skip"), {
                    "batch_id": opened.batch_id, "tables": ["stg_person", "import_errors"]},
                ).fetchone() is not None
                copy_arrow(stager, "stg_person", _staged_rows(checked, opened.batch_id))
                copy_arrow(stager, "import_errors", checked.findings.table(opened.batch_id))
                if skipped:
                    stager.execute(sql("stage_checks_restore"))
                if checkpoint:
                    _checkpoint(stager, opened.batch_id, item.chunk[0])
                stager.commit()
            if checkpoint:
                item = _Item(opened, _upserted_part(*item.chunk))
        yield item


def _upserted_part(rows: pa.RecordBatch, checked: CheckedRows
                   ) -> tuple[pa.RecordBatch, CheckedRows]:
    """What a first load keeps of a staged chunk while it waits for its call: the row
    numbers and the columns the upsert reads (the raw rows were most of a chunk)."""
    return (rows.select(["row_number"]),
            CheckedRows(checked.staged.select(UPSERTED), checked.findings))


def _restage(conn: psycopg.Connection, batch_id: int, staged: pa.Table, findings: pa.Table,
             first: int, last: int) -> list[tuple[int, int]]:
    """Replace a replayed chunk's staged rows and findings; the row ranges to upsert.

    Rows and findings equal to their new version stay untouched, so a replay with nothing
    new changes no table; the ranges hold only rows staged anew.
    """
    conn.execute(sql("replay_stage_create"))
    conn.execute(sql("replay_errors_create"))
    copy_arrow(conn, "replay_stg", staged)
    copy_arrow(conn, "replay_errors", findings)
    params = {"batch_id": batch_id, "first_row": first, "last_row": last}
    conn.execute(sql("replay_errors_merge"), params)
    conn.execute(sql("replay_stage_delete"), params)
    return [(low, high) for low, high in
            conn.execute(sql("replay_stage_insert"), params).fetchall()]


def _fail(conn: psycopg.Connection, batch_id: int, source: Source, message: str) -> SourceRun:
    conn.execute(sql("batch_fail"), {"batch_id": batch_id, "message": message})
    conn.commit()
    return SourceRun(batch_id, source.name, source.kind, "FAILED", message=message)


def _finish(conn: psycopg.Connection, batch_id: int, source: Source) -> SourceRun:
    cur = conn.execute(sql("migration_counts"), {"batch_id": batch_id})
    counts = dict(zip([c.name for c in cur.description], cur.fetchone(), strict=True))
    status = "COMPLETE_WITH_ERRORS" if counts["rows_rejected"] else "COMPLETE"
    run = SourceRun(batch_id, source.name, source.kind, status, **counts)
    checks = migration_checklist(run)
    conn.execute(sql("migration_finish"), {
        "status": status, "rows_read": run.rows_read, "rows_loaded": run.rows_loaded,
        "rows_rejected": run.rows_rejected, "warnings": run.warnings,
        "checklist": json.dumps(checks), "batch_id": batch_id})
    conn.commit()
    return run


def migration_checklist(run: SourceRun) -> dict[str, object]:
    """The validation checklist of the seed's section D4 for one migrated source."""
    checks = [
        {"check": "File readable", "status": "PASS"},
        {"check": "Schema matches expected", "status": "PASS"},
        {"check": "Row count reconciles", "status": "PASS" if run.reconciled else "FAIL",
         "expected": run.rows_read, "actual": run.rows_loaded + run.rows_rejected},
        {"check": "Rows rejected (nothing to identify a person by)",
         "status": "FAIL" if run.rows_rejected else "PASS", "count": run.rows_rejected},
        {"check": "Invalid emails, phones, ZIPs or dates (kept raw)",
         "status": "WARN" if run.warnings else "PASS", "count": run.warnings},
    ]
    return {"import_id": run.batch_id, "filename": run.source, "checks": checks,
            "overall_status": run.status}


MIGRATION_SUFFIXES = (".csv", ".sql", ".sqlite", ".sqlite3", ".db")


def expand_sources(refs: list[str]) -> list[str]:
    """Files, the supported files of folders (recursively, sorted), and URLs as given.

    Raises:
        UserError: a reference is neither a URL nor an existing file or folder.
    """
    found: list[str] = []
    for ref in refs:
        path = Path(ref)
        if "://" in ref or ref == "mysql":
            found.append(ref)
        elif path.is_dir():
            found += sorted(str(p) for p in path.rglob("*")
                            if p.is_file() and p.suffix.lower() in MIGRATION_SUFFIXES)
        elif path.is_file():
            found.append(str(path))
        else:
            raise UserError(f"no such file or folder: {ref}")
    return found
