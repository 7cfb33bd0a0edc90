"""The dedup core end to end: people in, scored pairs, clusters and golden records out.

Stages, and where they run with ``use_ray=True``:

1. normalise + MinHash + band/exact keys, per chunk of rows (Ray tasks); each task splits its
   bucket entries by bucket hash into ``P`` partitions;
2. candidate pairs per bucket partition, with capping (Ray tasks); each task splits its pairs
   by left row into ``P`` partitions;
3. de-duplication and scoring of the pairs of each partition (Ray tasks);
4. connected components, the chain guard, golden records and survivorship (driver; this
   works on accepted pairs only, a small fraction of the candidates).

``use_ray=False`` runs the same stage functions in-process, one partition. Results carry
person ids, never row positions, and are sorted, so they do not depend on input order.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from dedup_ray.arrays import sorted_unique
from dedup_ray.blocking import (
    BucketSizes,
    RecordKeys,
    candidate_pairs,
    long_form,
    name_order,
    record_keys,
)
from dedup_ray.clustering import ChainReport, cluster_sizes, connected_components, split_chains
from dedup_ray.golden import (
    GOLDEN_RULES,
    GoldenFrame,
    golden_reasons,
    golden_rows,
    merged_fields,
    rank_within_clusters,
)
from dedup_ray.hashing import as_key, combine
from dedup_ray.normalize import INPUT_SCHEMA, normalize
from dedup_ray.scoring import (
    ScoringFrame,
    passes_chain_guard,
    score_pairs,
    scoring_frame,
)
from dedup_ray.settings import DedupSettings
from dedup_ray.types import BAND_COMPONENT, BAND_SUBKEY, NO_KEY
from leadpipe.stages import Progress, StageClock

I64 = npt.NDArray[np.int64]
#: Global bucket sizes, given or computed from the run's keys once they are known.
KnownSizes = BucketSizes | Callable[[RecordKeys], BucketSizes] | None

log = logging.getLogger("dedup_ray")
_SCORE_BATCH = 1_000_000


@dataclass
class DedupResult:
    """Everything a run found, as Arrow tables keyed by person id.

    Attributes:
        pairs: accepted pairs: ``left_id < right_id``, ``tier``, ``reason``, ``confidence``,
            ``score``, ``parts`` (per-field points and similarities), ``same_cluster`` (false
            when the chain guard separated them).
        assignments: one row per person: ``person_id``, ``golden_id``, ``is_golden``,
            ``cluster_size``, ``component_id`` (smallest id of the matching component before
            chain splitting), ``golden_rule`` (why the cluster's golden record won), and for
            duplicates the comparison with their golden record: ``match_tier``,
            ``match_reason``, ``match_confidence``, ``match_score``, ``score_parts``.
        merged_fields: survivorship per cluster: ``golden_id``, ``field``, ``value``,
            ``from_person_id``, ``rule``.
        capped_buckets: oversized buckets: ``band``, ``bucket_hash``, ``size``,
            ``sub_buckets``, ``windowed_members``, ``pairs``.
        counts: rows, candidate pairs (distinct, all scored), matches per tier, clusters,
            duplicates, capped buckets, chain-guard splits.
        timings: seconds per stage.
        settings: the settings of the run.
        ids: person id of each row the run worked on (in its row order).
        keys: the rows' bucket keys (see `band_keys`).
        components: each row's component id.
    """

    pairs: pa.Table
    assignments: pa.Table
    merged_fields: pa.Table
    capped_buckets: pa.Table
    counts: dict[str, int]
    timings: dict[str, float]
    settings: DedupSettings
    ids: I64 = field(repr=False)
    keys: RecordKeys = field(repr=False)
    components: I64 = field(repr=False)

    def band_keys(self) -> pa.Table:
        """``(person_id, band, bucket_hash)`` rows to persist for incremental runs.

        LSH bands, exact-key bands, the ``BAND_SUBKEY`` row and the ``BAND_COMPONENT`` row
        (bucket_hash = component id) of every person.
        """
        present = self.keys.keys != NO_KEY
        r, c = np.nonzero(present)
        n = len(self.ids)
        person = np.concatenate([self.ids[r], self.ids, self.ids])
        band = np.concatenate(
            [
                self.keys.bands[c],
                np.full(n, BAND_SUBKEY, np.int16),
                np.full(n, BAND_COMPONENT, np.int16),
            ]
        )
        bucket = np.concatenate([self.keys.keys[r, c], self.keys.subkey, self.components])
        out = pa.table({"person_id": person, "band": band, "bucket_hash": bucket})
        return out.sort_by([("person_id", "ascending"), ("band", "ascending")])


def conform(people: pa.Table) -> pa.Table:
    """The input columns in `INPUT_SCHEMA` types; missing optional columns become null.

    Raises:
        ValueError: when there is no ``id`` column.
    """
    if "id" not in people.column_names:
        raise ValueError("people table has no 'id' column")
    cols = {}
    for fld in INPUT_SCHEMA:
        if fld.name in people.column_names:
            col = people.column(fld.name)
            cols[fld.name] = col if col.type == fld.type else col.cast(fld.type)
        elif fld.name == "is_original":
            cols[fld.name] = pa.array(np.ones(people.num_rows, dtype=np.bool_))
        else:
            cols[fld.name] = pa.nulls(people.num_rows, fld.type)
    return pa.table(cols, schema=INPUT_SCHEMA).combine_chunks()


# Stage functions (plain functions: called in-process or wrapped as Ray tasks).


def _partition_of(keys: I64, partitions: int) -> I64:
    return (keys.view(np.uint64) >> np.uint64(11)) % np.uint64(partitions)


def prepare_chunk(
    people: pa.Table, lo: int, hi: int, settings: DedupSettings, partitions: int
) -> list[Any]:
    """Stage 1: normalise rows ``[lo, hi)``, compute their keys, split bucket entries.

    Returns:
        ``[norm, keys, entries_0, ..., entries_{partitions-1}]``.
    """
    norm = normalize(people.slice(lo, hi - lo))
    rk = record_keys(norm, settings)
    entries = long_form(rk, np.arange(lo, hi, dtype=np.int64))
    part = _partition_of(entries.column("bucket_hash").to_numpy(), partitions)
    return [norm, rk] + [entries.filter(pa.array(part == p)) for p in range(partitions)]


def block_partition(
    settings: DedupSettings,
    order: I64,
    ids: I64,
    known_sizes: BucketSizes | None,
    partitions: int,
    *entries: pa.Table,
) -> list[Any]:
    """Stage 2: candidate pairs of one bucket partition, split by left row.

    Returns:
        ``[capped_report, pairs_0, ..., pairs_{partitions-1}]``; pairs as ``left * n + right``
        (n = ``len(ids)``), distinct and ascending within each part.
    """
    n_rows = len(ids)
    left, right, report = candidate_pairs(
        pa.concat_tables(entries), settings, order, ids, known_sizes
    )
    codes = sorted_unique(left * n_rows + right)
    if partitions == 1:
        return [report, codes]
    part = (codes // n_rows) % partitions
    return [report] + [codes[part == p] for p in range(partitions)]


def score_partition(
    frame: ScoringFrame, settings: DedupSettings, n_rows: int, *codes: I64
) -> tuple[pa.Table, int]:
    """Stage 3: distinct pairs of one partition, scored; returns accepted pairs and count."""
    merged = codes[0] if len(codes) == 1 else sorted_unique(np.concatenate(codes))
    left, right = merged // n_rows, merged % n_rows
    parts = [
        score_pairs(
            frame,
            left[i : i + _SCORE_BATCH],
            right[i : i + _SCORE_BATCH],
            settings,
            accepted_only=True,
        )
        for i in range(0, len(merged), _SCORE_BATCH)
    ]
    if not parts:
        parts = [score_pairs(frame, left, right, settings, accepted_only=True)]
    return pa.concat_tables(parts), len(merged)


# Execution: in-process or Ray.


@dataclass
class _Blocked:
    norm: pa.Table
    keys: RecordKeys
    frame: ScoringFrame
    accepted: pa.Table
    capped: pa.Table
    scored: int


def _concat_keys(parts: list[RecordKeys]) -> RecordKeys:
    return RecordKeys(
        parts[0].bands,
        np.vstack([p.keys for p in parts]),
        np.concatenate([p.subkey for p in parts]),
    )


def _chunks(n: int, size: int) -> list[tuple[int, int]]:
    return [(lo, min(n, lo + size)) for lo in range(0, max(n, 1), size)] if n else [(0, 0)]


def _resolve_sizes(known: KnownSizes, keys: RecordKeys) -> BucketSizes | None:
    return known(keys) if callable(known) else known


#: Rows per bucket partition of an in-process run: blocking sorts one partition's entries
#: at a time, so its working memory stays that of ~250k rows whatever the run's size.
_LOCAL_PARTITION_ROWS = 250_000


def _local(
    people: pa.Table, settings: DedupSettings, known: KnownSizes, timer: StageClock
) -> _Blocked:
    n = people.num_rows
    parts = settings.partitions or max(1, -(-n // _LOCAL_PARTITION_ROWS))
    with timer.stage("normalize_and_keys"):
        out = [
            prepare_chunk(people, lo, hi, settings, parts)
            for lo, hi in _chunks(n, settings.chunk_rows)
        ]
        norm = pa.concat_tables([o[0] for o in out])
        keys = _concat_keys([o[1] for o in out])
        entries = [o[2:] for o in out]
        del out
    with timer.stage("blocking"):
        ids = norm.column("id").to_numpy()
        sizes = _resolve_sizes(known, keys)
        order = name_order(norm)
        reports, codes = [], []
        for p in range(parts):
            block = [chunk[p] for chunk in entries]
            for chunk in entries:
                chunk[p] = None  # each partition's entries are freed once it is blocked
            report, part_codes = block_partition(settings, order, ids, sizes, 1, *block)
            del block
            reports.append(report)
            codes.append(part_codes)
        report = pa.concat_tables(reports)
    with timer.stage("scoring"):
        frame = scoring_frame(norm, settings)
        accepted, scored = score_partition(frame, settings, n, *codes)
    return _Blocked(norm, keys, frame, accepted, report, scored)


def ray_init(num_cpus: int | None = None) -> None:
    """Start or join Ray: the cluster at ``RAY_ADDRESS`` if set, else a local one.

    Quiet, offline-friendly settings (no usage stats, no dashboard) for local starts.
    """
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    address = os.environ.get("RAY_ADDRESS")
    if address:
        import dedup_ray
        import leadpipe

        # The core's stage clock lives in leadpipe.stages (standard library only).
        ray.init(address=address, runtime_env={"py_modules": [dedup_ray, leadpipe]})
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)


def _ray(
    people: pa.Table, settings: DedupSettings, known: KnownSizes, timer: StageClock
) -> _Blocked:
    import ray

    with timer.stage("ray_init"):
        ray_init()
    n = people.num_rows
    cpus = int(ray.available_resources().get("CPU", 1)) or 1
    partitions = settings.partitions or max(2, 2 * cpus)
    prepare = ray.remote(prepare_chunk).options(num_returns=partitions + 2)
    block = ray.remote(block_partition).options(num_returns=partitions + 1)
    score = ray.remote(score_partition).options(num_returns=2)

    with timer.stage("normalize_and_keys"):
        people_ref = ray.put(people)
        stage1 = [
            prepare.remote(people_ref, lo, hi, settings, partitions)
            for lo, hi in _chunks(n, settings.chunk_rows)
        ]
        norm = pa.concat_tables(_gather([s[0] for s in stage1], timer, "normalize_and_keys"))
        keys = _concat_keys(ray.get([s[1] for s in stage1]))
    with timer.stage("blocking"):
        sizes = _resolve_sizes(known, keys)
        order_ref = ray.put(name_order(norm))
        ids_ref = ray.put(norm.column("id").to_numpy())
        stage2 = [
            block.remote(
                settings, order_ref, ids_ref, sizes, partitions, *[s[2 + p] for s in stage1]
            )
            for p in range(partitions)
        ]
        report = pa.concat_tables(_gather([s[0] for s in stage2], timer, "blocking"))
    with timer.stage("scoring"):
        frame = scoring_frame(norm, settings)
        frame_ref = ray.put(frame)
        stage3 = [
            score.remote(frame_ref, settings, n, *[s[1 + q] for s in stage2])
            for q in range(partitions)
        ]
        accepted = pa.concat_tables(_gather([s[0] for s in stage3], timer, "scoring"))
        scored = sum(ray.get([s[1] for s in stage3]))
    return _Blocked(norm, keys, frame, accepted, report, scored)


def _gather(refs: list[Any], timer: StageClock, stage: str) -> list[Any]:
    """ray.get in completion order (reporting progress), returned in submission order."""
    import ray

    pending = list(refs)
    while pending:
        _, pending = ray.wait(pending, num_returns=1)
        timer.tick(stage, len(refs) - len(pending), len(refs))
    return ray.get(list(refs))


# Clustering and golden records (driver).


def _pair_codes(a: I64, b: I64) -> I64:
    """An order-free 64-bit code per pair of person ids (for set membership)."""
    return as_key(combine(np.minimum(a, b), np.maximum(a, b)))


def _excluded(exclude: I64 | None, a: I64, b: I64) -> npt.NDArray[np.bool_]:
    """Whether each pair of person ids ``(a[i], b[i])`` is one of the `exclude` pairs."""
    if exclude is None or len(exclude) == 0:
        return np.zeros(len(a), dtype=np.bool_)
    codes = sorted_unique(_pair_codes(exclude[:, 0], exclude[:, 1]))
    return np.isin(_pair_codes(a, b), codes)


def _resolve(
    people: pa.Table,
    blocked: _Blocked,
    settings: DedupSettings,
    timer: StageClock,
    exclude: I64 | None = None,
) -> DedupResult:
    norm, frame = blocked.norm, blocked.frame
    n = norm.num_rows
    ids = norm.column("id").to_numpy()
    acc = blocked.accepted
    left = acc.column("left").to_numpy()
    right = acc.column("right").to_numpy()
    separated = _excluded(exclude, ids[left], ids[right])
    if separated.any():
        acc = acc.filter(pa.array(~separated))
        left, right = left[~separated], right[~separated]
    gframe = GoldenFrame.from_normalized(norm)

    with timer.stage("clustering"):
        components = connected_components(n, left, right)
        component_ids = _smallest_id(components, ids)

        def golden_of(rows: I64, labels: I64) -> I64:
            return golden_rows(gframe, rows, labels)

        def keep(golden: I64, members: I64) -> npt.NDArray[np.bool_]:
            passes = passes_chain_guard(score_pairs(frame, golden, members, settings), settings)
            return passes & ~_excluded(exclude, ids[golden], ids[members])

        labels, chain = split_chains(
            components, left, right, golden_of, keep, settings.chain_max_rounds
        )
    with timer.stage("golden"):
        sizes = cluster_sizes(labels)
        rows = np.arange(n, dtype=np.int64)
        order = rank_within_clusters(gframe, rows, labels)
        golden = golden_rows(gframe, rows, labels, order)
        reasons = golden_reasons(gframe, rows, labels, order)
        rank = np.empty(n, dtype=np.int64)
        rank[order] = rows
        multi = np.flatnonzero(sizes > 1)
        fields = merged_fields(
            people, norm, gframe, multi, labels[multi], golden[multi], rank[multi]
        )
        members = np.flatnonzero(golden != rows)
        versus = score_pairs(frame, golden[members], members, settings)
        assignments = _assignments(ids, golden, sizes, component_ids, reasons, members, versus)
        pairs = _pairs_table(acc, ids, labels)
    counts = _counts(n, blocked, pairs, sizes, golden, chain)
    counts["excluded_pairs"] = int(separated.sum())
    return DedupResult(
        pairs=pairs,
        assignments=assignments,
        merged_fields=fields,
        capped_buckets=blocked.capped.sort_by([("bucket_hash", "ascending")]),
        counts=counts,
        timings=dict(timer.timings),
        settings=settings,
        ids=ids,
        keys=blocked.keys,
        components=component_ids,
    )


def _smallest_id(labels: I64, ids: I64) -> I64:
    smallest = np.full(len(labels), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(smallest, labels, ids)
    return smallest[labels]


def _assignments(
    ids: I64,
    golden: I64,
    sizes: I64,
    component_ids: I64,
    reasons: npt.NDArray[np.int8],
    members: I64,
    versus: pa.Table,
) -> pa.Table:
    n = len(ids)
    take = np.full(n, -1, dtype=np.int64)
    take[members] = np.arange(len(members))
    idx = pa.array(take, mask=take < 0)
    tier = versus.column("tier").take(idx)
    reason = pc.if_else(
        pc.equal(tier, 0),
        pa.scalar("linked_via_cluster"),
        versus.column("reason").cast(pa.string()).take(idx),
    )
    table = pa.table(
        {
            "person_id": ids,
            "golden_id": ids[golden],
            "is_golden": golden == np.arange(n),
            "cluster_size": sizes,
            "component_id": component_ids,
            "golden_rule": pc.take(pa.array(GOLDEN_RULES), pa.array(reasons)),
            "match_tier": tier,
            "match_reason": reason,
            "match_confidence": versus.column("confidence").take(idx),
            "match_score": versus.column("score").take(idx),
            "score_parts": versus.column("parts").take(idx),
        }
    )
    return table.sort_by([("person_id", "ascending")])


def _pairs_table(accepted: pa.Table, ids: I64, labels: I64) -> pa.Table:
    left = accepted.column("left").to_numpy()
    right = accepted.column("right").to_numpy()
    a, b = ids[left], ids[right]
    table = pa.table(
        {
            "left_id": np.minimum(a, b),
            "right_id": np.maximum(a, b),
            "tier": accepted.column("tier"),
            "reason": accepted.column("reason").cast(pa.string()),
            "confidence": accepted.column("confidence"),
            "score": accepted.column("score"),
            "parts": accepted.column("parts"),
            "same_cluster": labels[left] == labels[right],
        }
    )
    return table.sort_by([("left_id", "ascending"), ("right_id", "ascending")])


def _counts(
    n: int,
    blocked: _Blocked,
    pairs: pa.Table,
    sizes: I64,
    golden: I64,
    chain: ChainReport,
) -> dict[str, int]:
    tier = pairs.column("tier").to_numpy()
    return {
        "rows": n,
        "candidate_pairs": int(blocked.scored),
        "accepted_pairs": int(pairs.num_rows),
        "tier1_pairs": int((tier == 1).sum()),
        "tier2_pairs": int((tier == 2).sum()),
        "tier3_pairs": int((tier == 3).sum()),
        "clusters": int(((golden == np.arange(n)) & (sizes > 1)).sum()),
        "duplicates": int((golden != np.arange(n)).sum()),
        "capped_buckets": int(blocked.capped.num_rows),
        "chain_rounds": chain.rounds,
        "chain_clusters_split": chain.clusters_split,
        "chain_members_detached": chain.members_detached,
    }


def run(
    people: pa.Table,
    settings: DedupSettings | None = None,
    *,
    use_ray: bool = True,
    progress: Progress | None = None,
    known_sizes: KnownSizes = None,
    exclude: I64 | None = None,
) -> DedupResult:
    """Find, explain and resolve the duplicates in a table of people.

    Args:
        people: rows in `dedup_ray.normalize.INPUT_SCHEMA` (missing optional columns are
            treated as null); ids must be unique.
        settings: blocking, matching and execution parameters (defaults if None).
        use_ray: distribute over Ray (``RAY_ADDRESS`` if set, else a local Ray); False runs
            everything in this process, which is faster below a few hundred thousand rows.
        progress: optional ``progress(stage, done, total)`` callback.
        known_sizes: global bucket sizes when `people` is part of a larger set (used by
            `dedup_ray.incremental.run_incremental`), or a function computing them from the
            run's keys.
        exclude: ``(k, 2)`` person id pairs an operator separated: they are never an accepted
            pair, and the chain guard never keeps one as golden record and duplicate.

    Returns:
        The pairs, clusters, golden assignments, survivorship and counts of the run.
    """
    settings = settings or DedupSettings()
    timer = StageClock(progress, label="dedup stage")
    start = time.perf_counter()
    people = conform(people)
    blocked = (_ray if use_ray else _local)(people, settings, known_sizes, timer)
    result = _resolve(people, blocked, settings, timer, exclude)
    result.timings["total"] = round(time.perf_counter() - start, 4)
    return result
