"""Legacy person sources with ground truth: `leadpipe generate legacy`.

A run draws people batch by batch, turns each batch into records (a third of people more
than once, with variation), shuffles them and deals them out to the sources: the MariaDB
`contacts` table (with `--mysql`), SQLite files, campaign CSVs and a MySQL-dump upload.
`truth.parquet` maps every record (source, file, key) to its true person and household and
says how it varies; `people.parquet` holds each person's true values. Memory stays flat:
one batch is alive at a time, every writer streams.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from leadpipe import tenant as tenant_config
from sampledata import geography
from sampledata.people import (
    SUFFIXES,
    People,
    Places,
    PopulationRates,
    draw_people,
    draw_places,
    email_address,
    name_tables,
)
from sampledata.sources import (
    CampaignCsv,
    MariaDbContacts,
    MysqlDump,
    MysqlTarget,
    SqliteLeads,
    draw_csv_layout,
)
from sampledata.variation import (
    Records,
    VariationRates,
    build_records,
    copies_per_person,
    street_text,
)

SOURCE_SHARES = {"mysql": 0.60, "sqlite": 0.12, "csv": 0.22, "sql_dump": 0.06}
"""Shares of records per source (FORMATS.md: MySQL is most of the 84M); without `--mysql`
the other sources share its part."""
SQLITE_TOOLS = ("leadgen_pro", "mailblast", "quickdial", "dialmax", "promo_hub")
DUMP_NAME = "uploads/crm_export_20240115.sql"
DUMP_TIME = "2024-01-15 10:02:11"

TRUTH_SCHEMA = pa.schema([
    ("source", pa.string()),
    ("source_file", pa.string()),
    ("source_key", pa.int64()),
    ("person_id", pa.int64()),
    ("household_id", pa.int64()),
    ("copy_index", pa.int8()),
    ("updated_at", pa.timestamp("s")),
    ("variations", pa.list_(pa.string())),
])

PEOPLE_SCHEMA = pa.schema([
    ("person_id", pa.int64()),
    ("household_id", pa.int64()),
    ("namesake_of", pa.int64()),
    ("first_name", pa.string()),
    ("middle_name", pa.string()),
    ("last_name", pa.string()),
    ("suffix", pa.string()),
    ("email", pa.string()),
    ("phone_e164", pa.string()),
    ("street", pa.string()),
    ("unit", pa.string()),
    ("city", pa.string()),
    ("state", pa.string()),
    ("zip5", pa.string()),
    ("zip4", pa.string()),
])

_MEAN_RECORDS_PER_PERSON = 1.56


class SourceWriter(Protocol):
    """What every legacy source writer does."""

    def write(self, records: Records, rng: np.random.Generator) -> np.ndarray: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class LegacyOptions:
    """One `generate legacy` run.

    Attributes:
        rows: Records over all sources.
        seed: The run's seed; same seed and options, same bytes.
        out: Output folder.
        mysql_url: `mysql://user@host:port/[database]`; None writes no MySQL rows.
        sources: Restrict to these sources (benchmarks measure one writer at a time).
        batch_rows: Records per batch; bounds memory.
        tenant: Tenant whose `legacy.header_synonyms` name the CSV headers.
    """

    rows: int
    seed: int
    out: Path
    mysql_url: str | None = None
    sources: tuple[str, ...] | None = None
    batch_rows: int = 100_000
    tenant: str = "demo"
    population: PopulationRates = field(default_factory=PopulationRates)
    variation: VariationRates = field(default_factory=VariationRates)


@dataclass
class _Target:
    source: str
    source_file: str
    writer: SourceWriter
    share: float
    rows: int = 0
    detail: dict[str, object] = field(default_factory=dict)


def _shares(options: LegacyOptions) -> dict[str, float]:
    wanted = options.sources or tuple(SOURCE_SHARES)
    unknown = set(wanted) - set(SOURCE_SHARES)
    if unknown:
        raise ValueError(f"unknown legacy sources: {', '.join(sorted(unknown))}")
    shares = {s: SOURCE_SHARES[s] for s in wanted if s != "mysql" or options.mysql_url}
    if not shares:
        raise ValueError("no source to write: mysql needs --mysql URL")
    total = sum(shares.values())
    return {s: v / total for s, v in shares.items()}


def _file_count(rows: float, per_file: int, low: int, high: int) -> int:
    return int(min(max(rows // per_file, low), high))


def _open_targets(options: LegacyOptions, rng: np.random.Generator) -> list[_Target]:
    shares = _shares(options)
    synonyms = tenant_config.load(options.tenant).legacy.header_synonyms
    targets: list[_Target] = []
    if "mysql" in shares:
        assert options.mysql_url is not None
        database = MysqlTarget.parse(options.mysql_url).database
        targets.append(_Target("mysql", f"{database}.contacts",
                               MariaDbContacts(options.mysql_url), shares["mysql"]))
    if "sqlite" in shares:
        (options.out / "sqlite").mkdir(parents=True, exist_ok=True)
        count = _file_count(options.rows * shares["sqlite"], 2_000_000, 3, len(SQLITE_TOOLS))
        for tool in SQLITE_TOOLS[:count]:
            name = f"sqlite/{tool}.sqlite"
            targets.append(_Target("sqlite", name, SqliteLeads(options.out / name),
                                   shares["sqlite"] / count))
    if "csv" in shares:
        (options.out / "csv").mkdir(parents=True, exist_ok=True)
        count = _file_count(options.rows * shares["csv"], 1_000_000, 4, 16)
        for index in range(1, count + 1):
            layout = draw_csv_layout(rng, synonyms)
            name = f"csv/campaign_{index:02d}.csv"
            target = _Target("csv", name, CampaignCsv(options.out / name, layout),
                             shares["csv"] / count)
            target.detail = {"headers": [h for _, h in layout.columns],
                             "fields": [f for f, _ in layout.columns],
                             "date_style": layout.date_style}
            targets.append(target)
    if "sql_dump" in shares:
        (options.out / "uploads").mkdir(parents=True, exist_ok=True)
        targets.append(_Target("sql_dump", DUMP_NAME,
                               MysqlDump(options.out / DUMP_NAME, DUMP_TIME), shares["sql_dump"]))
    return targets


def _fit(people: People, copies: np.ndarray, rows: int) -> tuple[People, np.ndarray]:
    """Drop people (and trim the last one's copies) so the batch has at most `rows` records."""
    total = np.cumsum(copies)
    if total[-1] <= rows:
        return people, copies
    keep = int(np.searchsorted(total, rows)) + 1
    copies = copies[:keep].copy()
    copies[-1] -= total[keep - 1] - rows
    return people.head(keep), copies


def _null_negative(values: np.ndarray) -> pa.Array:
    return pa.array(values, pa.int64(), mask=values < 0)


def _truth(target: _Target, keys: np.ndarray, records: Records, people: People) -> pa.Table:
    n = len(records)
    return pa.Table.from_arrays([
        pa.array([target.source] * n, pa.string()),
        pa.array([target.source_file] * n, pa.string()),
        pa.array(keys, pa.int64()),
        pa.array(people.person_id[records.person]),
        _null_negative(people.household_id[records.person]),
        pa.array(records.copy_index),
        pa.array(records.updated_at, pa.timestamp("s")),
        records.labels,
    ], schema=TRUTH_SCHEMA)


def people_table(people: People, places: Places) -> pa.Table:
    """Each person's true values: what a perfect golden record would hold."""
    tables = name_tables()
    address = {name: getattr(people, name) for name in (
        "street_word", "street_suffix", "directional", "house")}
    unit = pc.binary_join_element_wise("Apt ", pa.array(people.unit).cast(pa.string()), "")
    phone = pc.binary_join_element_wise("+1", pa.array(people.phone).cast(pa.string()), "")
    middle = tables.first.take(pa.array(np.maximum(people.middle, 0)))
    suffix = pa.array(SUFFIXES, pa.string()).take(pa.array(people.suffix))
    place = pa.array(people.place)
    return pa.Table.from_arrays([
        pa.array(people.person_id),
        _null_negative(people.household_id),
        _null_negative(people.namesake_of),
        tables.first.take(pa.array(people.first)),
        pc.if_else(pa.array(people.middle >= 0), middle, pa.scalar(None, pa.string())),
        tables.last.take(pa.array(people.last)),
        pc.if_else(pa.array(people.suffix > 0), suffix, pa.scalar(None, pa.string())),
        pc.if_else(pa.array(people.has_email), email_address(people),
                   pa.scalar(None, pa.string())),
        pc.if_else(pa.array(people.phone > 0), phone, pa.scalar(None, pa.string())),
        street_text(address, np.ones(len(people), bool)),
        pc.if_else(pa.array(people.unit > 0), unit, pa.scalar(None, pa.string())),
        places.city.take(place),
        places.state.take(place),
        places.zip5_text(people.place),
        pc.utf8_lpad(pa.array(people.zip4).cast(pa.string()), 4, "0"),
    ], schema=PEOPLE_SCHEMA)


def generate_legacy(options: LegacyOptions) -> dict[str, object]:
    """Write the legacy sources, truth.parquet, people.parquet and legacy.json.

    Args:
        options: What to generate and where.

    Returns:
        The run's summary (also written as `legacy.json`): files with their row counts,
        CSV layouts, people and household counts.
    """
    options.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.Generator(np.random.PCG64(options.seed))
    places = draw_places(rng, _file_count(options.rows, 1500, 50, 20_000))
    targets = _open_targets(options, rng)
    shares = np.array([t.share for t in targets])
    truth = pq.ParquetWriter(options.out / "truth.parquet", TRUTH_SCHEMA)
    people_out = pq.ParquetWriter(options.out / "people.parquet", PEOPLE_SCHEMA)
    next_person, remaining, people_total = 1, options.rows, 0
    try:
        while remaining > 0:
            want = min(options.batch_rows, remaining)
            count = max(int(want / _MEAN_RECORDS_PER_PERSON), 1)
            people = draw_people(rng, count, next_person, places, options.population)
            copies = copies_per_person(rng, len(people), options.variation)
            people, copies = _fit(people, copies, want)
            next_person += len(people)
            people_total += len(people)
            records = build_records(rng, people, places, copies, options.variation)
            records = records.take(rng.permutation(len(records)))
            chosen = rng.choice(len(targets), size=len(records), p=shares / shares.sum())
            tables = []
            for index, target in enumerate(targets):
                subset = records.take(np.flatnonzero(chosen == index))
                keys = target.writer.write(subset, rng)
                target.rows += len(subset)
                tables.append(_truth(target, keys, subset, people))
            truth.write_table(pa.concat_tables(tables))
            people_out.write_table(people_table(people, places))
            remaining -= len(records)
    finally:
        truth.close()
        people_out.close()
        for target in targets:
            target.writer.close()
    summary = _summary(options, targets, people_total)
    (options.out / "legacy.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _summary(options: LegacyOptions, targets: list[_Target], people: int) -> dict[str, object]:
    return {
        "seed": options.seed,
        "rows": options.rows,
        "people": people,
        "population": asdict(options.population),
        "variation": asdict(options.variation),
        "files": [
            {"source": t.source, "source_file": t.source_file, "rows": t.rows, **t.detail}
            for t in targets
        ],
        "truth": "truth.parquet",
        "people_file": "people.parquet",
        "states": len(geography.STATES),
    }
