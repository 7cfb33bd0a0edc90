"""Phone numbers to E.164 with phonenumbers (libphonenumber's metadata).

The type is recorded only where the numbering plan says it (toll-free,
premium, VoIP ranges); a US number may be mobile or landline and is `unknown`,
never guessed. NANP-shaped strings (the bulk of the data) take a vectorized
path that applies libphonenumber's own metadata patterns (the same region
choice and type order as `is_valid_number` and `number_type`) with Arrow's
regular expressions; everything else is parsed by phonenumbers once per
distinct raw value.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import PhoneNumberType
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

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


@lru_cache(maxsize=1 << 18)
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


# The type checks of libphonenumber's `_number_type_helper`, in its order.
_TYPE_ORDER = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE), ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST), ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER), ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN), ("voicemail", PhoneNumberType.VOICEMAIL),
    ("fixed_line", PhoneNumberType.FIXED_LINE), ("mobile", PhoneNumberType.MOBILE),
)


def _matches(numbers: pa.Array, desc: object) -> pa.Array:
    """libphonenumber's `_is_number_matching_desc` over an array of national numbers."""
    pattern = getattr(desc, "national_number_pattern", None)
    lengths = getattr(desc, "possible_length", None) or ()
    if desc is None or pattern is None or (lengths and 10 not in lengths):
        return pa.array([False] * len(numbers), pa.bool_())
    return pc.fill_null(pc.match_substring_regex(numbers, f"^(?:{pattern})$"), False)


def _type_names(numbers: pa.Array, region: str) -> tuple[pa.Array, pa.Array]:
    """Whether each 10-digit national number is valid in a region, and its leading_type."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    valid = _matches(numbers, metadata.general_desc)
    kind = pa.nulls(len(numbers), pa.string())
    decided = pc.invert(valid)
    for attr, number_type in _TYPE_ORDER:
        hit = pc.and_(pc.invert(decided), _matches(numbers, getattr(metadata, attr)))
        kind = pc.if_else(hit, KNOWN_TYPES.get(number_type, "unknown"), kind)
        decided = pc.or_(decided, hit)
    return pc.is_valid(kind), kind


def _nanp_numbers(national: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Validity and type of 10-digit NANP numbers, exactly as phonenumbers decides them.

    Country code 1 is shared by 25 regions; like `region_code_for_number`, the
    first region whose leading digits (or, without those, whose patterns) fit
    the number decides it. The patterns are RE2-compatible and run vectorized.
    """
    valid = pa.array([False] * len(national), pa.bool_())
    kind = pa.nulls(len(national), pa.string())
    open_ = pc.is_valid(national)
    for region in COUNTRY_CODE_TO_REGION_CODE[1]:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        in_region, region_kind = _type_names(national, region)
        if metadata.leading_digits:
            claims = pc.fill_null(
                pc.match_substring_regex(national, f"^(?:{metadata.leading_digits})"), False)
        else:
            claims = in_region
        claims = pc.and_(open_, claims)
        valid = pc.if_else(claims, in_region, valid)
        kind = pc.if_else(claims, region_kind, kind)
        open_ = pc.and_(open_, pc.invert(claims))
        if not pc.any(open_).as_py():
            break
    return valid, kind


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

    slow_input = pc.if_else(nanp, pa.scalar(None, pa.string()), text)
    slow = map_distinct(slow_input, lambda v: parse_one(v, region), _RESULT)

    encoded = pc.dictionary_encode(pc.if_else(nanp, national, pa.scalar(None, pa.string())))
    valid, kind = _nanp_numbers(encoded.dictionary)
    fast_valid = pc.fill_null(pc.take(valid, encoded.indices), False)
    fast_e164 = pc.if_else(fast_valid, pc.binary_join_element_wise("+1", national, ""), None)
    fast_type = pc.if_else(fast_valid, pc.take(kind, encoded.indices), None)
    fast_error = pc.if_else(fast_valid, pa.scalar(None, pa.string()), "invalid_phone")

    return pa.table({
        "e164": pc.if_else(nanp, fast_e164, pc.struct_field(slow, "e164")),
        "phone_type": pc.if_else(nanp, fast_type, pc.struct_field(slow, "phone_type")),
        "error": pc.if_else(nanp, fast_error, pc.struct_field(slow, "error")),
    })
