"""Date columns from text: a strftime format, or an Excel serial number."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

# Excel's day 0 is 1899-12-30, 25569 days before 1970-01-01.
_EXCEL_EPOCH_OFFSET = 25569
_SERIAL = r"^[0-9]{4,6}(\.[0-9]+)?$"


def parse_dates(values: pa.Array, fmt: str) -> pa.Array:
    """Parse text dates with `fmt`; Excel serial numbers are accepted too. Bad ones are null."""
    text = pc.utf8_trim_whitespace(values)
    parsed = pc.cast(pc.strptime(text, format=fmt, unit="s", error_is_null=True), pa.date32())
    serial = pc.fill_null(pc.match_substring_regex(text, _SERIAL), False)
    days = pc.subtract(pc.floor(pc.cast(pc.if_else(serial, text, None), pa.float64())),
                       _EXCEL_EPOCH_OFFSET)
    from_serial = pc.cast(pc.cast(days, pa.int32()), pa.date32())
    return pc.if_else(serial, from_serial, parsed)
