"""The legacy migration end to end: sources -> checks and hygiene -> staging -> person upsert.

Usage::

    .venv/bin/python benchmarks/migration_bench.py [--rows 1000000] [--batch-rows N] [--chunked]
        [--mysql mysql://root@127.0.0.1:3306/leadpipe_migration_bench] [--data DIR]
        [--json PATH] [--keep-db]

Generates `--rows` legacy records once (`sampledata.legacy`: a MariaDB table, SQLite files
and campaign CSVs, in the generator's shares; kept under ``--data`` and in the MariaDB
database for the next run), creates a scratch PostgreSQL database on the server of
`db.connection.database_url()` (the embedded one unless DATABASE_URL is set), applies the
migrations, then times `tasks.migration.migrate_sources` over every source in turn, as
`leadpipe migrate --first-load` runs them into the empty database (`--chunked`: as
`leadpipe migrate` does, `upsert_persons` chunk by chunk, the path of every later import).
Prints and writes as JSON (default ``benchmarks/results/migration.json``, one entry per row
count): rows/s, peak memory of this process tree, CPU seconds of this process and of its
PostgreSQL backends, seconds per stage (read, check, stage, upsert, write, commit; reading
and checking, staging and upserting run in three threads, so stage seconds add up to more
than the wall clock), a first load's seconds per statement, and the reconciliation per
source.

Target (issue 6): 1M rows at least 25,000 rows/s on 2 cores, peak memory under 2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pymysql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Monitor, drop_database, scratch_database, server_settings
from db import connection, migrate
from leadpipe import settings as env
from leadpipe import tenant as tenant_config
from leadpipe.stages import StageClock
from sampledata.legacy import LegacyOptions, generate_legacy
from tasks.migration import SourceRun, batch_rows_for, expand_sources, migrate_sources
from tasks.sources import open_source
from tasks.sources.mysql import MysqlLocation

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "migration.json"
DEFAULT_MYSQL = "mysql://root@127.0.0.1:3306/leadpipe_migration_bench"
TARGETS = {"rows_per_s": 25_000, "peak_mb": 2048}
SOURCES = ("mysql", "sqlite", "csv")


def _mysql_rows(url: str) -> int | None:
    """Rows in the benchmark's MariaDB table; None when the table or database is missing."""
    where = MysqlLocation.parse(url)
    try:
        with pymysql.connect(host=where.host, port=where.port, user=where.user,
                             password=where.password, connect_timeout=3) as conn, \
                conn.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM `{where.database}`.`{where.table}`")
            return int(cursor.fetchone()[0])
    except pymysql.err.ProgrammingError:
        return None
    except pymysql.MySQLError as exc:
        raise SystemExit(f"no MariaDB/MySQL server answers at {url}: {exc}") from exc


def sample(rows: int, data: Path, mysql_url: str) -> list[str]:
    """The generated sources (made once, reused while their description matches)."""
    described = data / "legacy.json"
    made = json.loads(described.read_text()) if described.exists() else {}
    # (the MariaDB table is shared by the samples of every size: it must hold this one's rows)
    mysql = next((f["rows"] for f in made.get("files", []) if f["source"] == "mysql"), None)
    if made.get("rows") != rows or mysql is None or _mysql_rows(mysql_url) != mysql:
        print(f"generating {rows:,} legacy rows into {data} and {mysql_url}")
        generate_legacy(LegacyOptions(rows=rows, seed=1, out=data, mysql_url=mysql_url,
                                      sources=SOURCES))
    return expand_sources([mysql_url, str(data / "sqlite"), str(data / "csv")])


def bench(args: argparse.Namespace, prepare: Callable[[str], None] | None = None,
          inspect: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Migrate every source of the sample into a scratch database; its figures.

    `prepare` is given the scratch database's URI once its schema is in place, `inspect`
    after the migration (its answer is the output's "inspected"), before the drop.
    """
    data = args.data or ROOT / ".leadpipe" / "bench" / f"legacy_{args.rows}"
    refs = sample(args.rows, data, args.mysql)
    tenant = tenant_config.load("demo")
    server, name, url = scratch_database()
    clock, profile = StageClock(), StageClock(label="first load")
    # Each source's run and the seconds into the migration at which it ended (in a first
    # load every run ends with the write, at the end).
    runs: list[tuple[SourceRun, float]] = []
    try:
        migrate.upgrade(url)
        if prepare:
            prepare(url)
        with Monitor(name) as monitor, connection.connect(url) as conn:
            start = time.perf_counter()
            for run in migrate_sources(conn, [open_source(ref, tenant) for ref in refs],
                                       batch_rows=batch_rows(args), clock=clock,
                                       first_load=not args.chunked, profile=profile):
                runs.append((run, time.perf_counter() - start))
                print(f"  {run.source}: {run.rows_read:,} rows, done at {runs[-1][1]:.1f} s")
            seconds = time.perf_counter() - start
        with psycopg.connect(url) as conn:
            persons, lineage = conn.execute(
                "SELECT (SELECT count(*) FROM persons), (SELECT count(*) FROM person_lineage)"
            ).fetchone()  # type: ignore[misc]
        inspected = inspect(url) if inspect else None
    finally:
        if not args.keep_db:
            drop_database(server, name)
    read = sum(r.rows_read for r, _ in runs)
    return {
        "rows": read,
        "seconds": round(seconds, 2),
        "rows_per_s": round(read / seconds),
        "peak_rss_mb_process_tree": round(monitor.peak / 2**20),
        "cpu_seconds": {"client": monitor.client_cpu, "postgres": monitor.postgres_cpu},
        "load_average_before_after": monitor.load,
        "stage_seconds": clock.timings,
        "first_load_statement_seconds": dict(sorted(profile.timings.items(),
                                                    key=lambda kv: -kv[1])),
        "inspected": inspected,
        "batch_rows": batch_rows(args),
        "path": "chunked upsert_persons" if args.chunked else "first load (DuckDB, one COPY)",
        "persons": persons,
        "person_lineage_rows": lineage,
        "sources": [{**r.to_dict(), "done_at_seconds": round(s, 2)} for r, s in runs],
        "all_reconciled": all(r.reconciled for r, _ in runs),
        "machine": {"python": platform.python_version(), "cpus_visible": os.cpu_count(),
                    "database": "DATABASE_URL" if env.database_url() else "embedded pgserver",
                    "server": server_settings(server)},
    }


def batch_rows(args: argparse.Namespace) -> int:
    """The chunk (or first-load call) size of this run."""
    return args.batch_rows or batch_rows_for(not args.chunked)


def report(out: dict[str, Any]) -> None:
    """Print the figures and how they compare with the targets."""
    for key in ("path", "rows", "seconds", "rows_per_s", "peak_rss_mb_process_tree",
                "cpu_seconds", "load_average_before_after", "stage_seconds", "persons",
                "person_lineage_rows", "all_reconciled"):
        print(f"{key:28} {out[key]}")
    for statement, seconds in list(out["first_load_statement_seconds"].items())[:12]:
        print(f"{seconds:9.2f} s  {statement}")
    speed = "ok" if out["rows_per_s"] >= TARGETS["rows_per_s"] else "MISSED"
    memory = "ok" if out["peak_rss_mb_process_tree"] < TARGETS["peak_mb"] else "MISSED"
    print(f"targets: >= {TARGETS['rows_per_s']:,} rows/s {speed}, "
          f"peak < {TARGETS['peak_mb']:,} MB {memory}")


def arguments(description: str, default_json: Path) -> argparse.ArgumentParser:
    """The options of this benchmark (shared by benchmarks/statement_profile.py)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-rows", type=int,
                        help="rows per chunk (default 50,000), or per call of a first load "
                             "(default 1,000,000)")
    parser.add_argument("--mysql", default=DEFAULT_MYSQL)
    parser.add_argument("--data", type=Path, help="sample folder (default .leadpipe/bench/)")
    parser.add_argument("--json", type=Path, default=default_json)
    parser.add_argument("--keep-db", action="store_true", help="keep the scratch database")
    parser.add_argument("--chunked", action="store_true",
                        help="upsert chunk by chunk with upsert_persons (the path of every "
                             "import after the first load) instead of a first load")
    return parser


def save(out: dict[str, Any], path: Path, rows: int) -> None:
    """Add a run's figures to the JSON file, one entry per row count."""
    results = json.loads(path.read_text()) if path.exists() else {}
    results[str(rows)] = out
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"wrote {path}")


def main() -> None:
    args = arguments(__doc__.splitlines()[0], DEFAULT_JSON).parse_args()
    env.apply_quiet_defaults()
    out = bench(args)
    report(out)
    save(out, args.json, args.rows)


if __name__ == "__main__":
    main()
