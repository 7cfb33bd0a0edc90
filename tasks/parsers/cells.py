"""Spreadsheet cells to text, so every reader hands on strings.

Numbers that are whole and exact come back as digits (a ZIP typed as 2134
becomes "2134"); numbers too large to be exact in a double keep their float
form ("2.70271828e+19"), which the barcode check recognises as a code that
lost its digits in Excel. Date cells become ISO dates.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

EXACT_LIMIT = 10**15


def cell_text(value: object) -> str | None:
    """The text of one cell; None for an empty cell."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < EXACT_LIMIT:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)
