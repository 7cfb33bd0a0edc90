"""Street addresses normalized to USPS Publication 28 with usaddress-scourgify.

The tagger fails on some real addresses (PO boxes with noise, unit-only
lines); those fall back to a conservative clean-up (upper case, single spaces,
no punctuation but `#`, `/` and `-`) and are flagged `unparsed_address`, never
dropped. The raw value is always kept by the caller. scourgify runs once per
distinct (street, street2, city, state, zip) tuple.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc
from scourgify import normalize_address_record
from scourgify.exceptions import AddressNormalizationError

from tasks.hygiene.distinct import as_array, map_distinct

FIELDS = ("street", "street2", "city", "state")
_RESULT = pa.struct([*((f, pa.string()) for f in FIELDS), ("error", pa.string())])
_SEP = "\x1f"


def _fallback(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = re.sub(r"[^A-Z0-9#/\- ]", " ", value.upper())
    return re.sub(r" +", " ", cleaned).strip() or None


def normalize_one(packed: str) -> dict[str, str | None]:
    """The library path for one address, packed as street, street2, city, state, zip."""
    street, street2, city, state, zip5 = (p or None for p in packed.split(_SEP))
    if street is None:
        return {"street": None, "street2": None, "city": _fallback(city),
                "state": _fallback(state), "error": "missing_street"}
    record = {"address_line_1": street, "address_line_2": street2, "city": city or "",
              "state": state or "", "postal_code": zip5 or ""}
    try:
        out = normalize_address_record(record)
    except (AddressNormalizationError, ValueError, TypeError, KeyError):
        return {"street": _fallback(street), "street2": _fallback(street2),
                "city": _fallback(city), "state": _fallback(state), "error": "unparsed_address"}
    return {"street": out["address_line_1"], "street2": out["address_line_2"],
            "city": out["city"] or _fallback(city), "state": out["state"] or _fallback(state),
            "error": None}


def normalize_addresses(
    street: pa.Array, street2: pa.Array, city: pa.Array, state: pa.Array, zip5: pa.Array
) -> pa.Table:
    """Normalize address parts to Publication 28 abbreviations and upper case.

    Returns:
        A table with `street`, `street2`, `city`, `state` and `error`
        (`missing_street`, or `unparsed_address` when the fallback was used).
    """
    parts = [pc.fill_null(as_array(a), "") for a in (street, street2, city, state, zip5)]
    packed = pc.binary_join_element_wise(*parts, _SEP)
    return pa.Table.from_struct_array(map_distinct(packed, normalize_one, _RESULT))
