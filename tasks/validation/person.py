"""Legacy and uploaded person rows checked and cleaned into `stg_person` columns.

A row is rejected only when it carries nothing to identify a person by (no
name, email, phone or street). A malformed email, phone, ZIP or date keeps its
raw value, gets a WARN finding, and its cleaned field stays empty: skipping the
row would lose a person who can still be mailed.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from tasks.hygiene import clean_emails, clean_phones, clean_zips, parse_names
from tasks.hygiene.addresses import normalize_addresses
from tasks.validation.findings import (
    ERROR,
    WARN,
    CheckedRows,
    Findings,
    field_text,
    quoted,
)

# Date and time shapes the legacy systems wrote, tried in order.
TIMESTAMP_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "%m/%d/%Y %H:%M",
                     "%m/%d/%Y", "%Y%m%d")
_NULL = pa.scalar(None, pa.string())


def parse_timestamps(values: pa.Array) -> pa.Array:
    """Text timestamps in any of the legacy shapes (fractions and zones dropped); bad ones null."""
    text = pc.replace_substring_regex(pc.utf8_trim_whitespace(values),
                                      r"(\.[0-9]+)?(Z|[+-][0-9]{2}:?[0-9]{2})?$", "")
    parsed = pa.nulls(len(values), pa.timestamp("s"))
    for fmt in TIMESTAMP_FORMATS:
        attempt = pc.strptime(text, format=fmt, unit="s", error_is_null=True)
        parsed = pc.coalesce(parsed, attempt)
    return parsed


def _names(rows: pa.RecordBatch) -> pa.Table:
    """Parsed names from a full name, or from separate first and last columns.

    Separate columns go through the same parser as "LAST, FIRST" so that
    capitalization and suffixes come out the same whichever form a source used.
    """
    first, last = field_text(rows, "first_name"), field_text(rows, "last_name")
    full = field_text(rows, "full_name")
    composed = pc.binary_join_element_wise(pc.fill_null(last, ""), pc.fill_null(first, ""), ", ")
    has_parts = pc.or_(pc.is_valid(first), pc.is_valid(last))
    only_one = pc.xor(pc.is_valid(first), pc.is_valid(last))
    single = pc.coalesce(first, last)
    text = pc.if_else(has_parts, pc.if_else(only_one, single, composed), full)
    return parse_names(text)


def check_person(rows: pa.RecordBatch, source_system: str) -> CheckedRows:
    """Check one batch of source rows (the `tasks.sources` batch shape)."""
    findings = Findings(rows)
    text = {f: field_text(rows, f) for f in (
        "email", "phone", "phone2", "street", "street2", "city", "state", "zip",
        "created_at", "updated_at", "full_name", "first_name", "last_name")}

    names = _names(rows)
    emails = clean_emails(text["email"])
    phones, phones2 = clean_phones(text["phone"]), clean_phones(text["phone2"])
    zips = clean_zips(text["zip"])
    address = normalize_addresses(text["street"], text["street2"], text["city"],
                                  text["state"], zips.column("zip5"))

    has_name = pc.or_(pc.is_valid(names.column("first")), pc.is_valid(names.column("last")))
    identified = pc.or_(pc.or_(has_name, pc.is_valid(text["email"])),
                        pc.or_(pc.is_valid(text["phone"]), pc.is_valid(text["street"])))
    findings.add(pc.invert(pc.fill_null(identified, False)), ERROR, "NO_IDENTITY", "row", None,
                 "no name, email, phone or street: nothing to identify a person by")

    findings.add(pc.equal(emails.column("error"), "invalid_email"), WARN, "INVALID_EMAIL",
                 "email", text["email"], quoted(text["email"], "{} is not a valid email"))
    for field, cleaned in (("phone", phones), ("phone2", phones2)):
        findings.add(pc.equal(cleaned.column("error"), "invalid_phone"), WARN, "PHONE_INVALID",
                     field, text[field], quoted(text[field], "{} is not a valid phone number"))
    findings.add(pc.equal(zips.column("error"), "invalid_zip"), WARN, "INVALID_ZIP", "zip",
                 text["zip"], quoted(text["zip"], "{} is not a 5- or 9-digit ZIP code"))
    stamps = {}
    for field in ("created_at", "updated_at"):
        stamps[field] = parse_timestamps(text[field])
        bad = pc.and_(pc.is_valid(text[field]), pc.is_null(stamps[field]))
        findings.add(bad, WARN, "INVALID_DATE", field, text[field],
                     quoted(text[field], "{} is not a date"))

    raw_address = pc.binary_join_element_wise(
        *(pc.fill_null(text[f], "") for f in ("street", "street2", "city", "state", "zip")),
        ", ")
    staged = pa.table({
        "row_number": rows.column("row_number"),
        "source_system": pa.array([source_system] * rows.num_rows, pa.string()),
        "source_key": rows.column("source_key"),
        "first_name": names.column("first"),
        "middle_name": names.column("middle"),
        "last_name": names.column("last"),
        "name_suffix": names.column("suffix"),
        "full_name_raw": pc.coalesce(text["full_name"], pc.binary_join_element_wise(
            text["first_name"], text["last_name"], " ")),
        "email_raw": text["email"],
        "email": emails.column("email"),
        "phone_raw": text["phone"],
        "phone_e164": phones.column("e164"),
        "phone2_raw": text["phone2"],
        "phone2_e164": phones2.column("e164"),
        "street": address.column("street"),
        "street2": address.column("street2"),
        "city": address.column("city"),
        "state": pc.if_else(pc.fill_null(pc.match_substring_regex(address.column("state"),
                                                                  r"^[A-Z]{2}$"), False),
                            address.column("state"), _NULL),
        "zip5": zips.column("zip5"),
        "zip4": zips.column("zip4"),
        "address_raw": pc.if_else(pc.is_valid(text["street"]), raw_address, _NULL),
        "source_created_at": stamps["created_at"],
        "source_updated_at": pc.coalesce(stamps["updated_at"], stamps["created_at"]),
        "raw": rows.column("raw"),
    })
    if pc.any(findings.rejected).as_py():
        staged = staged.filter(pc.invert(findings.rejected))
    return CheckedRows(staged, findings)
