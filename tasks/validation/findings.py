"""Row-level findings (errors and warnings) collected as Arrow, shaped like `import_errors`.

A check is a boolean mask over a batch; every row it flags becomes one finding
with the row number, the field, the offending value, a message that says what
is wrong, and the raw row. Rows with any ERROR finding are rejected; WARN rows
load with the finding recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

ERROR = "ERROR"
WARN = "WARN"

SCHEMA = pa.schema([
    ("row_number", pa.int64()),
    ("severity", pa.string()),
    ("error_type", pa.string()),
    ("field_name", pa.string()),
    ("field_value", pa.string()),
    ("error_message", pa.string()),
    ("raw_row", pa.string()),
])


class Findings:
    """The findings of one batch of rows."""

    def __init__(self, rows: pa.RecordBatch | pa.Table) -> None:
        self._row_number = rows.column("row_number")
        self._raw = rows.column("raw")
        self._parts: list[pa.Table] = []
        self._rejected = pa.array([False] * rows.num_rows, pa.bool_())

    def add(
        self,
        mask: pa.Array,
        severity: str,
        error_type: str,
        field: str,
        values: pa.Array | None,
        message: str | pa.Array,
    ) -> None:
        """Record a finding for every row where `mask` is true.

        Args:
            mask: which rows the check flags (null counts as not flagged).
            severity: ERROR (the row is rejected) or WARN (it loads).
            error_type: the machine-readable kind, e.g. MISSING_REQUIRED.
            field: the logical field the finding is about.
            values: the offending raw values (null for a missing value).
            message: what is wrong; a string, or an array with one per row.
        """
        mask = pc.fill_null(mask, False)
        count = pc.sum(mask).as_py() or 0
        if count == 0:
            return
        if severity == ERROR:
            self._rejected = pc.or_(self._rejected, mask)
        value_col = (pc.filter(values, mask).cast(pa.string()) if values is not None
                     else pa.nulls(count, pa.string()))
        text = (pa.array([message] * count, pa.string()) if isinstance(message, str)
                else pc.filter(message, mask))
        self._parts.append(pa.table({
            "row_number": pc.filter(self._row_number, mask),
            "severity": pa.array([severity] * count, pa.string()),
            "error_type": pa.array([error_type] * count, pa.string()),
            "field_name": pa.array([field] * count, pa.string()),
            "field_value": value_col,
            "error_message": text,
            "raw_row": pc.filter(self._raw, mask),
        }, schema=SCHEMA))

    @property
    def rejected(self) -> pa.Array:
        """True for rows with at least one ERROR."""
        return self._rejected

    def table(self, batch_id: int) -> pa.Table:
        """The findings as `import_errors` rows of a batch, in row order."""
        found = pa.concat_tables(self._parts) if self._parts else SCHEMA.empty_table()
        found = found.sort_by([("row_number", "ascending")])
        batch = pa.array([batch_id] * found.num_rows, pa.int64())
        return found.add_column(0, "batch_id", batch)


def quoted(values: pa.Array, template: str) -> pa.Array:
    """Per-row messages: `template` with `{}` replaced by the quoted value."""
    before, _, after = template.partition("{}")
    shown = pc.fill_null(values.cast(pa.string()), "")
    return pc.binary_join_element_wise(before + "'", shown, "'" + after, "")


def blank(values: pa.Array) -> pa.Array:
    """True where a value is null or only spaces."""
    return pc.fill_null(pc.equal(pc.utf8_trim_whitespace(values), ""), True)


def field_text(rows: pa.RecordBatch, field: str) -> pa.Array:
    """A read column trimmed, with blanks as null (all null when the file lacks it)."""
    if field not in rows.schema.names:
        return pa.nulls(rows.num_rows, pa.string())
    values = pc.utf8_trim_whitespace(rows.column(field))
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


@dataclass(frozen=True)
class CheckedRows:
    """The rows that load (as staging columns) and the findings of the whole batch."""

    staged: pa.Table
    findings: Findings
