"""Seconds per named stage of a long job, with progress reports: one clock for every path.

Benchmarks and run summaries print these timings (dedup's `dedup_runs.timings`, the
migration's per-stage figures); a stage entered several times accumulates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

#: Called with (stage, done, total) as work advances; (stage, 1, 1) when a stage ends.
Progress = Callable[[str, int, int], None]


class StageClock:
    """Accumulates wall seconds per stage and reports each stage's end to `progress`."""

    def __init__(self, progress: Progress | None = None, *, label: str = "stage") -> None:
        self.timings: dict[str, float] = {}
        self.progress = progress
        self.label = label

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            took = time.perf_counter() - start
            self.timings[name] = round(self.timings.get(name, 0.0) + took, 4)
            log.debug("%s %s took %.2fs", self.label, name, took)
        self.tick(name, 1, 1)

    def tick(self, name: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(name, done, total)
