"""Speed and accuracy of the dedup core on synthetic people with known duplicates.

Usage::

    .venv/bin/python benchmarks/dedup_core_bench.py [--rows N] [--ray] [--cpus C]
        [--incremental K] [--seed S] [--json PATH]

Generates ``--rows`` people (``dedup_ray.synthetic``: households, same-surname-same-ZIP
strangers, a third of entities with perturbed duplicates; generation is not timed), runs
``dedup_ray.run`` in memory (in-process, or on a local Ray with ``--cpus`` CPUs), and reports
rows/s, candidate pairs per record, pairs scored/s, pairwise precision/recall/F1 of the
clusters against the truth, peak memory and seconds per stage. With ``--incremental K`` it
also resolves the last K rows as a daily batch against the rest (``run_incremental`` with an
in-memory key store) and times that. Prints a table and writes JSON (default
``benchmarks/results/dedup_core.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Monitor
from dedup_ray import DedupResult, DedupSettings, InMemoryKeyStore, ray_init, run, run_incremental
from dedup_ray.synthetic import pairwise_accuracy, synthetic_people

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "dedup_core.json"


def accuracy(result: DedupResult, people: pa.Table, entity: np.ndarray) -> dict[str, float]:
    """Pairwise precision, recall and F1 of the clusters against the true entities."""
    a = result.assignments
    pos = np.searchsorted(a.column("person_id").to_numpy(), people.column("id").to_numpy())
    return pairwise_accuracy(a.column("golden_id").to_numpy()[pos], entity)


def bench(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark described by the command-line arguments."""
    pa.set_cpu_count(args.cpus)
    people, entity = synthetic_people(args.rows, seed=args.seed)
    settings = DedupSettings()
    ray_start = None
    if args.ray:
        start = time.perf_counter()
        ray_init(num_cpus=args.cpus)
        ray_start = round(time.perf_counter() - start, 2)

    with Monitor() as memory:
        start = time.perf_counter()
        result = run(people, settings, use_ray=args.ray)
        seconds = time.perf_counter() - start
    counts, timings = result.counts, result.timings
    out: dict[str, Any] = {
        "rows": args.rows,
        "mode": f"ray ({args.cpus} CPUs)" if args.ray else "in-process",
        "seconds": round(seconds, 2),
        "rows_per_s": round(args.rows / seconds),
        "us_per_row": round(seconds / args.rows * 1e6, 1),
        "candidate_pairs_per_row": round(counts["candidate_pairs"] / args.rows, 3),
        "pairs_scored_per_s": round(counts["candidate_pairs"] / max(1e-9, timings["scoring"])),
        **accuracy(result, people, entity),
        "peak_rss_mb_process_tree": round(memory.peak / 2**20),
        "peak_rss_mb_driver": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "ray_init_s": ray_start,
        "stage_seconds": timings,
        "counts": counts,
        "settings": settings.to_dict(),
    }
    if args.incremental:
        out["incremental"] = incremental(people, settings, args.incremental, args.ray)
    out["machine"] = {
        "python": platform.python_version(),
        "cpus_visible": os.cpu_count(),
        "cpus_used": args.cpus,
    }
    return out


def incremental(people: pa.Table, settings: DedupSettings, k: int, use_ray: bool) -> dict:
    """Resolve the last `k` rows as a daily batch against the others."""
    base, batch = people.slice(0, people.num_rows - k), people.slice(people.num_rows - k)
    previous = run(base, settings, use_ray=use_ray)
    store = InMemoryKeyStore.from_result(base, previous)
    start = time.perf_counter()
    update = run_incremental(batch, store, settings)
    seconds = time.perf_counter() - start
    return {
        "new_rows": k,
        "existing_rows": base.num_rows,
        "seconds": round(seconds, 2),
        "affected_rows": update.counts["rows"],
        "stage_seconds": update.timings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--ray", action="store_true", help="run on a local Ray")
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--incremental", type=int, default=0, metavar="K")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args()
    out = bench(args)
    for key, value in out.items():
        if not isinstance(value, dict):
            print(f"{key:28} {value}")
    print(f"{'stage_seconds':28} {out['stage_seconds']}")
    if "incremental" in out:
        print(f"{'incremental':28} {out['incremental']}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    runs = json.loads(args.json.read_text()) if args.json.exists() else {}
    runs[f"{args.rows}_{'ray' if args.ray else 'local'}"] = out
    args.json.write_text(json.dumps(runs, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
