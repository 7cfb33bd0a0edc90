"""Dedup from PostgreSQL back to PostgreSQL: speed, accuracy and memory on generated people.

Usage::

    .venv/bin/python benchmarks/dedup_bench.py [--rows N ...] [--incremental K] [--ray]
        [--seed S] [--rerun] [--json PATH] [--label NAME] [--keep-db] [--template NAME]
        [--drop-template]

For each ``--rows`` N (default 100000 and 1000000): generates N + K people with known
duplicates (``dedup_ray.synthetic``), creates a scratch database on the server of
`db.connection.database_url()` (the embedded one unless DATABASE_URL is set), applies the
migrations and loads N people into persons and addresses (not timed). Then it times a full
run end to end (`dedup_ray.database.run_dedup`: read, core, write-back, one transaction),
scores the golden ids written to ``persons`` against the truth (pairwise precision, recall,
F1), loads the other K people and times an incremental run of them against the N. Peak
memory is sampled over the benchmark's process tree (Ray workers included; the PostgreSQL
server is a separate process and is not counted). Prints a table and writes JSON (default
``benchmarks/results/dedup.json``, one entry per row count and mode).

To iterate on the run without reloading N people each time, ``--template NAME`` keeps the
loaded database (migrated, N people, analyzed; ``NAME_<N>``) and clones each benchmark's
scratch database from it; the template is made on first use and dropped with
``--drop-template``. A template made before a new migration is migrated in the clone. A
clone starts right after a checkpoint (file copy), so its run writes a full-page image of
every page it first touches: iterate on templates, report figures from a fresh load.

Targets (issue 7): 1M people PG->PG in at most 90 s on 2 cores with precision >= 0.97,
recall >= 0.95 and peak memory under 6 GB; 10,000 new people against 1M in at most 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
from psycopg.conninfo import conninfo_to_dict, make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    Monitor,
    drop_database,
    scratch_database,
    scratch_database_server,
    server_settings,
)
from db import migrate
from db.databases import create_database
from dedup_ray import ray_init
from dedup_ray.database import load_people
from dedup_ray.runs import RunSummary, run_dedup
from dedup_ray.synthetic import pairwise_accuracy, synthetic_people
from leadpipe import settings as env

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "dedup.json"
TARGETS = {"seconds_1m": 90.0, "precision": 0.97, "recall": 0.95, "peak_gb": 6.0,
           "incremental_10k_seconds": 10.0}


def database_exists(server: str, name: str) -> bool:
    with psycopg.connect(server) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def clone_database(server: str, template: str) -> tuple[str, str]:
    """A scratch copy of `template` (file copy: minutes faster than reloading 1M people)."""
    params = conninfo_to_dict(server)
    name = f"lp_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY file_copy')
    params["dbname"] = name
    return name, make_conninfo(**params)


def loaded_database(base: pa.Table, template: str | None) -> tuple[str, str, str, float]:
    """A migrated database holding `base`: (server URI, name, URI, untimed load seconds).

    With `template`, a clone of that database, which is made (and loaded) first if missing.
    """
    if template is None:
        server, name, url = scratch_database()
        migrate.upgrade(url)
        return server, name, url, load(url, base)
    server = scratch_database_server()
    params = conninfo_to_dict(server)
    if not database_exists(server, template):
        with psycopg.connect(server, autocommit=True) as conn:
            create_database(conn, template)
        params["dbname"] = template
        url = make_conninfo(**params)
        migrate.upgrade(url)
        load(url, base)
    start = time.perf_counter()
    name, url = clone_database(server, template)
    migrate.upgrade(url)
    return server, name, url, round(time.perf_counter() - start, 2)


def load(url: str, people: pa.Table) -> float:
    """Load people and let PostgreSQL know their statistics, as a live database would."""
    start = time.perf_counter()
    with psycopg.connect(url) as conn:
        load_people(conn, people)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) persons, addresses, dedup_queue")
    return round(time.perf_counter() - start, 2)


def accuracy(url: str, people: pa.Table, entity: np.ndarray) -> dict[str, Any]:
    """Pairwise precision, recall and F1 of the golden ids stored in persons."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT id, coalesce(golden_id, id) FROM persons").fetchall()
    stored = np.array(rows, dtype=np.int64)
    ids = people.column("id").to_numpy()
    order = np.argsort(stored[:, 0])
    golden = stored[order[np.searchsorted(stored[order, 0], ids)], 1]
    return pairwise_accuracy(golden, entity)


def timed_run(url: str, name: str, mode: str, use_ray: bool) -> tuple[RunSummary, dict]:
    """One run, with its wall seconds, peak memory, CPU seconds and the machine's load."""
    with Monitor(name) as monitor:
        start = time.perf_counter()
        summary = run_dedup(url, mode, use_ray=use_ray)  # type: ignore[arg-type]
        seconds = time.perf_counter() - start
    return summary, {
        "seconds": round(seconds, 2),
        "peak_rss_mb_process_tree": round(monitor.peak / 2**20),
        "cpu_seconds": {"client": monitor.client_cpu, "postgres": monitor.postgres_cpu},
        "load_average_before_after": monitor.load,
    }


def bench(rows: int, args: argparse.Namespace) -> dict[str, Any]:
    """Full run over `rows` people, then an incremental run of `args.incremental` more."""
    k = args.incremental
    people, entity = synthetic_people(rows + k, seed=args.seed)
    base, batch = people.slice(0, rows), people.slice(rows)
    template = f"{args.template}_{rows}" if args.template else None
    if template and args.drop_template:
        drop_database(scratch_database_server(), template)
    server, name, url, load_seconds = loaded_database(base, template)
    try:
        summary, measured = timed_run(url, name, "full", args.ray)
        c, t = summary.counts, summary.timings
        out: dict[str, Any] = {
            "rows": rows,
            "mode": "ray" if args.ray else "in-process",
            "seconds": measured["seconds"],
            "rows_per_s": round(rows / measured["seconds"]),
            "candidate_pairs_per_row": round(c["candidate_pairs"] / rows, 3),
            "pairs_scored_per_s": round(c["candidate_pairs"] / max(1e-9, t["scoring"])),
            **accuracy(url, base, entity[:rows]),
            **{k: v for k, v in measured.items() if k != "seconds"},
            "stage_seconds": t,
            "counts": c,
            "golden": summary.golden,
            "load_seconds_untimed": load_seconds,
        }
        if args.rerun:
            again, again_measured = timed_run(url, name, "full", args.ray)
            out["rerun_unchanged"] = {
                "seconds": again_measured["seconds"],
                "changes": {k: again.counts[k] for k in (
                    "persons_changed", "merges", "golden_changes", "unmerges", "rescored",
                    "keys_rewritten")},
            }
        if k:
            batch_load = load(url, batch)
            daily, daily_measured = timed_run(url, name, "incremental", False)
            out["incremental"] = {
                "new_rows": k,
                "existing_rows": rows,
                **daily_measured,
                "affected_rows": daily.counts["rows"],
                "merges": daily.counts["merges"],
                "golden_changes": daily.counts["golden_changes"],
                "stage_seconds": daily.timings,
                "load_seconds_untimed": batch_load,
                **{f"final_{key}": v for key, v in accuracy(url, people, entity).items()},
            }
    finally:
        if not args.keep_db:
            drop_database(server, name)
    out["settings"] = summary.settings
    out["machine"] = {
        "python": platform.python_version(),
        "cpus_visible": os.cpu_count(),
        "database": "DATABASE_URL" if env.database_url() else "embedded pgserver",
        "server": server_settings(server),
    }
    return out


def report(out: dict[str, Any]) -> None:
    """Print one benchmark's figures, and how they compare with the targets at 1M."""
    for key in ("rows", "mode", "seconds", "rows_per_s", "candidate_pairs_per_row",
                "pairs_scored_per_s", "precision", "recall", "f1", "peak_rss_mb_process_tree",
                "cpu_seconds", "load_average_before_after"):
        print(f"{key:28} {out[key]}")
    print(f"{'stage_seconds':28} {out['stage_seconds']}")
    if "rerun_unchanged" in out:
        print(f"{'rerun_unchanged':28} {out['rerun_unchanged']}")
    if "incremental" in out:
        inc = out["incremental"]
        print(f"{'incremental':28} {inc['new_rows']} new vs {inc['existing_rows']}: "
              f"{inc['seconds']} s, {inc['affected_rows']} rows re-resolved, "
              f"cpu {inc['cpu_seconds']}, load {inc['load_average_before_after']}")
        print(f"{'incremental stage_seconds':28} {inc['stage_seconds']}")
    if "vs_linear_from_1m" in out:
        print(f"{'vs 1M scaled linearly':28} {out['vs_linear_from_1m']}")
    if out["rows"] == 1_000_000:
        checks = {
            "seconds <= 90": out["seconds"] <= TARGETS["seconds_1m"],
            "precision >= 0.97": out["precision"] >= TARGETS["precision"],
            "recall >= 0.95": out["recall"] >= TARGETS["recall"],
            "peak < 6 GB": out["peak_rss_mb_process_tree"] < TARGETS["peak_gb"] * 1024,
        }
        if "incremental" in out:
            checks["incremental <= 10 s"] = (
                out["incremental"]["seconds"] <= TARGETS["incremental_10k_seconds"])
        print("targets: " + ", ".join(f"{k} {'ok' if v else 'MISSED'}" for k, v in checks.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--incremental", type=int, default=10_000, metavar="K")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--ray", action="store_true", help="run the full runs on a local Ray")
    parser.add_argument("--rerun", action="store_true", help="time a re-run on unchanged data")
    parser.add_argument("--keep-db", action="store_true", help="keep the scratch databases")
    parser.add_argument("--template", metavar="NAME",
                        help="clone each run's database from a kept loaded one (NAME_<rows>)")
    parser.add_argument("--drop-template", action="store_true",
                        help="rebuild the --template database first")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--label", default="", help="suffix of the JSON key (e.g. the server)")
    args = parser.parse_args()
    env.apply_quiet_defaults()
    if args.ray:
        ray_init()
    results = json.loads(args.json.read_text()) if args.json.exists() else {}
    for rows in args.rows:
        out = bench(rows, args)
        suffix = f"_{'ray' if args.ray else 'local'}" + (f"_{args.label}" if args.label else "")
        one_m = results.get(f"1000000{suffix}")
        if rows > 1_000_000 and one_m:
            linear = one_m["seconds"] * rows / 1_000_000
            out["vs_linear_from_1m"] = {"linear_seconds": round(linear, 1),
                                        "ratio": round(out["seconds"] / linear, 3)}
        report(out)
        key = f"{rows}{suffix}"
        results[key] = out
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
