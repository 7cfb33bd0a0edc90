"""Mortgage rows (M15 and M32) checked and cleaned into `stg_mortgage` columns.

FORMATS.md section 3: record_id, borrower, street and zip are required (and
the barcode of an M32 row); a malformed optional field (phone, dates, loan
amount, enumerations) does not reject the row: the raw value stays in `raw`,
a WARN finding is recorded, and the cleaned field stays empty.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from leadpipe.tenant import MORTGAGE_REQUIRED, MortgageFeed
from tasks.hygiene import clean_phones, clean_zips, parse_names
from tasks.validation.barcodes import decode_barcodes
from tasks.validation.dates import parse_dates
from tasks.validation.findings import (
    ERROR,
    WARN,
    CheckedRows,
    Findings,
    blank,
    field_text,
    quoted,
)

ISO_DATE = "%Y-%m-%d"
PIECE_TYPES = ("LETTER", "POSTCARD", "SELFMAILER")
MAILER_VERSIONS = ("A", "B")
LOAN_TYPES = ("CONV", "FHA", "VA", "USDA")
_NULL = pa.scalar(None, pa.string())


def _enum(findings: Findings, values: pa.Array, field: str, allowed: tuple[str, ...]
          ) -> pa.Array:
    upper = pc.utf8_upper(values)
    ok = pc.is_in(upper, value_set=pa.array(allowed))
    bad = pc.and_(pc.is_valid(upper), pc.invert(ok))
    findings.add(bad, WARN, "INVALID_VALUE", field, values,
                 quoted(values, f"{{}} is not one of {', '.join(allowed)}"))
    return pc.if_else(ok, upper, _NULL)


def check_mortgage(rows: pa.RecordBatch, feed: MortgageFeed, partner: str) -> CheckedRows:
    """Check one batch of read mortgage rows.

    Args:
        rows: a batch from `read_partner_file` (logical fields as text).
        feed: the partner's mortgage feed (format, date format).
        partner: the partner key, carried by every staged row.
    """
    findings = Findings(rows)
    text = {field: field_text(rows, field) for field in feed.columns}

    for field in MORTGAGE_REQUIRED:
        findings.add(blank(text[field]), ERROR, "MISSING_REQUIRED", field, text[field],
                     f"required field {field} is empty")

    zips = clean_zips(text["zip"])
    findings.add(pc.equal(zips.column("error"), "invalid_zip"), ERROR, "INVALID_ZIP", "zip",
                 text["zip"], quoted(text["zip"], "{} is not a 5- or 9-digit ZIP code"))

    names = parse_names(text["borrower"])
    findings.add(pc.equal(names.column("error"), "unparseable_name"), ERROR, "INVALID_NAME",
                 "borrower", text["borrower"],
                 quoted(text["borrower"], "no first or last name found in {}"))

    tracking = routing = pa.nulls(rows.num_rows, pa.string())
    if feed.format == "M32":
        codes = decode_barcodes(text["barcode"])
        reason = codes.column("reason")
        present = pc.invert(blank(text["barcode"]))
        findings.add(blank(text["barcode"]), ERROR, "MISSING_REQUIRED", "barcode",
                     text["barcode"], "required field barcode is empty")
        findings.add(pc.and_(present, pc.equal(reason, "excel_number")), ERROR,
                     "BARCODE_EXCEL_NUMBER", "barcode", text["barcode"],
                     "the barcode was stored as a number and lost digits")
        bad = pc.and_(present, pc.and_(pc.is_valid(reason), pc.not_equal(reason, "excel_number")))
        findings.add(bad, ERROR, "BARCODE_INVALID", "barcode", text["barcode"],
                     codes.column("message"))
        repaired = pc.is_valid(codes.column("repaired_position"))
        findings.add(repaired, WARN, "BARCODE_REPAIRED", "barcode", text["barcode"],
                     pc.binary_join_element_wise(
                         "one damaged bar repaired at position ",
                         pc.cast(codes.column("repaired_position"), pa.string()), ""))
        tracking, routing = codes.column("tracking"), codes.column("routing")

    date_format = feed.date_format or ISO_DATE
    recorded = parse_dates(text["recording_date"], date_format)
    findings.add(pc.and_(pc.is_valid(text["recording_date"]), pc.is_null(recorded)), WARN,
                 "INVALID_DATE", "recording_date", text["recording_date"],
                 quoted(text["recording_date"], f"{{}} is not a date ({date_format})"))
    mail_date = pa.nulls(rows.num_rows, pa.date32())
    if "mail_date" in text:
        mail_date = parse_dates(text["mail_date"], ISO_DATE)
        findings.add(pc.and_(pc.is_valid(text["mail_date"]), pc.is_null(mail_date)), WARN,
                     "INVALID_DATE", "mail_date", text["mail_date"],
                     quoted(text["mail_date"], "{} is not a date"))

    phones = clean_phones(text["phone"])
    findings.add(pc.equal(phones.column("error"), "invalid_phone"), WARN, "PHONE_INVALID",
                 "phone", text["phone"], quoted(text["phone"], "{} is not a valid phone number"))

    amount_text = pc.replace_substring_regex(text["loan_amount"], r"[$,\s]", "")
    amount_ok = pc.fill_null(pc.match_substring_regex(amount_text, r"^[0-9]+(\.[0-9]{1,2})?$"),
                             False)
    findings.add(pc.and_(pc.is_valid(text["loan_amount"]), pc.invert(amount_ok)), WARN,
                 "INVALID_AMOUNT", "loan_amount", text["loan_amount"],
                 quoted(text["loan_amount"], "{} is not an amount"))
    amount = pc.cast(pc.if_else(amount_ok, amount_text, _NULL), pa.decimal128(14, 2))

    state = pc.utf8_upper(text["state"])
    state_ok = pc.fill_null(pc.match_substring_regex(state, r"^[A-Z]{2}$"), False)
    findings.add(pc.and_(pc.is_valid(state), pc.invert(state_ok)), WARN, "INVALID_VALUE",
                 "state", text["state"], quoted(text["state"], "{} is not a 2-letter state"))

    findings.add(rows.column("encoding_repaired"), WARN, "ENCODING_LATIN1", "row", None,
                 "the row was not UTF-8 and was read as latin-1")

    staged = pa.table({
        "row_number": rows.column("row_number"),
        "partner": pa.array([partner] * rows.num_rows, pa.string()),
        "record_id": text["record_id"],
        "recording_date": recorded,
        "borrower_raw": text["borrower"],
        "first_name": names.column("first"),
        "middle_name": names.column("middle"),
        "last_name": names.column("last"),
        "name_suffix": names.column("suffix"),
        "co_borrower": text["co_borrower"],
        "street": text["street"],
        "city": text["city"],
        "state": pc.if_else(state_ok, state, _NULL),
        "zip5": zips.column("zip5"),
        "zip4": zips.column("zip4"),
        "county": text["county"],
        "loan_amount": amount,
        "loan_type": _enum(findings, text["loan_type"], "loan_type", LOAN_TYPES),
        "lender": text["lender"],
        "phone_raw": text["phone"],
        "phone_e164": phones.column("e164"),
        "piece_type": _enum(findings, text["mail_piece_type"], "mail_piece_type", PIECE_TYPES),
        "mailer_version": _enum(findings, text["mailer_version"], "mailer_version",
                                MAILER_VERSIONS),
        "tracking_code": tracking,
        "routing_code": routing,
        "mail_date": mail_date,
        "raw": rows.column("raw"),
    })
    return CheckedRows(staged.filter(pc.invert(findings.rejected)), findings)
