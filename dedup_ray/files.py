"""Standalone use: clean a CSV or Parquet list of people before a mailing.

Reads the file with pyarrow, maps the user's column names onto the input schema, runs the
dedup core (in-process by default; Ray when asked) and writes the rows back with their
golden record and the reason they were merged, or only the golden records.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from dedup_ray.engine import DedupResult, Progress, run
from dedup_ray.normalize import INPUT_SCHEMA
from dedup_ray.settings import DedupSettings

_OUTPUT_COLUMNS = ("golden_id", "is_golden", "match_reason", "match_score")


def read_people(path: str | Path, columns: dict[str, str] | None = None) -> pa.Table:
    """Read a CSV or Parquet file as people rows.

    Args:
        path: ``.csv`` (any other suffix than ``.parquet`` is read as CSV) or ``.parquet``.
        columns: the file's column name for each input column that is named differently
            (``{"first_name": "First Name", ...}``). Without an ``id`` column, rows are
            numbered from 1.

    Raises:
        ValueError: when a mapped column is not in the file.
    """
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        table = pq.read_table(path)
    else:
        as_text = {f.name: pa.string() for f in INPUT_SCHEMA if pa.types.is_string(f.type)}
        names = {**as_text, **{src: pa.string() for src in (columns or {}).values()}}
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=names))
    renames = {src: dst for dst, src in (columns or {}).items()}
    missing = sorted(set(renames) - set(table.column_names))
    if missing:
        raise ValueError(f"{path}: no column(s) {', '.join(missing)}")
    table = table.rename_columns([renames.get(c, c) for c in table.column_names])
    if "id" not in table.column_names:
        table = table.append_column("id", pa.array(np.arange(1, table.num_rows + 1)))
    return table


def dedup_file(
    source: str | Path,
    target: str | Path,
    settings: DedupSettings | None = None,
    *,
    columns: dict[str, str] | None = None,
    golden_only: bool = False,
    use_ray: bool = False,
    progress: Progress | None = None,
) -> DedupResult:
    """Deduplicate a list of people from a file into another file.

    Args:
        source: CSV or Parquet input (see `read_people`).
        target: output path; ``.parquet`` writes Parquet, anything else CSV.
        settings: dedup settings (defaults if None).
        columns: input column name mapping (see `read_people`).
        golden_only: write one row per person (the golden records) instead of every row.
        use_ray: distribute over Ray (``RAY_ADDRESS`` or a local Ray).
        progress: optional ``progress(stage, done, total)`` callback.

    Returns:
        The run's result; the file holds the input rows plus ``golden_id``, ``is_golden``,
        ``match_reason`` and ``match_score``.
    """
    people = read_people(source, columns)
    result = run(people, settings, use_ray=use_ray, progress=progress)
    found = result.assignments.select(["person_id", *_OUTPUT_COLUMNS])
    order = pc.index_in(people.column("id"), value_set=found.column("person_id"))
    out = people
    for name in _OUTPUT_COLUMNS:
        out = out.append_column(name, found.column(name).take(order))
    if golden_only:
        out = out.filter(out.column("is_golden"))
    target = Path(target)
    if target.suffix.lower() == ".parquet":
        pq.write_table(out, target)
    else:
        pacsv.write_csv(out, target)
    return result
