"""ZIP codes: 5 digits, 9 digits or `12345-6789`; leading zeros that a
spreadsheet dropped are restored (`2134` is `02134`, FORMATS.md section 3)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from tasks.hygiene.distinct import as_array

# 3-5 digits (lost zeros), or ZIP+4 with or without a dash, or 7-9 digits (ZIP+4 lost zeros).
_ZIP5 = r"^[0-9]{3,5}$"
_ZIP9 = r"^[0-9]{7,9}$"
_ZIP_DASH = r"^([0-9]{3,5})-([0-9]{4})$"


def clean_zips(raw: pa.Array | pa.ChunkedArray | list[str | None]) -> pa.Table:
    """Split ZIPs into `zip5` and `zip4`.

    Returns:
        A table with `zip5`, `zip4` (null when absent) and `error` (`invalid_zip`
        for a non-blank value of any other shape; `missing_zip` when blank).
    """
    text = pc.utf8_trim_whitespace(as_array(raw))
    # Excel hands numbers back as "2134.0".
    text = pc.replace_substring_regex(text, r"^([0-9]+)\.0+$", r"\1")
    is5 = pc.fill_null(pc.match_substring_regex(text, _ZIP5), False)
    is9 = pc.fill_null(pc.match_substring_regex(text, _ZIP9), False)
    dashed = pc.fill_null(pc.match_substring_regex(text, _ZIP_DASH), False)

    digits = pc.replace_substring(text, "-", "")
    plus4_len = pc.if_else(dashed, 4, pc.if_else(is9, 4, 0))
    head = pc.utf8_slice_codeunits(digits, 0, -4)
    zip5_src = pc.if_else(is5, text, pc.if_else(pc.or_(is9, dashed), head, None))
    zip5 = pc.utf8_lpad(zip5_src, 5, "0")
    tail = pc.utf8_slice_codeunits(digits, -4)
    zip4 = pc.if_else(pc.greater(plus4_len, 0), tail, pa.scalar(None, pa.string()))

    blank = pc.fill_null(pc.equal(text, ""), True)
    ok = pc.or_(pc.or_(is5, is9), dashed)
    error = pc.if_else(
        blank, pa.scalar("missing_zip"), pc.if_else(ok, pa.scalar(None, pa.string()), "invalid_zip")
    )
    return pa.table({"zip5": zip5, "zip4": zip4, "error": error})
