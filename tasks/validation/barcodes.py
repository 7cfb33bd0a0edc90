"""Barcodes of any form to the canonical tracking code, with routing and repairs.

Bars may be repaired (exactly one single-bar substitution passes the CRC); a
repaired row loads with a warning, never silently. A 20- or 31-digit code that
a spreadsheet turned into a number has lost digits and is rejected as such.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

import imb
from tasks.hygiene.distinct import map_distinct

_RESULT = pa.struct([("tracking", pa.string()), ("routing", pa.string()),
                     ("repaired_position", pa.int32()), ("reason", pa.string()),
                     ("message", pa.string())])
EXCEL_NUMBER = r"^[0-9]+(\.[0-9]+)?[eE][+-]?[0-9]+$"


def _one(value: str) -> dict[str, object]:
    try:
        code = imb.parse(value, repair=True)
    except imb.ImbError as exc:
        return {"tracking": None, "routing": None, "repaired_position": None,
                "reason": exc.reason, "message": str(exc)}
    return {"tracking": code.tracking, "routing": code.routing or None,
            "repaired_position": code.repaired_position, "reason": None, "message": None}


def decode_barcodes(values: pa.Array) -> pa.Table:
    """Decode a column of barcodes.

    Returns:
        A table with `tracking`, `routing`, `repaired_position`, `reason` (an
        ImbError reason, `excel_number`, or null when it decoded) and `message`.
    """
    excel = pc.fill_null(pc.match_substring_regex(values, EXCEL_NUMBER), False)
    decoded = pa.Table.from_struct_array(
        map_distinct(pc.if_else(excel, pa.scalar(None, pa.string()), values), _one, _RESULT)
    )
    reason = pc.if_else(excel, pa.scalar("excel_number"), decoded.column("reason"))
    message = pc.if_else(
        excel, pa.scalar("the code was stored as a number and lost digits"),
        decoded.column("message"),
    )
    return decoded.set_column(3, "reason", reason).set_column(4, "message", message)
