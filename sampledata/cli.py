"""`leadpipe generate`: sample partner days and legacy person sources with ground truth.

Mounted under the main CLI as `leadpipe generate`; the commands are thin, the work is in
`sampledata.partner_day` and `sampledata.legacy`.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from leadpipe.errors import UserError
from sampledata.defects import max_rate
from sampledata.legacy import SOURCE_SHARES, LegacyOptions, generate_legacy
from sampledata.partner_day import PartnerDayOptions, generate_partner_days

app = typer.Typer(
    name="generate",
    help="Generate sample data with ground truth (partner days, legacy person sources).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()


def _parse_day(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise UserError(f"--date: {text!r} is not a date like 2024-01-08") from None


@app.command("partner-day")
def partner_day(
    day: Annotated[str, typer.Option("--date", help="first day, YYYY-MM-DD (a weekday)")],
    out: Annotated[Path, typer.Option(help="output folder")],
    pieces: Annotated[int, typer.Option(min=4, help="mortgage rows per day, all partners")] = 200,
    seed: Annotated[int, typer.Option(help="same seed, same bytes")] = 1,
    days: Annotated[int, typer.Option(min=1, help="consecutive weekdays to write")] = 1,
    defect_rate: Annotated[float, typer.Option(
        min=0.0, help="rate of each defect class among the rows or files it can hit")] = 0.02,
    tenant: Annotated[str, typer.Option(help="tenant name or .toml path")] = "demo",
) -> None:
    """Write partner files for DAYS weekdays, OUT/manifest.json and OUT/manifest/*.parquet
    with every row's truth."""
    if defect_rate > max_rate():
        raise UserError(f"--defect-rate: at most {max_rate():.3f} (one defect per row)")
    started = time.perf_counter()
    manifest = generate_partner_days(PartnerDayOptions(
        day=_parse_day(day), pieces=pieces, seed=seed, out=out, days=days,
        defect_rate=defect_rate, tenant=tenant))
    expect = manifest.summary()["expect"]
    console.print(
        f"wrote {len(manifest.files)} files, {manifest.row_count} rows "
        f"({', '.join(f'{k} {v}' for k, v in expect.items() if v)}) to {out} "
        f"in {time.perf_counter() - started:.1f}s; truth in {out / 'manifest.json'}",
        highlight=False, soft_wrap=True)


@app.command("legacy")
def legacy(
    rows: Annotated[int, typer.Option(min=1, help="records over all sources")],
    out: Annotated[Path, typer.Option(help="output folder")],
    seed: Annotated[int, typer.Option(help="same seed, same output")] = 1,
    mysql: Annotated[str | None, typer.Option(
        help="mysql://user[:password]@host:port/[database] to load contacts into "
             "(database default legacy_crm)")] = None,
    sources: Annotated[str | None, typer.Option(
        help=f"comma-separated subset of {', '.join(SOURCE_SHARES)}")] = None,
    tenant: Annotated[str, typer.Option(help="tenant name or .toml path")] = "demo",
) -> None:
    """Write legacy person sources and OUT/truth.parquet mapping every record to its person."""
    chosen = tuple(s.strip() for s in sources.split(",")) if sources else None
    started = time.perf_counter()
    try:
        summary = generate_legacy(LegacyOptions(rows=rows, seed=seed, out=out,
                                                mysql_url=mysql, sources=chosen,
                                                tenant=tenant))
    except ValueError as error:
        raise UserError(str(error)) from None
    elapsed = time.perf_counter() - started
    per_source: dict[str, int] = {}
    for entry in summary["files"]:  # type: ignore[union-attr]
        per_source[entry["source"]] = per_source.get(entry["source"], 0) + entry["rows"]
    console.print(
        f"wrote {rows:,} records of {summary['people']:,} people "
        f"({', '.join(f'{k} {v:,}' for k, v in per_source.items())}) to {out} in "
        f"{elapsed:.1f}s ({rows / elapsed:,.0f} rows/s); truth in {out / 'truth.parquet'}",
        highlight=False, soft_wrap=True)
