"""Phone numbers to E.164 with phonenumbers (libphonenumber's metadata).

The type is recorded only where the numbering plan says it (toll-free,
premium, VoIP ranges); a US number may be mobile or landline and is `unknown`,
never guessed. NANP-shaped strings (the bulk of the data) take a vectorized
path: validity and type are decided by phonenumbers once per 6-digit NPA-NXX
prefix, which is all libphonenumber's NANP patterns look at. Everything else
is parsed by phonenumbers once per distinct raw value.
"""

from __future__ import annotations

from functools import cache

import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import PhoneNumberType

from tasks.hygiene.distinct import as_array, map_distinct

KNOWN_TYPES = {
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium",
    PhoneNumberType.VOIP: "voip",
}
# (555) 123-4567, 555.123.4567, +1 555 123 4567, 1-555-123-4567, 5551234567 ...
_NANP_SHAPE = r"^(?:\+?1[ .-]?)?(?:\([0-9]{3}\)|[0-9]{3})[ .-]?[0-9]{3}[ .-]?[0-9]{4}$"
_RESULT = pa.struct([("e164", pa.string()), ("phone_type", pa.string()), ("error", pa.string())])


def _classify(number: phonenumbers.PhoneNumber) -> dict[str, str | None]:
    if not phonenumbers.is_valid_number(number):
        return {"e164": None, "phone_type": None, "error": "invalid_phone"}
    return {
        "e164": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        "phone_type": KNOWN_TYPES.get(phonenumbers.number_type(number), "unknown"),
        "error": None,
    }


def parse_one(raw: str, region: str = "US") -> dict[str, str | None]:
    """The library path for one raw value (blank gives no phone and no error)."""
    if not raw.strip():
        return {"e164": None, "phone_type": None, "error": None}
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return {"e164": None, "phone_type": None, "error": "invalid_phone"}
    if number.extension:
        number.extension = None
    return _classify(number)


@cache
def _nanp_prefix(prefix6: str) -> tuple[bool, str]:
    """Whether numbers under an NPA-NXX are valid, and their type."""
    result = parse_one(f"+1{prefix6}4567")
    return result["error"] is None, result["phone_type"] or "unknown"


def clean_phones(
    raw: pa.Array | pa.ChunkedArray | list[str | None], region: str = "US"
) -> pa.Table:
    """Normalize phone numbers.

    Args:
        raw: raw phone strings in any format; null or blank for none.
        region: the region assumed for numbers without a country code.

    Returns:
        A table with `e164`, `phone_type` and `error` (`invalid_phone` for a
        non-blank value that is not a valid number).
    """
    text = pc.utf8_trim_whitespace(as_array(raw))
    nanp = pc.fill_null(pc.match_substring_regex(text, _NANP_SHAPE), False)
    if region != "US":
        nanp = pc.and_(nanp, False)
    digits = pc.replace_substring_regex(text, r"[^0-9]", "")
    national = pc.utf8_slice_codeunits(digits, -10)
    prefix = pc.utf8_slice_codeunits(national, 0, 6)

    slow_input = pc.if_else(nanp, pa.scalar(None, pa.string()), text)
    slow = map_distinct(slow_input, lambda v: parse_one(v, region), _RESULT)

    fast_input = pc.if_else(nanp, prefix, pa.scalar(None, pa.string()))
    verdict = map_distinct(
        fast_input,
        lambda p: dict(zip(("valid", "phone_type"), _nanp_prefix(p), strict=True)),
        pa.struct([("valid", pa.bool_()), ("phone_type", pa.string())]),
    )
    fast_valid = pc.fill_null(pc.struct_field(verdict, "valid"), False)
    fast_e164 = pc.if_else(fast_valid, pc.binary_join_element_wise("+1", national, ""), None)
    fast_type = pc.if_else(fast_valid, pc.struct_field(verdict, "phone_type"), None)
    fast_error = pc.if_else(fast_valid, pa.scalar(None, pa.string()), "invalid_phone")

    return pa.table({
        "e164": pc.if_else(nanp, fast_e164, pc.struct_field(slow, "e164")),
        "phone_type": pc.if_else(nanp, fast_type, pc.struct_field(slow, "phone_type")),
        "error": pc.if_else(nanp, fast_error, pc.struct_field(slow, "error")),
    })
