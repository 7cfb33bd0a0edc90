"""Standalone use: clean a CSV or Parquet list of people before a mailing.

The user's columns are mapped onto the fields the matcher reads (``--map field=COLUMN``;
a column already named like a field needs no map), cleaned by the same hygiene functions
as imports (names parsed from a full name, phones to E.164, ZIP+4 to ZIP), and resolved
in-process (Ray when asked). The output has one row per input row:
``record_id,cluster_id,is_original,match_score,match_reason``, where ``cluster_id`` is the
record id of the cluster's golden record.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from dedup_ray.engine import DedupResult, Progress, run
from dedup_ray.settings import DedupSettings
from tasks.hygiene import clean_phones, clean_zips, parse_names
from tasks.sources.columns import match_columns

#: The fields a list may map (the import's logical field names), and the other column
#: names each is found under without a map, most preferred first.
FILE_FIELDS = ("first_name", "last_name", "full_name", "street", "city", "state", "zip",
               "email", "phone")
FILE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "full_name": ("name",),
    "street": ("address",),
    "zip": ("zip5", "zipcode"),
    "phone": ("phone_e164",),
}
OUTPUT_COLUMNS = ("record_id", "cluster_id", "is_original", "match_score", "match_reason")


def _read_text(path: Path) -> pa.Table:
    """Every column as text (ZIPs and ids keep their leading zeros)."""
    if path.suffix.lower() == ".parquet":
        table = pq.read_table(path)
        return pa.table({n: pc.cast(c, pa.string()) for n, c in
                         zip(table.column_names, table.columns, strict=True)})
    with path.open(newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle), [])
    return pacsv.read_csv(path, read_options=pacsv.ReadOptions(encoding="utf-8-sig"),
                          convert_options=pacsv.ConvertOptions(
                              column_types=dict.fromkeys(header, pa.string())))


def _mapping(path: Path, names: list[str], given: dict[str, str]) -> dict[str, str]:
    """Field -> column: the user's maps first, then the usual names (`match_columns`)."""
    unknown = sorted(set(given) - set(FILE_FIELDS))
    if unknown:
        raise ValueError(f"--map {', '.join(unknown)}: not a field; fields are "
                         f"{', '.join(FILE_FIELDS)}")
    missing = sorted(col for col in given.values() if col not in names)
    if missing:
        raise ValueError(f"{path}: no column(s) {', '.join(missing)}")
    synonyms = {f: (*([given[f]] if f in given else []), *FILE_SYNONYMS.get(f, ()))
                for f in FILE_FIELDS}
    found = {f: names[i] for f, i in match_columns(names, synonyms).items() if f in FILE_FIELDS}
    if not {"first_name", "last_name", "full_name", "email", "phone"} & set(found):
        raise ValueError(f"{path}: no column names a person (map first_name and last_name, "
                         "full_name, email or phone)")
    return found


def read_people(path: str | Path, columns: dict[str, str] | None = None,
                id_column: str | None = None) -> tuple[pa.Table, pa.Array]:
    """Read a list as matcher input rows (ids 1..n) and the user's record ids.

    Args:
        path: ``.parquet``, or CSV (any other suffix).
        columns: field -> the file's column (``{"first_name": "First Name"}``).
        id_column: the column holding each row's record id; rows are numbered from 1
            without it.

    Raises:
        ValueError: a mapped or id column is missing, an id repeats or is empty, or no
            column names a person.
    """
    path = Path(path)
    table = _read_text(path)
    found = _mapping(path, table.column_names, columns or {})
    count = table.num_rows
    if id_column is None:
        record_ids = pa.array(np.arange(1, count + 1).astype(str))
    elif id_column not in table.column_names:
        raise ValueError(f"{path}: no id column {id_column}")
    else:
        record_ids = table.column(id_column).combine_chunks()
        if record_ids.null_count or pc.count_distinct(record_ids).as_py() != count:
            raise ValueError(f"{path}: the values of {id_column} are not unique record ids")

    def text(field: str) -> pa.Array:
        col = found.get(field)
        return table.column(col).combine_chunks() if col else pa.nulls(count, pa.string())

    names = parse_names(text("full_name"))
    people = pa.table({
        "id": pa.array(np.arange(1, count + 1, dtype=np.int64)),
        "first_name": pc.coalesce(text("first_name"), names.column("first")),
        "middle_name": names.column("middle"),
        "last_name": pc.coalesce(text("last_name"), names.column("last")),
        "email": text("email"),
        "phone_e164": clean_phones(text("phone")).column("e164"),
        "street": text("street"),
        "city": text("city"),
        "state": text("state"),
        "zip5": clean_zips(text("zip")).column("zip5"),
    })
    return people, record_ids


def dedup_file(
    source: str | Path,
    target: str | Path,
    settings: DedupSettings | None = None,
    *,
    columns: dict[str, str] | None = None,
    id_column: str | None = None,
    use_ray: bool = False,
    progress: Progress | None = None,
) -> DedupResult:
    """Deduplicate a list of people from a file; one output row per input row.

    Args:
        source: CSV or Parquet input (see `read_people`).
        target: output path; ``.parquet`` writes Parquet, anything else CSV.
        settings: dedup settings (defaults if None).
        columns: field -> input column (see `read_people`).
        id_column: the input's record id column (row numbers without it).
        use_ray: distribute over Ray (``RAY_ADDRESS`` or a local Ray).
        progress: optional ``progress(stage, done, total)`` callback.

    Returns:
        The run's result; the file holds `OUTPUT_COLUMNS` in input order.
    """
    people, record_ids = read_people(source, columns, id_column)
    result = run(people, settings, use_ray=use_ray, progress=progress)
    found = result.assignments
    order = pc.index_in(people.column("id"), value_set=found.column("person_id"))
    golden_row = pc.subtract(found.column("golden_id").take(order), 1)
    out = pa.table({
        "record_id": record_ids,
        "cluster_id": record_ids.take(golden_row),
        "is_original": found.column("is_golden").take(order),
        "match_score": found.column("match_score").take(order),
        "match_reason": found.column("match_reason").take(order),
    })
    target = Path(target)
    if target.suffix.lower() == ".parquet":
        pq.write_table(out, target)
    else:
        pacsv.write_csv(out, target)
    return result
