"""A first load's two halves measured apart: reading and checking, then upsert and write.

Usage::

    .venv/bin/python benchmarks/first_load_bench.py [--rows 1000000] [--batch-rows N]
        [--mysql mysql://root@127.0.0.1:3306/leadpipe_migration_bench] [--data DIR]
        [--json PATH]

`benchmarks/migration_bench.py` runs the whole path, its threads sharing two cores, so
its stage seconds cannot say what each half would cost alone. This one takes the same
sample (made once, as there), reads and checks every source on one thread with nothing
else running (the reader's floor), keeps the staged rows, and then hands them to
`tasks.first_load.FirstLoad` chunk by chunk into a scratch database, as
`leadpipe migrate --first-load` does (the floor of the upsert and its writes: the whole
first load can take no less than the larger of the two). Prints and writes as JSON
(default ``benchmarks/results/first_load.json``, one entry per row count) the seconds
and CPU seconds of each half, DuckDB's seconds per section, and the load's peak memory.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Monitor, client_cpu, drop_database, scratch_database
from benchmarks.migration_bench import ROOT, arguments, sample, save
from db import migrate
from leadpipe import settings as env
from leadpipe import tenant as tenant_config
from leadpipe.stages import StageClock
from tasks.first_load import UPSERTED, FirstLoad
from tasks.migration import batch_rows_for, checked_chunks
from tasks.sources import open_source

DEFAULT_JSON = ROOT / "benchmarks" / "results" / "first_load.json"
Chunk = tuple[int, str, pa.Table, int, int, int]


def read_and_check(refs: list[str], read_rows: int) -> tuple[list[Chunk], dict[str, float]]:
    """Every source read and checked on this thread alone (the migration's own
    `checked_chunks`); the chunks as a first load takes them (batch number, source, staged
    rows, rows read, first and last row number)."""
    tenant = tenant_config.load("demo")
    clock = StageClock()
    chunks: list[Chunk] = []
    cpu = client_cpu()
    for number, ref in enumerate(refs, start=1):
        source = open_source(ref, tenant)
        for rows, checked in checked_chunks(source.batches(batch_rows=read_rows), source.kind,
                                            clock):
            numbers = rows.column("row_number")
            chunks.append((number, source.name, checked.staged.select(UPSERTED), rows.num_rows,
                           pc.min(numbers).as_py(), pc.max(numbers).as_py()))
    return chunks, {**clock.timings, "cpu": round(client_cpu() - cpu, 2)}


def load(chunks: list[Chunk], call_rows: int) -> dict[str, Any]:
    """The staged chunks upserted and written by a first load into a scratch database."""
    server, name, url = scratch_database()
    profile = StageClock(label="first load")
    try:
        migrate.upgrade(url)
        with Monitor(name) as monitor:
            start = time.perf_counter()
            loader = FirstLoad(url, call_rows=call_rows, profile=profile)
            try:
                for chunk in chunks:
                    loader.add(*chunk)
                loader.flush()
                calls = time.perf_counter() - start
                loader.finish()
            finally:
                loader.close()
            seconds = time.perf_counter() - start
    finally:
        drop_database(server, name)
    sections: dict[str, float] = {}
    for statement, took in profile.timings.items():
        section = statement.split(":")[0]
        sections[section] = round(sections.get(section, 0.0) + took, 2)
    return {
        "seconds": round(seconds, 2),
        "calls_seconds": round(calls, 2),
        "finish_seconds": round(seconds - calls, 2),
        "cpu_seconds": {"client": monitor.client_cpu, "postgres": monitor.postgres_cpu},
        "peak_rss_mb_process_tree": round(monitor.peak / 2**20),
        "section_seconds": dict(sorted(sections.items(), key=lambda kv: -kv[1])),
    }


def main() -> None:
    args = arguments(__doc__.splitlines()[0], DEFAULT_JSON).parse_args()
    env.apply_quiet_defaults()
    data = args.data or ROOT / ".leadpipe" / "bench" / f"legacy_{args.rows}"
    refs = sample(args.rows, data, args.mysql)
    call_rows = args.batch_rows or batch_rows_for(True)
    read_start = time.perf_counter()
    chunks, reader = read_and_check(refs, min(call_rows, FirstLoad.READ_ROWS))
    rows = sum(chunk[3] for chunk in chunks)
    out = {"rows": rows,
           "read_and_check": {"seconds": round(time.perf_counter() - read_start, 2), **reader},
           "upsert_and_write": load(chunks, call_rows),
           "batch_rows": call_rows,
           "machine": {"python": platform.python_version(), "cpus_visible": os.cpu_count()}}
    for half in ("read_and_check", "upsert_and_write"):
        figures = out[half]
        print(f"{half:18} {figures['seconds']:7.2f} s  {rows / figures['seconds']:9,.0f} rows/s  "
              f"{json.dumps({k: v for k, v in figures.items() if k != 'seconds'})}")
    save(out, args.json, args.rows)


if __name__ == "__main__":
    main()
