"""Canonicalise a column of barcodes at ingestion speed.

Digit forms are the bulk of partner data and need no arithmetic, only a shape check, so a
pyarrow regex pass validates them and a substring takes their tracking code. Everything
else (bars, values with surrounding whitespace, invalid rows) goes through the scalar
:func:`imb.forms.split_fields`, memoised per call because files repeat barcodes, so codes
and error reasons are identical to the scalar API's by construction.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from imb.errors import ImbError
from imb.forms import split_fields

REPAIRED = "repaired"
"""Reason reported for a row whose bars were repaired (its code is not null)."""

_DIGIT_FORM = r"^[0-9][0-4][0-9]{18}(?:[0-9]{5}|[0-9]{9}|[0-9]{11})?$"
"""A valid digit form exactly, with nothing around it: its first 20 characters are the
code. Rows with surrounding whitespace, bars and invalid rows take the scalar path."""

StringInput = pa.Array | pa.ChunkedArray | Sequence[str | None]


def _encodable(value: str | None) -> str | None:
    """``value``, or U+FFFD if it holds lone surrogates that Arrow (UTF-8) cannot store.

    Such a str is still a bad barcode, not a reason to fail the whole column: U+FFFD gets
    the ``characters`` reason like any other stray symbol.
    """
    if value is None:
        return None
    try:
        value.encode()
    except UnicodeEncodeError:
        return "\ufffd"
    return value


def _as_string_array(values: StringInput) -> pa.StringArray:
    """Bring any accepted input to one contiguous ``pa.string()`` array."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], type=values.type)
    elif not isinstance(values, pa.Array):
        try:
            values = pa.array(values, type=pa.string())
        except UnicodeEncodeError:
            values = pa.array([_encodable(value) for value in values], type=pa.string())
    if values.type != pa.string():
        if not (
            pa.types.is_string(values.type)
            or pa.types.is_large_string(values.type)
            or pa.types.is_string_view(values.type)
            or pa.types.is_null(values.type)
        ):
            raise TypeError(f"expected strings, got an array of {values.type}")
        values = values.cast(pa.string())
    return values


def canonical_array(
    values: StringInput, repair: bool = False
) -> tuple[pa.StringArray, pa.StringArray]:
    """Canonical 20-digit tracking codes for a column of barcodes in any accepted form.

    Args:
        values: Strings in any form :func:`imb.canonical` accepts; nulls allowed.
        repair: Also repair bars with a single damaged bar. Such rows get their code and
            the reason ``"repaired"`` (not an error: the code is usable, the reason flags it
            for review). Without it, damaged bars are errors like any other.

    Returns:
        ``(codes, reasons)``, both ``pa.string()`` and as long as ``values``. For each row
        exactly one of three holds: valid (code set, reason null), invalid (code null,
        reason one of :data:`imb.errors.REASONS`), or null input (both null). With
        ``repair=True`` a fourth: repaired (code set, reason ``"repaired"``).

    Raises:
        TypeError: ``values`` is not strings.
    """
    array = _as_string_array(values)
    is_fast = pc.match_substring_regex(array, _DIGIT_FORM)
    fast = pc.if_else(is_fast, pc.utf8_slice_codeunits(array, 0, 20), None)
    slow_mask = pc.and_not(pc.is_valid(array), pc.fill_null(is_fast, False))
    slow_values = array.filter(slow_mask).to_pylist()
    if not slow_values:
        return fast, pa.nulls(len(array), pa.string())
    codes: list[str | None] = []
    reasons: list[str | None] = []
    seen: dict[str, tuple[str | None, str | None]] = {}
    for value in slow_values:
        result = seen.get(value)
        if result is None:
            try:
                tracking, _, position = split_fields(value, repair)
            except ImbError as error:
                result = (None, error.reason)
            else:
                result = (tracking, None if position is None else REPAIRED)
            seen[value] = result
        codes.append(result[0])
        reasons.append(result[1])
    return (
        pc.replace_with_mask(fast, slow_mask, pa.array(codes, pa.string())),
        pc.replace_with_mask(
            pa.nulls(len(array), pa.string()), slow_mask, pa.array(reasons, pa.string())
        ),
    )
