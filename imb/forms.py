"""Accept a barcode in any of the forms partners send: bars, or tracking (+ routing) digits.

Partner files carry the same barcode as 65 bar letters (scanner output), as the 20-digit
tracking code, or as the 25/29/31-digit tracking-plus-routing string. Ingestion keys on the
tracking code, so :func:`canonical` reduces every form to it with the same validation the
encoder applies; :func:`parse` keeps the routing code too.
"""

from __future__ import annotations

from imb.codec import (
    Barcode,
    TrackingCode,
    decode_fields,
    validate_routing,
    validate_tracking,
)
from imb.errors import ImbError, show

DIGIT_FORM_LENGTHS = (20, 25, 29, 31)
"""Tracking alone, or followed by a 5-, 9- or 11-digit routing code."""
_BAR_LETTERS = "ADFTadft"
_DIGITS = "0123456789"


def _describe_bad_symbol(value: str) -> str:
    """Name the first symbol that is neither a digit nor a bar letter."""
    for index, symbol in enumerate(value):
        if symbol not in _DIGITS and symbol not in _BAR_LETTERS:
            return f"{symbol!r} at index {index}"
    return f"a mix of digits and bar letters in {show(value)}"


def split_fields(value: str, repair: bool = False) -> tuple[TrackingCode, str, int | None]:
    """Validate ``value`` in any accepted form and return its fields.

    The form is chosen by content, not length, so a wrong-length value still gets a precise
    error: all ASCII digits means the digit form, all bar letters means bars, anything else
    is a ``characters`` error naming the first stray symbol.

    Args:
        value: Bars (65 letters ``ADFT``, any case) or 20/25/29/31 ASCII digits; surrounding
            whitespace is ignored.
        repair: Passed to the bar decoder (ignored for digit forms, which carry no
            redundancy to repair from).

    Returns:
        ``(tracking, routing, repaired_position)``.

    Raises:
        ImbError: Any validation or decoding failure.
        TypeError: ``value`` is not a str.
    """
    if not isinstance(value, str):
        raise TypeError(f"expected str, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise ImbError("length", "empty value: expected bars or 20/25/29/31 digits")
    if text.isascii() and text.isdigit():
        if len(text) not in DIGIT_FORM_LENGTHS:
            raise ImbError(
                "length",
                f"expected 20, 25, 29 or 31 digits (tracking + routing), got {len(text)}:"
                f" {show(text)}",
            )
        tracking, routing = text[:20], text[20:]
        validate_tracking(tracking)
        validate_routing(routing)
        return tracking, routing, None
    if not text.strip(_BAR_LETTERS):
        return decode_fields(text.upper(), repair)
    raise ImbError(
        "characters",
        f"expected bar letters ADFT or ASCII digits; found {_describe_bad_symbol(text)}",
    )


def canonical(value: str, repair: bool = False) -> TrackingCode:
    """The 20-digit tracking code of a barcode given in any accepted form.

    Args:
        value: See :func:`split_fields`.
        repair: Allow a single damaged bar to be repaired (bars form only).

    Returns:
        The tracking code, the key that identifies a mail piece across forms.

    Raises:
        ImbError: The value is not a valid barcode in any form.
    """
    return split_fields(value, repair)[0]


def parse(value: str, repair: bool = False) -> Barcode:
    """Parse a barcode given in any accepted form.

    Args:
        value: See :func:`split_fields`.
        repair: Allow a single damaged bar to be repaired (bars form only).

    Returns:
        The barcode; ``routing`` is empty when the form carries none (the 20-digit form).

    Raises:
        ImbError: The value is not a valid barcode in any form.
    """
    tracking, routing, position = split_fields(value, repair)
    return Barcode(tracking, routing, position)
