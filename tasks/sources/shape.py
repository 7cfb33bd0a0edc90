"""From a source's own columns to `BATCH_SCHEMA` batches: one builder every source uses."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa

from tasks.sources.columns import Synonyms, match_columns, require_identity
from tasks.sources.raw_json import json_objects
from tasks.sources.schema import BATCH_SCHEMA, LOGICAL_FIELDS


def unique_names(names: Sequence[str]) -> list[str]:
    """Column names fit to be JSON keys: blanks become `column_N`, repeats get `_2`, `_3`."""
    seen: dict[str, int] = {}
    unique = []
    for index, name in enumerate(names, start=1):
        key = name.strip() or f"column_{index}"
        count = seen.get(key, 0) + 1
        seen[key] = count
        unique.append(key if count == 1 else f"{key}_{count}")
    return unique


class BatchShape:
    """How one source's columns map to the logical fields, and the batches that follow.

    Attributes:
        names: the source's column names as `raw` keys.
        fields: logical field -> position of the column that holds it.
    """

    def __init__(self, source: str, names: Sequence[str], synonyms: Synonyms) -> None:
        """Match the columns against the synonyms.

        Raises:
            SourceError: no column could identify a person (naming `source` and the columns).
        """
        self.names = unique_names(names)
        self.fields = match_columns(names, synonyms)
        require_identity(source, names, self.fields)

    def numbered(self, runs: Iterable[Sequence[pa.Array]], start_after: int,
                 batch_rows: int) -> Iterator[pa.RecordBatch]:
        """Batches of sources whose rows are numbered by position (files): the runs' rows
        get row numbers from 1, and those up to `start_after` are left out."""
        counted = start_after
        for columns in gather(skip_rows(runs, start_after), batch_rows):
            size = len(columns[0])
            numbers = pa.array(np.arange(counted + 1, counted + size + 1, dtype=np.int64))
            counted += size
            yield self.batch(columns, numbers)

    def batch(self, columns: Sequence[pa.Array], row_numbers: pa.Array,
              source_keys: pa.Array | None = None) -> pa.RecordBatch:
        """One output batch from the source's string columns (in `names` order).

        Args:
            columns: one string array per source column.
            row_numbers: int64 row numbers of these rows.
            source_keys: their identities as text; the row numbers when omitted.
        """
        count = len(row_numbers)
        keys = source_keys if source_keys is not None else row_numbers.cast(pa.string())
        arrays = [keys, row_numbers]
        for field in LOGICAL_FIELDS:
            index = self.fields.get(field)
            arrays.append(columns[index] if index is not None else pa.nulls(count, pa.string()))
        arrays.append(json_objects(self.names, columns))
        return pa.RecordBatch.from_arrays(arrays, schema=BATCH_SCHEMA)


def gather(runs: Iterable[Sequence[pa.Array]], rows: int) -> Iterator[list[pa.Array]]:
    """Runs of equal-length columns regrouped into runs of exactly `rows` rows (the last may
    be shorter), so a batch's fixed costs are paid once per `rows` rows."""
    pending: list[Sequence[pa.Array]] = []
    count = 0
    for run in runs:
        size = len(run[0])
        if size == 0:
            continue
        pending.append(run)
        count += size
        while count >= rows:
            merged = _merge(pending)
            yield [column.slice(0, rows) for column in merged]
            count -= rows
            pending = [[column.slice(rows) for column in merged]] if count else []
    if pending:
        yield _merge(pending)


def skip_rows(runs: Iterable[Sequence[pa.Array]], skip: int) -> Iterator[Sequence[pa.Array]]:
    """The runs without their first `skip` rows (reading resumed after row `skip`)."""
    for run in runs:
        size = len(run[0])
        if skip >= size:
            skip -= size
            continue
        yield [column.slice(skip) for column in run] if skip else run
        skip = 0


def _merge(runs: list[Sequence[pa.Array]]) -> list[pa.Array]:
    if len(runs) == 1:
        return list(runs[0])
    return [pa.concat_arrays(parts) for parts in zip(*runs, strict=True)]
