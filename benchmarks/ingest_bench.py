"""Partner ingestion throughput: landed files to promoted rows.

Generates (once, cached under `.leadpipe/bench/`) a two-day partner run whose
first day has four mortgage files of `--pieces / 4` rows each, lands day one's
files and day two's delivery files (which confirm day one's pieces) in a
scratch database, and times `process_pending`: read, check, stage, promote and
apply. Prints and writes `benchmarks/results/ingest.json`: rows/s, seconds per
stage (summed over files; files run in parallel, so the sum can exceed the wall
time), the peak memory of the whole process tree (workers included), and CPU
seconds of this process tree and of the database server's backends for the
run's database (the machine is shared: CPU seconds compare across runs where
wall time and load do not).

    .venv/bin/python benchmarks/ingest_bench.py [--pieces 1000000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
import uuid
from datetime import date
from pathlib import Path

import psutil
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from db import connection, migrate
from db.databases import create_database
from leadpipe import settings
from leadpipe import tenant as tenant_config
from sampledata.partner_day import PartnerDayOptions, generate_partner_days
from tasks.landing_zone import LocalZone
from tasks.partner_ingest import InboundFile, land_all, process_pending

RESULTS = Path(__file__).parent / "results" / "ingest.json"
DAY_ONE = date(2026, 11, 16)


class PeakMemory:
    """Samples the RSS of this process and its children; keeps the peak.

    Also follows the CPU seconds of the server backends serving `database` (they
    are not this process's children), keeping each backend's last reading.
    """

    def __init__(self, database: str, every: float = 0.1) -> None:
        self.peak = 0
        self.database = database
        self.server_cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(every,), daemon=True)

    def _sample(self, every: float) -> None:
        me = psutil.Process()
        tick = 0
        while not self._stop.is_set():
            total = me.memory_info().rss
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total)
            if tick % 5 == 0:
                self._server_cpu()
            tick += 1
            time.sleep(every)
        self._server_cpu()

    def _server_cpu(self) -> None:
        for proc in psutil.process_iter(["cmdline"]):
            try:
                cmdline = " ".join(proc.info["cmdline"] or [])
                if cmdline.startswith("postgres:") and f" {self.database} " in cmdline:
                    times = proc.cpu_times()
                    self.server_cpu[proc.pid] = times.user + times.system
            except psutil.Error:
                continue

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def sample_files(pieces: int) -> tuple[Path, list[str]]:
    """The cached two-day sample, and the files to ingest: day one, then day two's deliveries."""
    folder = settings.home() / "bench" / f"partners_{pieces}"
    if not (folder / "manifest.json").exists():
        generate_partner_days(PartnerDayOptions(day=DAY_ONE, pieces=pieces, seed=3,
                                                out=folder, days=2, defect_rate=0.01))
    # manifest.json alone: the whole manifest (millions of row dicts) would cost minutes
    # and gigabytes that this process's peak memory would then carry.
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    day_one = [f["name"] for f in manifest["files"] if f["day"] == DAY_ONE.isoformat()]
    later_deliveries = [f["name"] for f in manifest["files"]
                        if f["day"] != DAY_ONE.isoformat() and f["kind"] == "delivery"]
    return folder, day_one + later_deliveries


def scratch_database() -> str:
    """A new, migrated database on the configured server."""
    server = connection.database_url()
    name = f"lp_bench_{uuid.uuid4().hex[:8]}"
    admin = make_conninfo(**{**conninfo_to_dict(server), "dbname": "postgres"})
    with psycopg.connect(admin, autocommit=True) as conn:
        create_database(conn, name)
    url = make_conninfo(**{**conninfo_to_dict(server), "dbname": name})
    migrate.upgrade(url)
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pieces", type=int, default=1_000_000,
                        help="mortgage rows on day one, over the four partners")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    settings.apply_quiet_defaults()

    t0 = time.perf_counter()
    folder, names = sample_files(args.pieces)
    generated = time.perf_counter() - t0
    tenant = tenant_config.load("demo")
    url = scratch_database()
    zone = LocalZone(settings.home() / "bench" / f"landing_{uuid.uuid4().hex[:8]}")
    database = str(conninfo_to_dict(url)["dbname"])
    with psycopg.connect(url) as conn:
        land_all(conn, tenant, zone, [InboundFile(n, (folder / n).read_bytes()) for n in names])
        load_before = os.getloadavg()
        with PeakMemory(database) as memory:
            cpu_before = os.times()
            start = time.perf_counter()
            results = process_pending(conn, tenant, zone, mailed_on=DAY_ONE,
                                      workers=args.workers)
            seconds = time.perf_counter() - start
            cpu_after = os.times()
        load_after = os.getloadavg()
    client_cpu = sum(cpu_after[i] - cpu_before[i] for i in range(4))
    stages: dict[str, float] = {}
    for result in results:
        for stage, took in result.timings.items():
            stages[stage] = round(stages.get(stage, 0.0) + took, 2)
    rows = sum(r.rows_read for r in results)
    kinds = {r.filename: (tenant.partner_for_file(r.filename) or ("", ""))[1] for r in results}
    mortgage = sum(r.rows_read for r in results if kinds[r.filename] == "mortgage")
    figures = {
        "pieces_day_one": args.pieces,
        "files": len(results),
        "rows_read": rows,
        "rows_loaded": sum(r.rows_loaded for r in results),
        "rows_rejected": sum(r.rows_rejected for r in results),
        "mortgage_rows": mortgage,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "peak_rss_mb": round(memory.peak / 2**20),
        "stage_seconds": stages,
        "file_seconds": {r.filename: round(sum(r.timings.values()), 2) for r in results},
        "client_cpu_s": round(client_cpu, 1),
        "server_cpu_s": round(sum(memory.server_cpu.values()), 1),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in load_after],
        "workers": args.workers,
        "cpus": psutil.cpu_count(),
        "sample_generation_s": round(generated, 1),
        "targets": {"rows_per_s": 20_000, "peak_rss_mb": 2048},
    }
    for key, value in figures.items():
        print(f"{key:22} {value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
