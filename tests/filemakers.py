"""Small hand-made partner files for tests that need exact, readable inputs."""

from __future__ import annotations

import io
from datetime import datetime

import xlsxwriter


def xlsx_bytes(sheet: str, rows: list[list]) -> bytes:
    """A one-sheet workbook; datetimes are written as date cells, None as empty."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    ws = book.add_worksheet(sheet)
    dates = book.add_format({"num_format": "yyyy-mm-dd"})
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, datetime):
                ws.write_datetime(r, c, value, dates)
            elif value is not None:
                ws.write(r, c, value)
    book.close()
    return buffer.getvalue()
