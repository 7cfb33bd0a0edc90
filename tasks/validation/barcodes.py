"""Barcodes of any form to the canonical tracking code, with routing and repairs.

Valid digit forms (most delivery rows) are split with Arrow; bars and anything
invalid go through the codec. Bars may be repaired (exactly one single-bar
substitution passes the CRC); a repaired row loads with a warning, never
silently. A 20- or 31-digit code that a spreadsheet turned into a number has
lost digits and is rejected as such.
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
# A valid digit form exactly (imb.batch's fast path): tracking code, then a 0-, 5-, 9- or
# 11-digit routing code. Such a value needs no decoding: its first 20 characters are the
# code and the rest the routing, as imb.parse returns them.
DIGIT_FORM = r"^[0-9][0-4][0-9]{18}(?:[0-9]{5}|[0-9]{9}|[0-9]{11})?$"
_NULL = pa.scalar(None, pa.string())


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
    digits = pc.fill_null(pc.match_substring_regex(values, DIGIT_FORM), False)
    # Only bars and invalid values go through the scalar decoder (once per distinct value).
    decoded = pa.Table.from_struct_array(
        map_distinct(pc.if_else(pc.or_(excel, digits), _NULL, values), _one, _RESULT)
    ).combine_chunks()
    routing = pc.utf8_slice_codeunits(values, 20, 31)
    routing = pc.if_else(pc.equal(routing, ""), _NULL, routing)
    reason = pc.if_else(excel, pa.scalar("excel_number"), decoded.column("reason"))
    message = pc.if_else(
        excel, pa.scalar("the code was stored as a number and lost digits"),
        decoded.column("message"),
    )
    return pa.table({
        "tracking": pc.if_else(digits, pc.utf8_slice_codeunits(values, 0, 20),
                               decoded.column("tracking")),
        "routing": pc.if_else(digits, routing, decoded.column("routing")),
        "repaired_position": decoded.column("repaired_position"),
        "reason": reason,
        "message": message,
    })
