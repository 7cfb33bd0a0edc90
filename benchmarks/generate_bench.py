"""Sample-data generation speed and memory: legacy rows/s (CSV, SQLite) on one core, partner
pieces/s, peak RSS. Prints the figures and writes benchmarks/results/generate.json.

Each measurement runs in its own process pinned to one CPU, so its peak RSS is its own and
the rate is a one-core rate. `--big-rows 10000000` adds the 10M-row memory run (about two
minutes); the target is under 2 GB peak. `--partner-big` adds the ingestion benchmark's
input, `generate partner-day --pieces 1000000 --days 2 --defect-rate 0.01` (four mortgage
files of 250,000 rows a day plus their deliveries, about a minute); the targets are under 3
minutes and 2 GB. For partner runs `rows` counts pieces (mortgage rows), `manifest_rows`
every row of every file.

    .venv/bin/python benchmarks/generate_bench.py [--rows 1000000] [--big-rows 10000000]
        [--partner-big]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "generate.json"
TARGET_ROWS_PER_S = 100_000
TARGET_PEAK_MB = 2048
TARGET_PARTNER_BIG_S = 180
PARTNER_BIG_PIECES, PARTNER_BIG_DAYS = 1_000_000, 2


def _pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(args: argparse.Namespace) -> None:
    """Run one measurement in this process and print its figures as JSON."""
    _pin_to_one_core()
    sys.path.insert(0, str(ROOT))
    from sampledata.legacy import LegacyOptions, generate_legacy
    from sampledata.partner_day import PartnerDayOptions, generate_partner_days

    out = Path(args.out)
    started = time.perf_counter()
    if args.child == "legacy":
        generate_legacy(LegacyOptions(rows=args.rows, seed=1, out=out,
                                      sources=tuple(args.sources.split(","))))
        count = args.rows
    else:
        manifest = generate_partner_days(PartnerDayOptions(
            day=date(2024, 1, 8), pieces=args.rows, seed=1, out=out, days=args.days,
            defect_rate=args.defect_rate))
        count = sum(f["rows"] for f in manifest.files
                    if f["kind"] == "mortgage" and f["resend_of"] is None)
    seconds = time.perf_counter() - started
    figures = {"rows": count, "seconds": round(seconds, 2), "rows_per_s": round(count / seconds),
               "peak_rss_mb": round(_peak_rss_mb())}
    if args.child == "partner":
        figures["manifest_rows"] = manifest.row_count
        figures["files_mb"] = round(sum(f["bytes"] for f in manifest.files) / 2**20)
    print(json.dumps(figures))


def _measure(kind: str, rows: int, sources: str = "", days: int = 5,
             defect_rate: float = 0.02) -> dict[str, float]:
    out = tempfile.mkdtemp(prefix="generate-bench-")
    try:
        command = [sys.executable, __file__, "--child", kind, "--rows", str(rows),
                   "--out", out, "--sources", sources, "--days", str(days),
                   "--defect-rate", str(defect_rate)]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    """Run the measurements, print them and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="legacy rows per writer")
    parser.add_argument("--pieces", type=int, default=2_000, help="partner pieces per day")
    parser.add_argument("--big-rows", type=int, default=0,
                        help="also measure peak memory of a run this large (e.g. 10000000)")
    parser.add_argument("--partner-big", action="store_true",
                        help=f"also measure a partner run of {PARTNER_BIG_PIECES:,} pieces a day "
                             f"for {PARTNER_BIG_DAYS} days (the ingestion benchmark's input)")
    parser.add_argument("--days", type=int, default=5, help=argparse.SUPPRESS)
    parser.add_argument("--defect-rate", type=float, default=0.02, help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=["legacy", "partner"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--sources", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    results = {
        "legacy_csv": _measure("legacy", args.rows, "csv"),
        "legacy_sqlite": _measure("legacy", args.rows, "sqlite"),
        "legacy_all_files": _measure("legacy", args.rows, "sqlite,csv,sql_dump"),
        "partner_week": _measure("partner", args.pieces),
    }
    if args.big_rows:
        results["legacy_big"] = _measure("legacy", args.big_rows, "sqlite,csv,sql_dump")
    if args.partner_big:
        results["partner_big"] = _measure("partner", PARTNER_BIG_PIECES, days=PARTNER_BIG_DAYS,
                                          defect_rate=0.01)
    for name, figures in results.items():
        print(f"{name:18} {figures['rows']:>11,} rows  {figures['seconds']:8.2f} s  "
              f"{figures['rows_per_s']:>9,} rows/s  peak RSS {figures['peak_rss_mb']:,} MB")
    results["targets"] = {"legacy_rows_per_s_one_core": TARGET_ROWS_PER_S,
                          "peak_rss_mb": TARGET_PEAK_MB,
                          "partner_big_seconds_one_core": TARGET_PARTNER_BIG_S}
    results["cpu_count"] = os.cpu_count()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
