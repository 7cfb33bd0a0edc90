"""Bytes of the partner files of FORMATS.md: M15 CSV, M32 and D2/D4 xlsx, D1 CSV, D3 zip.

A writer gets the rows as cell values already chosen (text, numbers, dates, or None for an
empty cell) and returns the file's bytes; what goes in the cells is decided by
`partner_day`. Output is byte-for-byte reproducible: workbook properties carry a fixed
creation time and zip members a fixed timestamp.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from datetime import date, datetime

import xlsxwriter

from sampledata import formats

Cell = str | int | float | date | None

BOM = "\ufeff".encode()


def csv_file(header: Sequence[str] | None, rows: Sequence[Sequence[Cell]], *,
             quote_all: bool = False, crlf: bool = False, bom: bool = False,
             latin1_rows: frozenset[int] = frozenset()) -> bytes:
    """A CSV file: UTF-8 except the data rows (0-based) in `latin1_rows`, as a mixed-up
    export writes them; optional byte-order mark and CRLF line ends."""
    ending = "\r\n" if crlf else "\n"
    quoting = csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    out = bytearray(BOM if bom else b"")
    lines = ([header] if header is not None else []) + list(rows)
    offset = 1 if header is not None else 0
    for number, line in enumerate(lines):
        text = io.StringIO()
        csv.writer(text, quoting=quoting, lineterminator=ending).writerow(
            ["" if value is None else value for value in line])
        latin1 = number - offset in latin1_rows
        out += text.getvalue().encode("latin-1" if latin1 else "utf-8")
    return bytes(out)


def _workbook(created: datetime) -> tuple[io.BytesIO, xlsxwriter.Workbook]:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties({"created": created, "author": "", "company": ""})
    return buffer, book


def _write_row(sheet: object, book: xlsxwriter.Workbook, row: int,
               values: Sequence[Cell], date_format: object) -> None:
    for column, value in enumerate(values):
        if value is None:
            continue
        if isinstance(value, date):
            moment = datetime(value.year, value.month, value.day)
            sheet.write_datetime(row, column, moment, date_format)  # type: ignore[attr-defined]
        elif isinstance(value, int | float):
            sheet.write_number(row, column, value)  # type: ignore[attr-defined]
        else:
            sheet.write_string(row, column, value)  # type: ignore[attr-defined]


def xlsx_file(sheet_name: str, header: Sequence[str], rows: Sequence[Sequence[Cell]],
              created: datetime, title: str | None = None) -> bytes:
    """A one-sheet workbook: an optional title row and a blank row, then header and rows.

    Dates become Excel dates (a number with a date format), numbers numbers, text text.
    """
    buffer, book = _workbook(created)
    sheet = book.add_worksheet(sheet_name)
    date_format = book.add_format({"num_format": "mm/dd/yyyy"})
    first = 0
    if title is not None:
        sheet.write_string(0, 0, title)
        first = formats.D4_HEADER_ROW - 1
    _write_row(sheet, book, first, header, date_format)
    for index, values in enumerate(rows, start=first + 1):
        _write_row(sheet, book, index, values, date_format)
    book.close()
    return buffer.getvalue()


def d3_zip(day: date, lines: Sequence[str], *, crlf: bool = False) -> bytes:
    """The D3 zip: one fixed-width text member named for the day."""
    ending = "\r\n" if crlf else "\n"
    for line in lines:
        if len(line) != formats.D3_WIDTH:
            raise ValueError(f"D3 line is {len(line)} wide, not {formats.D3_WIDTH}: {line!r}")
    member = zipfile.ZipInfo(formats.D3_MEMBER.format(day=day),
                             date_time=(day.year, day.month, day.day, 6, 0, 0))
    member.compress_type = zipfile.ZIP_DEFLATED
    member.external_attr = 0o644 << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, "".join(line + ending for line in lines).encode("ascii"))
    return buffer.getvalue()


def d3_line(bars: str, day: date, zip5: str, zip4: str | None, status: str) -> str:
    """One D3 record: bars, date, ZIP5, ZIP4 or blanks, status, in their fixed columns."""
    return (f"{bars:<65.65}{day.strftime(formats.D3_DATE)}{zip5:<5.5}"
            f"{(zip4 or ''):<4.4}{formats.D3_STATUS[status]}")
