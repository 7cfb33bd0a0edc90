"""The legacy migration path for one source: checksum, check, stage, upsert, checkpoint.

Every chunk's upsert into the person tables commits with its checkpoint; its rows
and findings are staged just before, on a second connection, while the previous
chunk upserts. A run killed at any moment resumes after the last committed chunk,
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
from collections.abc import Callable, Iterator
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
from tasks.prefetch import prefetch
from tasks.sources import RetryableSourceError, Source, SourceError, SourceKind
from tasks.sources.columns import Synonyms
from tasks.sources.stored import StoredSource
from tasks.validation.findings import CheckedRows
from tasks.validation.person import check_person

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
RETRIES = 3
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


def migrate_source(conn: psycopg.Connection, source: Source, *, batch_rows: int = 50_000,
                   progress: Progress | None = None,
                   clock: StageClock | None = None) -> SourceRun:
    """Migrate one source into the person tables, resuming an interrupted run.

    Args:
        conn: the database (committed per chunk).
        source: an opened legacy source (`tasks.sources.open_source`).
        batch_rows: rows per chunk and per commit.
        progress: called with the number of rows of each committed chunk.
        clock: collects seconds per stage (read, check, stage, upsert, commit); read and
            check of the next chunk overlap the database stages of this one.

    Raises:
        psycopg.Error: a database error; the chunk is rolled back and the batch FAILED.
    """
    batch_id, status, last = _open_batch(conn, source)
    if status == "REJECTED_DUPLICATE":
        return SourceRun(batch_id, source.name, source.kind, status,
                         message="the same file was imported before")
    conn.execute(sql("migration_start"), {"batch_id": batch_id})
    conn.commit()
    clock = clock or StageClock()
    attempt = 0
    while True:
        try:
            last = _run_chunks(conn, source, batch_id, last, batch_rows, progress, clock)
            break
        except RetryableSourceError as exc:
            conn.rollback()
            attempt += 1
            if attempt > RETRIES:
                return _fail(conn, batch_id, source, f"{exc} (after {RETRIES} retries)")
            log.warning("%s: %s; retrying in %.0f s", source.name, exc,
                        BACKOFF_SECONDS * 2 ** (attempt - 1))
            time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
            checkpoint = conn.execute(sql("checkpoint_get"), {"batch_id": batch_id}).fetchone()
            last = checkpoint[0] if checkpoint else None
        except psycopg.Error as exc:
            conn.rollback()
            _fail(conn, batch_id, source, f"database error: {exc}")
            raise
    return _finish(conn, batch_id, source)


def replay_batch(conn: psycopg.Connection, batch_id: int, synonyms: Synonyms, *,
                 errors_only: bool = False, batch_rows: int = 50_000,
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
        batch_rows: rows per chunk and per commit.
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
        process_chunks(conn, batch_id, kind, source.batches(batch_rows=batch_rows),
                       clock=clock or StageClock(), progress=progress, replay=True)
    except (psycopg.Error, SourceError):
        conn.rollback()
        raise
    conn.execute(sql("batch_replay_started"), {"batch_id": batch_id, "started_at": started})
    return _finish(conn, batch_id, source)


def _conninfo(conn: psycopg.Connection) -> str:
    """How to open another connection to the database `conn` is connected to."""
    password = conn.info.password
    return make_conninfo(conn.info.dsn, password=password) if password else conn.info.dsn


def _checked(chunks: Iterator[pa.RecordBatch], kind: str,
             clock: StageClock) -> Iterator[tuple[pa.RecordBatch, CheckedRows]]:
    """The chunks, each with its checks and cleaned columns."""
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


def _run_chunks(conn: psycopg.Connection, source: Source, batch_id: int, last: object | None,
                batch_rows: int, progress: Progress | None, clock: StageClock) -> object | None:
    chunks = source.batches(start_after=last, batch_rows=batch_rows)  # type: ignore[arg-type]
    return process_chunks(conn, batch_id, source.kind, chunks, clock=clock, progress=progress,
                          last=last)


def process_chunks(conn: psycopg.Connection, batch_id: int, kind: str,
                   chunks: Iterator[pa.RecordBatch], *, clock: StageClock,
                   progress: Progress | None = None, last: object | None = None,
                   replay: bool = False) -> object | None:
    """Check, stage, upsert and checkpoint each chunk; its upsert and checkpoint commit together.

    The migration and the replay of a migrated batch share this path, so a replayed row
    is treated exactly as the migration treated it. Reading, checking and (in a migration)
    staging the next chunk overlap the upsert of this one: a thread reads and checks
    (`prefetch`) and stages on a second connection, committing there; the upsert and the
    checkpoint commit here. Staged rows past the checkpoint (a killed run's) are removed
    first, so a resumed run ends as an uninterrupted one.

    Args:
        conn: the database (committed per chunk).
        batch_id: the batch the rows belong to.
        kind: the batch's source type (`stg_person.source_system`).
        chunks: `BATCH_SCHEMA` batches in row_number order.
        clock: collects seconds per stage (read, check, stage, upsert, commit).
        progress: called with the number of rows of each committed chunk.
        last: the row number reading resumed after (returned if no chunk comes).
        replay: the rows were processed before: their staged rows and findings are
            replaced (those equal to the new ones kept), only rows staged anew are
            upserted, and the checkpoint (rows read) stays as it is.

    Returns:
        The last row number committed.
    """
    with contextlib.ExitStack() as stack:
        checked = _checked(chunks, kind, clock)
        if not replay:
            conn.execute(sql("migration_unstage_after"), {"batch_id": batch_id, "after": last})
            conn.commit()
            stager = stack.enter_context(psycopg.connect(_conninfo(conn)))
            checked = _staged(checked, stager, batch_id, clock)
        items = stack.enter_context(contextlib.closing(prefetch(checked)))
        for rows, found in items:
            numbers = rows.column("row_number")
            first, last = pc.min(numbers).as_py(), pc.max(numbers).as_py()
            ranges = [(first, last)]
            if replay:
                with clock.stage("stage"):
                    ranges = _restage(conn, batch_id, _staged_rows(found, batch_id),
                                      found.findings.table(batch_id), first, last)
            with clock.stage("upsert"):
                for low, high in ranges:
                    conn.execute("SELECT * FROM upsert_persons(%s, %s, %s)",
                                 (batch_id, low, high))
            with clock.stage("commit"):
                if not replay:
                    read = conn.execute(sql("checkpoint_get"), {"batch_id": batch_id}).fetchone()
                    conn.execute(sql("checkpoint_set"), {
                        "batch_id": batch_id, "last_row_number": last,
                        "rows_read": (read[1] if read else 0) + rows.num_rows})
                conn.commit()
            if progress:
                progress(rows.num_rows)
    return last


def _staged_rows(checked: CheckedRows, batch_id: int) -> pa.Table:
    return checked.staged.add_column(
        0, "batch_id", pa.array([batch_id] * checked.staged.num_rows, pa.int64()))


def _staged(chunks: Iterator[tuple[pa.RecordBatch, CheckedRows]], stager: psycopg.Connection,
            batch_id: int, clock: StageClock) -> Iterator[tuple[pa.RecordBatch, CheckedRows]]:
    """The chunks, each staged (rows and findings) and committed on `stager` first."""
    for rows, checked in chunks:
        with clock.stage("stage"):
            skipped = stager.execute(sql("stage_checks_skip"), {
                "batch_id": batch_id, "tables": ["stg_person", "import_errors"]},
            ).fetchone() is not None
            copy_arrow(stager, "stg_person", _staged_rows(checked, batch_id))
            copy_arrow(stager, "import_errors", checked.findings.table(batch_id))
            if skipped:
                stager.execute(sql("stage_checks_restore"))
            stager.commit()
        yield rows, checked


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
