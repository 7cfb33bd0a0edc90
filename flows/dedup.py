"""Flow `dedup`: golden records over the whole database, full or incremental (daily).

The work is one task calling `dedup_ray.database.run_dedup`, the same function as
`leadpipe dedup run`; the flow logs the stages as they finish and publishes a summary
artifact (golden record counts, what changed, capped buckets, seconds per stage).
"""

from __future__ import annotations

from typing import Any, Literal

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from dedup_ray.runs import run_dedup

ARTIFACT_KEY = "dedup-summary"


@task(name="dedup-run", task_run_name="dedup-{mode}", cache_result_in_memory=False)
def dedup_run(mode: str, use_ray: bool | None) -> dict[str, Any]:
    """Run dedup over the database and write it back; returns the (small) run summary."""
    logger = get_run_logger()

    def progress(stage: str, done: int, total: int) -> None:
        if done >= total:
            logger.info("stage %s finished", stage)
        else:
            logger.info("stage %s: %d/%d", stage, done, total)

    summary = run_dedup(mode=mode, use_ray=use_ray, progress=progress)  # type: ignore[arg-type]
    logger.info("dedup run %d: %s", summary.run_id, summary.counts)
    return summary.to_dict()


def summary_markdown(summary: dict[str, Any]) -> str:
    """The artifact: golden counts, changes, capped buckets and timings of one run."""
    c, g = summary["counts"], summary["golden"]
    lines = [
        f"### dedup run {summary['run_id']} ({summary['mode']})",
        "",
        "| golden records | merged duplicates | with duplicates | persons |",
        "|---:|---:|---:|---:|",
        f"| {g['golden_records']:,} | {g['duplicates']:,} | {g['merged_clusters']:,} "
        f"| {g['persons']:,} |",
        "",
        "| people resolved | pairs scored | merges | golden changes | separations "
        "| flags changed |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {c['rows']:,} | {c['candidate_pairs']:,} | {c['merges']:,} "
        f"| {c['golden_changes']:,} | {c['unmerges']:,} | {c['persons_changed']:,} |",
        "",
        f"**Capped buckets**: {c['capped_buckets']:,} (largest first; members were paired "
        "within sub-buckets and sorted windows only)",
        "",
    ]
    if summary["capped_buckets"]:
        lines += ["| band | bucket | size | sub-buckets | windowed | pairs |",
                  "|---:|---:|---:|---:|---:|---:|"]
        lines += [
            f"| {b['band']} | {b['bucket_hash']} | {b['size']:,} | {b['sub_buckets']:,} "
            f"| {b['windowed_members']:,} | {b['pairs']:,} |"
            for b in summary["capped_buckets"]
        ]
        lines.append("")
    lines += ["| stage | seconds |", "|---|---:|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in summary["timings"].items()]
    return "\n".join(lines)


@flow(name="dedup", log_prints=True)
def dedup(
    mode: Literal["full", "incremental"] = "incremental", use_ray: bool | None = None
) -> dict[str, Any]:
    """Resolve golden records: the day's queued people (incremental) or everyone (full).

    Args:
        mode: ``incremental`` (daily: new and changed people against the stored golden
            records) or ``full``.
        use_ray: distribute over Ray; None: Ray when RAY_ADDRESS is set, else in-process.
    """
    summary = dedup_run(mode, use_ray)
    create_markdown_artifact(
        key=ARTIFACT_KEY,
        markdown=summary_markdown(summary),
        description=f"dedup run {summary['run_id']} ({mode})",
    )
    return summary
