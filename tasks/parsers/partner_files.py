"""The partner file formats (FORMATS.md sections 3 and 4) read into logical columns.

One reader per physical shape (CSV with or without a header, a worksheet with
its header on some row, fixed width inside a zip); the format table below says
which shape each format has and where its logical fields are. Partner column
maps come from the tenant file. Headers are matched trimmed and
case-insensitively, and columns are found by header, so order may change.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa
from python_calamine import CalamineWorkbook

from leadpipe.tenant import DeliveryFeed, MortgageFeed
from tasks.parsers.cells import cell_text
from tasks.parsers.text import to_utf8

BATCH_ROWS = 50_000
DELIVERY_FIELDS = ("barcode", "event_date", "outcome", "zip")


class FileFormatError(ValueError):
    """The file as a whole cannot be read as its format (wrong sheet, missing headers)."""


@dataclass(frozen=True)
class Layout:
    """Where a format keeps its rows: the header row and the logical field of each column."""

    header_row: int | None  # 1-based row of the header; None when the file has none
    fields: dict[str, str]  # logical field -> header (or positional name)
    sheet: str | None = None  # worksheet name; None for the first sheet


D1_COLUMNS = ("imb31", "delivery_date", "facility_zip", "op_code")
# D3: (name, first column, last column), 1-based inclusive, FORMATS.md section 4.
D3_COLUMNS = (("bars", 1, 65), ("date", 66, 73), ("zip5", 74, 78), ("zip4", 79, 82),
              ("status", 83, 84))

DELIVERY_LAYOUTS = {
    "D1": Layout(None, {"barcode": "imb31", "event_date": "delivery_date",
                        "zip": "facility_zip"}),
    "D2": Layout(1, {"barcode": "Tracking Code", "event_date": "Delivery Date", "zip": "ZIP"},
                 sheet="Delivered"),
    "D3": Layout(None, {"barcode": "bars", "event_date": "date", "outcome": "status",
                        "zip": "zip5"}),
    "D4": Layout(3, {"barcode": "IMb Digits", "event_date": "Date Delivered",
                     "outcome": "Status"}, sheet="Sheet1"),
}


def layout_for(feed: MortgageFeed | DeliveryFeed) -> Layout:
    """The layout of a partner's feed."""
    if isinstance(feed, MortgageFeed):
        return Layout(1, dict(feed.columns))
    return DELIVERY_LAYOUTS[feed.format]


def _chunks(rows: Iterable[tuple[int, list[str | None]]]) -> Iterator[list]:
    chunk: list = []
    for item in rows:
        chunk.append(item)
        if len(chunk) == BATCH_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _is_blank(row: list) -> bool:
    return all(v is None or not v.strip() for v in row[:-1])


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[str | None]]]:
    text, repaired = to_utf8(data)
    reader = csv.reader(io.StringIO(text.decode("utf-8"), newline=""))
    first_line = 1
    for row in reader:
        # A record may span lines (quoted newlines): it was repaired if any of them was.
        lines = range(first_line, reader.line_num + 1)
        first_line = reader.line_num + 1
        flagged = any(line in repaired for line in lines) if repaired else False
        yield reader.line_num, [*(v if v != "" else None for v in row), flagged]


def _sheet_rows(data: bytes, sheet: str | None) -> Iterator[tuple[int, list[str | None]]]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    names = book.sheet_names
    if sheet is not None and sheet not in names:
        raise FileFormatError(f"no worksheet named {sheet!r} (found: {', '.join(names)})")
    found = book.get_sheet_by_name(sheet or names[0])
    for number, row in enumerate(found.iter_rows(), start=1):
        yield number, [*(cell_text(v) for v in row), False]


def _fixed_width_rows(data: bytes) -> Iterator[tuple[int, list[str | None]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = [n for n in archive.namelist() if n.upper().endswith(".TXT")]
        if len(members) != 1:
            raise FileFormatError(f"expected one .txt file in the zip, found {len(members)}")
        text, _ = to_utf8(archive.read(members[0]))
    for number, line in enumerate(text.decode("utf-8").splitlines(), start=1):
        yield number, [*(line[a - 1:b].strip() or None for _, a, b in D3_COLUMNS), False]


def _source_rows(fmt: str, data: bytes, layout: Layout) -> Iterator[tuple[int, list]]:
    if fmt in ("M15", "D1"):
        return _csv_rows(data)
    if fmt == "D3":
        return _fixed_width_rows(data)
    return _sheet_rows(data, layout.sheet)


def _header_index(header: list[str | None], layout: Layout) -> dict[str, int]:
    positions = {(h or "").strip().lower(): i for i, h in enumerate(header)}
    index, missing = {}, []
    for field, name in layout.fields.items():
        position = positions.get(name.strip().lower())
        if position is None:
            missing.append(name)
        else:
            index[field] = position
    if missing:
        raise FileFormatError(f"missing column(s): {', '.join(missing)}")
    return index


def read_partner_file(fmt: str, data: bytes, feed: MortgageFeed | DeliveryFeed
                      ) -> Iterator[pa.RecordBatch]:
    """Stream a partner file as record batches of strings.

    Args:
        fmt: the FORMATS.md format (M15, M32, D1-D4).
        data: the file's bytes.
        feed: the partner's feed configuration (column map for mortgage files).

    Yields:
        Batches with `row_number`, one column per logical field, `raw` (JSON) and
        `encoding_repaired` (the row held latin-1 bytes, decoded as cp1252).

    Raises:
        FileFormatError: the file cannot be read as its format.
    """
    layout = layout_for(feed)
    rows = _source_rows(fmt, data, layout)
    if layout.header_row is None:
        names = list(D1_COLUMNS) if fmt == "D1" else [c[0] for c in D3_COLUMNS]
        header: list[str | None] = list(names)
    else:
        header = []
        for number, row in rows:
            if number == layout.header_row:
                header = row[:-1]
                break
        if not header:
            raise FileFormatError(f"no header row (expected on row {layout.header_row})")
    index = _header_index(header, layout)
    keys = [(h or f"column_{i + 1}").strip() for i, h in enumerate(header)]
    data_rows = ((n, r) for n, r in rows if not _is_blank(r))
    counted = ((i, n, r) for i, (n, r) in enumerate(data_rows, start=1))
    for chunk in _chunks((i, r) for i, _, r in counted):
        yield _batch(chunk, index, keys)


def _batch(chunk: list[tuple[int, list]], index: dict[str, int], keys: list[str]
           ) -> pa.RecordBatch:
    columns: dict[str, list] = {"row_number": [n for n, _ in chunk]}
    for field, position in index.items():
        columns[field] = [r[position] if position < len(r) - 1 else None for _, r in chunk]
    columns["raw"] = [_raw_json(keys, r[:-1]) for _, r in chunk]
    columns["encoding_repaired"] = [r[-1] for _, r in chunk]
    schema = pa.schema([("row_number", pa.int64()), *((f, pa.string()) for f in index),
                        ("raw", pa.string()), ("encoding_repaired", pa.bool_())])
    return pa.RecordBatch.from_pydict(columns, schema=schema)


def _raw_json(keys: list[str], row: list[str | None]) -> str:
    record = dict(zip(keys, row, strict=False))
    for extra, value in enumerate(row[len(keys):], start=len(keys) + 1):
        record[f"column_{extra}"] = value
    return json.dumps(record, ensure_ascii=False)
