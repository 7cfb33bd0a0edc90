"""`leadpipe dedup`: runs over the database, operator changes, explanations, list cleaning.

Mounted by the main command (``app.add_typer(dedup_app, name="dedup")``). Operator
commands record who ran them (``--actor``, default the login name) on their audit rows.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from db import migrate
from dedup_ray.engine import Progress as ProgressCallback
from dedup_ray.files import FILE_FIELDS, dedup_file
from dedup_ray.operators import PARTS, RECORD_FIELDS, example_merge, explain, override, unmerge
from dedup_ray.runs import RunSummary, run_dedup
from leadpipe import settings
from leadpipe.errors import UserError

app = typer.Typer(
    help="Golden-record dedup: runs, operator overrides and unmerges, explanations, lists.",
    no_args_is_help=True,
)
console = Console(width=None if sys.stdout.isatty() else 120)

#: Stages of a run, in order, for the progress bar (incremental runs add key_lookups).
_STAGES = (
    "read",
    "normalize_and_keys",
    "blocking",
    "scoring",
    "clustering",
    "golden",
    "write_copy_results",
    "write_compare",
    "write_golden",
    "write_audit",
    "write_keys",
)

RayOption = Annotated[
    bool | None,
    typer.Option(
        "--ray/--no-ray",
        help="distribute over Ray (RAY_ADDRESS, else a local Ray); default: Ray when "
        "RAY_ADDRESS is set, else in this process",
    ),
]
ActorOption = Annotated[
    str | None, typer.Option("--actor", help="who is making the change (default: login name)")
]


@contextmanager
def _progress(stages: tuple[str, ...] = _STAGES) -> Iterator[ProgressCallback]:
    """A rich progress bar over the run's stages; yields the core's progress callback."""
    bar = Progress(
        TextColumn("[bold]dedup[/] {task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=not console.is_terminal,
    )
    task = bar.add_task("starting", total=len(stages))
    finished: set[str] = set()

    def report(stage: str, done: int, total: int) -> None:
        if done >= total and stage in stages and stage not in finished:
            finished.add(stage)
            bar.update(task, completed=len(finished), description=stage)
        else:
            bar.update(task, description=f"{stage} {done}/{total}")

    with bar:
        yield report


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


def _summary(summary: RunSummary) -> None:
    c, g = summary.counts, summary.golden
    table = Table(title=f"dedup run {summary.run_id} ({summary.mode})", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, value in (
        ("people resolved", c["rows"]),
        ("candidate pairs scored", c["candidate_pairs"]),
        ("accepted pairs", c["accepted_pairs"]),
        ("merges", c["merges"]),
        ("golden changes", c["golden_changes"]),
        ("separations", c["unmerges"]),
        ("golden flags changed", c["persons_changed"]),
        ("capped buckets", c["capped_buckets"]),
        ("persons in the database", g["persons"]),
        ("golden records", g["golden_records"]),
        ("merged duplicates", g["duplicates"]),
        ("golden records with duplicates", g["merged_clusters"]),
    ):
        table.add_row(label, f"{value:,}")
    console.print(table)
    stages = ", ".join(
        f"{k} {v:.2f}s" for k, v in summary.timings.items() if k in (*_STAGES, "key_lookups")
    )
    console.print(f"took {summary.timings['total']:.2f}s ({stages})", highlight=False)


@app.command("run")
def run_command(
    incremental: Annotated[
        bool,
        typer.Option("--incremental", help="only the new and changed people (the daily run)"),
    ] = False,
    ray: RayOption = None,
) -> None:
    """Resolve golden records over the database and write them back."""
    mode = "incremental" if incremental else "full"
    with _progress() as progress:
        summary = run_dedup(migrate.upgraded_database(), mode=mode, use_ray=ray, progress=progress)
    _summary(summary)


@app.command("override")
def override_command(
    golden: Annotated[int, typer.Option("--golden", help="the person to make golden")],
    actor: ActorOption = None,
) -> None:
    """Make a person the golden record of its cluster (manual override, audited)."""
    with _progress() as progress:
        summary = override(golden, actor=_actor(actor), url=migrate.upgraded_database(),
                           progress=progress)
    console.print(
        f"person {golden} is marked golden by hand (run {summary.run_id}): "
        f"{summary.counts['golden_changes']} golden change(s), "
        f"{summary.counts['merges']} merge(s), {summary.counts['unmerges']} separation(s)",
        highlight=False,
    )


@app.command("unmerge")
def unmerge_command(
    person_id: Annotated[int, typer.Argument(help="the merged duplicate to separate")],
    actor: ActorOption = None,
) -> None:
    """Separate a merged duplicate into its own golden record; later runs keep it apart."""
    with _progress() as progress:
        summary = unmerge(person_id, actor=_actor(actor), url=migrate.upgraded_database(),
                          progress=progress)
    console.print(
        f"person {person_id} is its own golden record (run {summary.run_id}, "
        f"{summary.counts['unmerges']} separation(s)); later runs keep it apart",
        highlight=False,
    )


def _text(value: object) -> str:
    return "-" if value is None else str(value)


def print_explanation(found: dict[str, Any], out: Console | None = None) -> None:
    """Print `dedup_ray.operators.explain` output: the two records, then the score parts."""
    out = out or console
    a, b = found["ids"]
    tier = found["tier"]
    verdict = f"tier {tier}, {found['reason']}" if tier else "no match"
    out.print(
        f"[bold]{a}[/] and [bold]{b}[/]: {verdict}, score {found['score']:.2f} "
        f"({found['source']}); golden records {found['golden_ids'][0]} and "
        f"{found['golden_ids'][1]}" + (" (same cluster)" if found["same_cluster"] else ""),
        highlight=False,
    )
    records = Table("field", str(a), str(b))
    for name in RECORD_FIELDS:
        records.add_row(name, *(_text(r[name]) for r in found["records"]))
    out.print(records)
    parts = Table("part", "value", "meaning")
    for name, meaning in PARTS.items():
        parts.add_row(name, _text(found["parts"].get(name)), meaning)
    if found.get("golden_rule"):
        parts.add_row("golden_rule", str(found["golden_rule"]), "why the golden record won")
    out.print(parts)


@app.command("explain")
def explain_command(
    first: Annotated[int, typer.Argument(help="a person id")],
    second: Annotated[int, typer.Argument(help="another person id")],
) -> None:
    """Print why two people match or not: tier, reason and per-field score parts."""
    print_explanation(explain(first, second, migrate.upgraded_database()))


@app.command("file")
def file_command(
    source: Annotated[Path, typer.Argument(help="CSV or Parquet list of people")],
    out: Annotated[Path, typer.Option("--out", help="output CSV (.parquet writes Parquet)")],
    id_column: Annotated[str | None, typer.Option(
        "--id-column", help="the column of record ids (default: row numbers from 1)")] = None,
    map_: Annotated[list[str] | None, typer.Option(
        "--map", help="FIELD=COLUMN, fields: " + ", ".join(FILE_FIELDS))] = None,
    ray: RayOption = None,
) -> None:
    """Clean a list of people before a mailing (no database needed).

    Writes record_id, cluster_id (the golden record's id), is_original, match_score and
    match_reason for every input row.
    """
    if not source.is_file():
        raise UserError(f"no such file: {source}")
    mapping: dict[str, str] = {}
    for item in map_ or []:
        name, sep, theirs = item.partition("=")
        if not sep or not name.strip() or not theirs.strip():
            raise UserError(f"--map {item!r}: expected FIELD=COLUMN")
        mapping[name.strip()] = theirs.strip()
    use_ray = ray if ray is not None else bool(settings.ray_address())
    stages = _STAGES[1:6]
    try:
        with _progress(stages) as progress:
            result = dedup_file(source, out, columns=mapping, id_column=id_column,
                                use_ray=use_ray, progress=progress)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    c = result.counts
    console.print(
        f"{c['rows']:,} rows: {c['rows'] - c['duplicates']:,} golden records, "
        f"{c['duplicates']:,} duplicates in {c['clusters']:,} clusters; wrote {out}",
        highlight=False,
    )


def demo_step(out: Console) -> RunSummary:
    """The end of `make demo`: dedup over everything loaded, golden counts, one merge explained.

    A full run (in-process unless RAY_ADDRESS is set); again on unchanged data it changes nothing.
    """
    url = migrate.upgraded_database()
    with _progress() as progress:
        summary = run_dedup(url, mode="full", progress=progress)
    g, c = summary.golden, summary.counts
    out.print(
        f"[bold]dedup[/] run {summary.run_id}: {g['persons']:,} people -> "
        f"{g['golden_records']:,} golden records ({g['duplicates']:,} duplicates merged into "
        f"{g['merged_clusters']:,} of them); this run: {c['merges']:,} merges, "
        f"{c['golden_changes']:,} golden changes, {summary.timings['total']:.1f}s"
    )
    example = example_merge(url)
    if example is not None:
        print_explanation(explain(*example, url), out)
    return summary
