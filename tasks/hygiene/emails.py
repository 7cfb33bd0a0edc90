"""Email addresses: trimmed, lower-cased and syntax-checked (no DNS).

The check is a vectorized regular expression of the addr-spec that mail
systems accept in practice (RFC 5321 dot-atom local part, a dotted domain with
a 2+ letter TLD), chosen over a per-value library because it runs at Arrow
speed over 84M rows.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from tasks.hygiene.distinct import as_array

_LOCAL = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
EMAIL_RE = rf"^{_LOCAL}@(?:{_LABEL}\.)+[a-z]{{2,63}}$"


def clean_emails(raw: pa.Array | pa.ChunkedArray | list[str | None]) -> pa.Table:
    """Normalize emails.

    Args:
        raw: raw email strings (null or blank for none).

    Returns:
        A table with `email` (lower-cased, null when blank or invalid) and `error`
        (`invalid_email` where a non-blank value fails the syntax check).
    """
    trimmed = pc.utf8_lower(pc.utf8_trim_whitespace(as_array(raw)))
    blank = pc.fill_null(pc.equal(trimmed, ""), True)
    shaped = pc.match_substring_regex(trimmed, EMAIL_RE)
    valid = pc.fill_null(pc.and_(shaped, pc.less_equal(pc.utf8_length(trimmed), 254)), False)
    email = pc.if_else(valid, trimmed, pa.scalar(None, pa.string()))
    error = pc.if_else(
        pc.or_(blank, valid), pa.scalar(None, pa.string()), pa.scalar("invalid_email")
    )
    return pa.table({"email": email, "error": error})
