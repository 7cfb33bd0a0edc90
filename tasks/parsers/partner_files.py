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
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice, zip_longest

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
from python_calamine import CalamineWorkbook

from leadpipe.tenant import DeliveryFeed, MortgageFeed
from tasks.parsers.cells import EXACT_LIMIT, cell_text
from tasks.parsers.rawjson import json_objects
from tasks.parsers.text import to_utf8

BATCH_ROWS = 50_000
CHUNK_CELLS = 400_000
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


def _csv_rows(text: bytes, repaired: set[int]) -> Iterator[tuple[int, list[str | None], bool]]:
    # Decoded as it is read: a whole-file str (and StringIO's 4-byte copy of it) would
    # cost several times the file's size.
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(text), encoding="utf-8", newline=""))
    first_line = 1
    for row in reader:
        # A record may span lines (quoted newlines): it was repaired if any of them was.
        flagged = any(line in repaired for line in range(first_line, reader.line_num + 1))
        first_line = reader.line_num + 1
        yield reader.line_num, [v if v != "" else None for v in row], flagged


def _sheet_rows(data: bytes, sheet: str | None) -> Iterator[tuple[int, list, bool]]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    names = book.sheet_names
    if sheet is not None and sheet not in names:
        raise FileFormatError(f"no worksheet named {sheet!r} (found: {', '.join(names)})")
    found = book.get_sheet_by_name(sheet or names[0])
    for number, row in enumerate(found.iter_rows(), start=1):
        yield number, [_cell(v) for v in row], False


def _cell(value: object) -> str | None:
    """`cell_text`, with the common cells (text, whole numbers) answered inline."""
    kind = type(value)
    if kind is str:
        return value or None  # type: ignore[return-value]
    if kind is float and value.is_integer() and abs(value) < EXACT_LIMIT:  # type: ignore[attr-defined]
        return str(int(value))  # type: ignore[call-overload]
    return cell_text(value)


def _fixed_width_chunks(data: bytes) -> Iterator[tuple[list[pa.Array], pa.Array]]:
    """D3 lines cut into their columns with Arrow, a batch of lines at a time."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = [n for n in archive.namelist() if n.upper().endswith(".TXT")]
        if len(members) != 1:
            raise FileFormatError(f"expected one .txt file in the zip, found {len(members)}")
        text, _ = to_utf8(archive.read(members[0]))
    lines = text.decode("utf-8").splitlines()
    del text
    for start in range(0, len(lines), BATCH_ROWS):
        chunk = pa.array(lines[start:start + BATCH_ROWS], pa.string())
        columns = []
        for _, first, last in D3_COLUMNS:
            value = pc.utf8_trim_whitespace(pc.utf8_slice_codeunits(chunk, first - 1, last))
            columns.append(pc.if_else(pc.equal(value, ""), pa.scalar(None, pa.string()), value))
        yield columns, pa.array([False] * len(chunk), pa.bool_())


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


def _keys(header: list[str | None], width: int) -> list[str]:
    """JSON keys of the source columns: the header, then `column_N` for extra fields."""
    named = [(h or f"column_{i + 1}").strip() for i, h in enumerate(header)]
    return named + [f"column_{i + 1}" for i in range(len(named), width)]


def _row_chunks(rows: Iterator[tuple[int, list, bool]], size: int = BATCH_ROWS
                ) -> Iterator[tuple[list[pa.Array], pa.Array]]:
    """Python rows to column chunks (short rows padded with nulls) and repair flags."""
    while True:
        chunk = list(islice(rows, size))
        if not chunk:
            return
        columns = zip_longest(*(row for _, row, _ in chunk))
        arrays = [pa.array(column, pa.string()) for column in columns]
        yield arrays, pa.array([flag for _, _, flag in chunk], pa.bool_())


def _arrow_csv_chunks(text: bytes, width: int, skip_rows: int
                      ) -> Iterator[tuple[list[pa.Array], pa.Array]]:
    """A well-formed UTF-8 CSV (header already known) read by Arrow's CSV reader."""
    names = [f"c{i}" for i in range(width)]
    reader = pcsv.open_csv(
        io.BytesIO(text),
        read_options=pcsv.ReadOptions(column_names=names, skip_rows=skip_rows,
                                      block_size=1 << 22),
        convert_options=pcsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), null_values=[""],
            strings_can_be_null=True, quoted_strings_can_be_null=True),
    )
    for batch in reader:
        yield list(batch.columns), pa.array([False] * batch.num_rows, pa.bool_())


def _chunks_and_header(fmt: str, data: bytes, layout: Layout
                       ) -> tuple[list[str | None], Iterator[tuple[list[pa.Array], pa.Array]]]:
    """The header and the file's rows as column chunks, for every format."""
    if fmt == "D3":
        return [c[0] for c in D3_COLUMNS], _fixed_width_chunks(data)
    if fmt in ("M15", "D1"):
        text, repaired = to_utf8(data)
        rows = _csv_rows(text, set(repaired))
    else:
        rows = _sheet_rows(data, layout.sheet)
    if layout.header_row is None:
        header: list[str | None] = list(D1_COLUMNS)
    else:
        header = next((row for number, row, _ in rows if number == layout.header_row), [])
        if not header:
            raise FileFormatError(f"no header row (expected on row {layout.header_row})")
    if fmt in ("M15", "D1") and not repaired:
        return header, _fast_csv(text, header, rows, skip_rows=layout.header_row or 0)
    # Rows read by Python are Python objects until their chunk is built: a wide sheet
    # takes fewer rows a chunk, so memory follows the cells held, not the file.
    size = min(BATCH_ROWS, max(1, CHUNK_CELLS // max(len(header), 1)))
    return header, _row_chunks(rows, size)


def _fast_csv(text: bytes, header: list[str | None], rows: Iterator, skip_rows: int
              ) -> Iterator[tuple[list[pa.Array], pa.Array]]:
    """Arrow's reader while the file allows it, streamed; then the csv module's rows.

    Arrow fails on the block holding a ragged row (more or fewer fields than the
    header); the rows it already gave are skipped in the csv module's reading,
    which goes on from there. Both skip nothing but empty lines.
    """
    given = 0
    try:
        for arrays, flags in _arrow_csv_chunks(text, len(header), skip_rows):
            given += len(flags)
            yield arrays, flags
    except pa.ArrowInvalid:
        pass
    else:
        return
    rest = ((number, row, flag) for number, row, flag in rows if row)
    for _ in islice(rest, given):
        pass
    yield from _row_chunks(rest)


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
    header, chunks = _chunks_and_header(fmt, data, layout)
    index = _header_index(header, layout)
    numbered = 0
    for arrays, repaired in chunks:
        keys = _keys(header, len(arrays))
        blank = pa.array([True] * len(repaired), pa.bool_())
        for values in arrays:
            empty = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(values), ""), True)
            blank = pc.and_(blank, empty)
        keep = pc.invert(blank)
        arrays = [a.filter(keep) for a in arrays]
        count = len(arrays[0]) if arrays else 0
        if count == 0:
            continue
        columns = {"row_number": pa.array(range(numbered + 1, numbered + count + 1), pa.int64())}
        numbered += count
        for field, position in index.items():
            columns[field] = (arrays[position] if position < len(arrays)
                              else pa.nulls(count, pa.string()))
        columns["raw"] = json_objects(dict(zip(keys, arrays, strict=True)),
                                      optional=frozenset(keys[len(header):]))
        columns["encoding_repaired"] = repaired.filter(keep)
        yield pa.RecordBatch.from_pydict(columns)
