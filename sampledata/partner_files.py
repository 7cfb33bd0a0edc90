"""Files of FORMATS.md: M15 CSV, M32 and D2/D4 xlsx, D1 CSV, D3 zip.

A writer gets whole columns of cell values already chosen (text, numbers, dates; null for
an empty cell) and writes the file; what goes in the cells is decided by `partner_day`.
Columns, not rows, because a day can hold a million pieces: a Python call per cell (as
xlsxwriter's `write_*`) would take minutes, so worksheet XML is built with Arrow string
kernels and only the workbook's other parts come from xlsxwriter. Output is byte-for-byte
reproducible: workbook properties carry a fixed creation time and zip members a fixed
timestamp.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xlsxwriter

from sampledata import formats

SheetColumn = pa.Array | tuple[pa.Array, ...]
"""A sheet column: string cells are text, integer and floating cells numbers, date32 cells
Excel dates, nulls empty; a tuple gives alternatives per row (the first non-null is written),
for a column mixing text and numbers."""

BOM = "\ufeff".encode()
CHUNK_ROWS = 32_768
"""Rows built and written at a time: bounds memory for sheets of a million rows."""
_SHEET_MEMBER = "xl/worksheets/sheet1.xml"
_DATE_STYLE = 1
"""Cell style index of the date format: the template registers it first."""
_EXCEL_EPOCH_OFFSET = 25_569
"""Excel's serial day number of 1970-01-01 (the 1900 date system)."""
_PRESERVE = r"^\s|\s$"
"""Text xlsxwriter marks `xml:space="preserve"` (leading or trailing whitespace)."""


def csv_file(path: Path, header: Sequence[str] | None, columns: Sequence[Sequence[str | None]],
             *, quote_all: bool = False, crlf: bool = False, bom: bool = False,
             latin1_rows: Sequence[int] = ()) -> None:
    """Write a CSV file: UTF-8 except the data rows (0-based) in `latin1_rows`, as a
    mixed-up export writes them; optional byte-order mark and CRLF line ends. None is an
    empty field."""
    ending = "\r\n" if crlf else "\n"
    text = io.StringIO()
    writer = csv.writer(text, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
                        lineterminator=ending)
    rows = list(zip(*columns, strict=True))
    latin1 = sorted(set(latin1_rows))

    def flush(encoding: str) -> None:
        out.write(text.getvalue().encode(encoding))
        text.seek(0)
        text.truncate()

    with path.open("wb") as out:
        if bom:
            out.write(BOM)
        if header is not None:
            writer.writerow(header)
        start = 0
        for stop in [*latin1, len(rows)]:
            for chunk in range(start, stop, CHUNK_ROWS):
                writer.writerows(rows[chunk:min(stop, chunk + CHUNK_ROWS)])
                flush("utf-8")
            if stop < len(rows):
                flush("utf-8")
                writer.writerow(rows[stop])
                flush("latin-1")
            start = stop + 1
        flush("utf-8")


def _template(sheet_name: str, created: datetime) -> bytes:
    """An xlsxwriter workbook whose sheet holds one date cell: every part but the rows."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties({"created": created, "author": "", "company": ""})
    sheet = book.add_worksheet(sheet_name)
    sheet.write_datetime(0, 0, datetime(2000, 1, 1), book.add_format({"num_format": "mm/dd/yyyy"}))
    book.close()
    return buffer.getvalue()


def column_letter(index: int) -> str:
    """The sheet column name of a 0-based index: A, B, ..., Z, AA, AB, ..."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def _escaped(text: pa.Array) -> pa.Array:
    if pc.any(pc.match_substring_regex(text, "[&<>]")).as_py():
        for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
            text = pc.replace_substring(text, char, entity)
    return text


def _cells(values: SheetColumn, letter: str, rows: pa.Array) -> pa.Array:
    """Each row's `<c>` element for this column; null where the cell is empty."""
    if isinstance(values, tuple):
        return pc.coalesce(*(_cells(v, letter, rows) for v in values))
    join = pc.binary_join_element_wise
    ref = f'<c r="{letter}'
    if pa.types.is_string(values.type):
        cell = join(ref, rows, '" t="inlineStr"><is><t>', _escaped(values), "</t></is></c>", "")
        preserve = pc.fill_null(pc.match_substring_regex(values, _PRESERVE), False)
        if pc.any(preserve).as_py():
            kept = join(ref, rows, '" t="inlineStr"><is><t xml:space="preserve">',
                        _escaped(values), "</t></is></c>", "")
            cell = pc.if_else(preserve, kept, cell)
        return cell
    if pa.types.is_date32(values.type):
        serial = pc.add(values.cast(pa.int32()), _EXCEL_EPOCH_OFFSET).cast(pa.string())
        return join(ref, rows, f'" s="{_DATE_STYLE}"><v>', serial, "</v></c>", "")
    return join(ref, rows, '"><v>', values.cast(pa.string()), "</v></c>", "")


def _joined(text: pa.Array) -> memoryview:
    """The concatenation of a null-free string array's values, without a copy per value."""
    _, offsets, data = text.buffers()
    bounds = np.frombuffer(offsets, np.int32, count=len(text) + 1, offset=4 * text.offset)
    return memoryview(data)[int(bounds[0]):int(bounds[-1])]


def _sheet_rows(rows: Sequence[tuple[int, Sequence[SheetColumn]]]) -> Iterator[memoryview]:
    """`<row>` elements, chunk by chunk, of blocks (first 0-based row, columns)."""
    for first, columns in rows:
        count = len(columns[0][0] if isinstance(columns[0], tuple) else columns[0])
        for start in range(0, count, CHUNK_ROWS):
            size = min(CHUNK_ROWS, count - start)
            numbers = pa.array(np.arange(first + start + 1, first + start + size + 1))
            numbers = numbers.cast(pa.string())
            cells = [pc.fill_null(_cells(_slice(column, start, size), column_letter(i), numbers),
                                  "")
                     for i, column in enumerate(columns)]
            yield _joined(pc.binary_join_element_wise('<row r="', numbers, '">', *cells,
                                                      "</row>", ""))


def _slice(column: SheetColumn, start: int, size: int) -> SheetColumn:
    if isinstance(column, tuple):
        return tuple(c.slice(start, size) for c in column)
    return column.slice(start, size)


def xlsx_file(path: Path, sheet_name: str, header: Sequence[str],
              columns: Sequence[SheetColumn], created: datetime,
              title: str | None = None) -> None:
    """Write a one-sheet workbook: an optional title row and a blank row, then header and rows.

    Text cells are inline strings (as xlsxwriter writes them in constant-memory mode), dates
    Excel dates (a number with a date format), numbers numbers.
    """
    first = formats.D4_HEADER_ROW - 1 if title is not None else 0
    count = len(columns[0][0] if isinstance(columns[0], tuple) else columns[0])
    blocks: list[tuple[int, Sequence[SheetColumn]]] = []
    if title is not None:
        blocks.append((0, [pa.array([title], pa.string())]))
    blocks.append((first, [pa.array([h], pa.string()) for h in header]))
    blocks.append((first + 1, columns))
    last = f"{column_letter(len(header) - 1)}{first + 1 + count}"
    template = _template(sheet_name, created)
    with zipfile.ZipFile(io.BytesIO(template)) as source, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename != _SHEET_MEMBER:
                target.writestr(info, data)
                continue
            sheet = data.decode("utf-8")
            if f's="{_DATE_STYLE}"' not in sheet:
                raise RuntimeError("xlsxwriter template: the date style is not style 1")
            head = sheet[:sheet.index("<sheetData>")].replace('<dimension ref="A1"/>',
                                                             f'<dimension ref="A1:{last}"/>')
            tail = sheet[sheet.index("</sheetData>"):]
            with target.open(info.filename, "w") as member:
                member.write((head + "<sheetData>").encode("utf-8"))
                for chunk in _sheet_rows(blocks):
                    member.write(chunk)
                member.write(tail.encode("utf-8"))


def d3_zip(path: Path, day: date, lines: pa.Array, *, crlf: bool = False) -> None:
    """Write the D3 zip: one fixed-width text member named for the day."""
    if len(lines) and pc.any(pc.not_equal(pc.utf8_length(lines), formats.D3_WIDTH)).as_py():
        raise ValueError(f"a D3 line is not {formats.D3_WIDTH} wide")
    ending = "\r\n" if crlf else "\n"
    member = zipfile.ZipInfo(formats.D3_MEMBER.format(day=day),
                             date_time=(day.year, day.month, day.day, 6, 0, 0))
    member.compress_type = zipfile.ZIP_DEFLATED
    member.external_attr = 0o644 << 16
    with zipfile.ZipFile(path, "w") as archive:
        body = _joined(pc.binary_join_element_wise(lines, ending, "")) if len(lines) else b""
        archive.writestr(member, bytes(body), compresslevel=1)


def d3_lines(bars: pa.Array, days: pa.Array, zip5: pa.Array, zip4: pa.Array,
             status: pa.Array) -> pa.Array:
    """D3 records: bars, date, ZIP5, ZIP4 or blanks, status, in their fixed columns.

    Args:
        bars: Up to 65 bar letters (damaged bars may be shorter: padded with blanks).
        days: date32 delivery dates.
        zip5: 5-digit ZIP text.
        zip4: 4-digit ZIP+4 text, null where the record leaves it blank.
        status: `delivered` or `undeliverable`.
    """
    codes = pa.array(list(formats.D3_STATUS.values()), pa.string())
    index = pc.index_in(status, pa.array(list(formats.D3_STATUS), pa.string()))
    return pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(pc.utf8_rpad(bars, 65, " "), 0, 65),
        pc.strftime(days.cast(pa.timestamp("s")), format=formats.D3_DATE),
        zip5, pc.fill_null(zip4, "    "), codes.take(index), "")
