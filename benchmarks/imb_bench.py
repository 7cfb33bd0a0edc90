"""Throughput of the Intelligent Mail barcode codec on one core.

Usage::

    .venv/bin/python benchmarks/imb_bench.py [--n N] [--json PATH] [--seed S]

Measures encodes/s and decodes/s of the scalar API and rows/s of ``imb.canonical_array``
on a realistic column (a third each of bars, 20-digit and 31-digit forms, all distinct, so
the per-call memo does not flatter the result). Pins the process to one CPU and pyarrow to
one thread so the figures mean "one core". Best of ``--repeat`` runs; prints a table and
writes JSON (default ``benchmarks/results/imb.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

import imb

TARGETS = {"encode_per_s": 50_000, "decode_per_s": 50_000, "canonical_array_rows_per_s": 200_000}
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "imb.json"


def _pin_one_core() -> str:
    """Restrict the process to one CPU where the OS allows; return a description."""
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"cpu {cpu}"
    return "not pinned (no sched_setaffinity)"


def _random_inputs(n: int, rng: random.Random) -> list[tuple[str, str]]:
    """``n`` valid (tracking, routing) pairs with routing lengths 0/5/9/11 equally often."""
    pairs = []
    for _ in range(n):
        tracking = f"{rng.randrange(10)}{rng.randrange(5)}{rng.randrange(10**18):018d}"
        digits = rng.choice((0, 5, 9, 11))
        routing = f"{rng.randrange(10**digits):0{digits}d}" if digits else ""
        pairs.append((tracking, routing))
    return pairs


def _best_rate(work: Callable[[], object], count: int, repeat: int) -> float:
    """Items per second of the fastest of ``repeat`` runs of ``work`` (``count`` items)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return count / best


def run(n: int, repeat: int, seed: int) -> dict[str, object]:
    """Run all three measurements on ``n`` items each and return the results."""
    pinned = _pin_one_core()
    rng = random.Random(seed)
    pairs = _random_inputs(n, rng)
    bars = [imb.encode(tracking, routing) for tracking, routing in pairs]

    def encode_all() -> None:
        for tracking, routing in pairs:
            imb.encode(tracking, routing)

    def decode_all() -> None:
        for value in bars:
            imb.decode(value)

    column = []
    for index, ((tracking, routing), value) in enumerate(zip(pairs, bars, strict=True)):
        form = index % 3
        if form == 0:
            column.append(value)
        elif form == 1:
            column.append(tracking)
        else:
            column.append(tracking + (routing if len(routing) == 11 else "01234567891"))
    rng.shuffle(column)
    array = pa.array(column, pa.string())
    codes, reasons = imb.canonical_array(array)
    if codes.null_count or reasons.null_count != len(array):
        raise RuntimeError("benchmark column should be all valid")

    results: dict[str, object] = {
        "encode_per_s": round(_best_rate(encode_all, n, repeat)),
        "decode_per_s": round(_best_rate(decode_all, n, repeat)),
        "canonical_array_rows_per_s": round(
            _best_rate(lambda: imb.canonical_array(array), n, repeat)
        ),
    }
    results["meets_targets"] = all(results[key] >= target for key, target in TARGETS.items())
    results.update(
        n=n,
        repeat=repeat,
        seed=seed,
        targets=TARGETS,
        column_mix="1/3 bars, 1/3 20-digit, 1/3 31-digit, shuffled, all distinct",
        pinned=pinned,
        python=platform.python_version(),
        pyarrow=pa.__version__,
        machine=platform.machine(),
        processor=platform.processor() or platform.machine(),
    )
    return results


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print and save; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="items per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best)")
    parser.add_argument("--seed", type=int, default=20240101, help="input generator seed")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write JSON")
    args = parser.parse_args(argv)
    if args.n < 1 or args.repeat < 1:
        parser.error("--n and --repeat must be positive")

    results = run(args.n, args.repeat, args.seed)
    for key, target in TARGETS.items():
        value = results[key]
        verdict = "ok" if isinstance(value, int) and value >= target else "BELOW TARGET"
        print(f"{key:30s} {value:>12,}  (target {target:,}: {verdict})")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0 if results["meets_targets"] else 1


if __name__ == "__main__":
    sys.exit(main())
