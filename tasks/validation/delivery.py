"""Delivery confirmations (D1-D4) checked and cleaned into `stg_delivery` columns.

Every row needs a barcode that decodes, a date, and (D3, D4) a known status;
a row without them cannot confirm anything and is rejected. D1 and D2 list
deliveries only.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from leadpipe.tenant import DeliveryFeed
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

DATE_FORMATS = {"D1": "%Y%m%d", "D2": "%Y-%m-%d", "D3": "%Y%m%d", "D4": "%m/%d/%Y"}
# Status words of D3 and D4, upper-cased, to the outcome they mean.
OUTCOMES = {"DL": "delivered", "UD": "undeliverable", "DELIVERED": "delivered",
            "UNDELIVERABLE": "undeliverable"}


def check_delivery(rows: pa.RecordBatch, feed: DeliveryFeed, partner: str) -> CheckedRows:
    """Check one batch of read delivery rows."""
    findings = Findings(rows)
    barcode, event_text = field_text(rows, "barcode"), field_text(rows, "event_date")

    findings.add(blank(barcode), ERROR, "MISSING_REQUIRED", "barcode", barcode,
                 "required field barcode is empty")
    codes = decode_barcodes(barcode)
    reason, present = codes.column("reason"), pc.invert(blank(barcode))
    findings.add(pc.and_(present, pc.equal(reason, "excel_number")), ERROR,
                 "BARCODE_EXCEL_NUMBER", "barcode", barcode,
                 "the barcode was stored as a number and lost digits")
    bad = pc.and_(present, pc.and_(pc.is_valid(reason), pc.not_equal(reason, "excel_number")))
    findings.add(bad, ERROR, "BARCODE_INVALID", "barcode", barcode, codes.column("message"))
    findings.add(pc.is_valid(codes.column("repaired_position")), WARN, "BARCODE_REPAIRED",
                 "barcode", barcode, pc.binary_join_element_wise(
                     "one damaged bar repaired at position ",
                     pc.cast(codes.column("repaired_position"), pa.string()), ""))

    date_format = DATE_FORMATS[feed.format]
    event_on = parse_dates(event_text, date_format)
    findings.add(blank(event_text), ERROR, "MISSING_REQUIRED", "event_date", event_text,
                 "required field event_date is empty")
    findings.add(pc.and_(pc.is_valid(event_text), pc.is_null(event_on)), ERROR, "INVALID_DATE",
                 "event_date", event_text,
                 quoted(event_text, f"{{}} is not a date ({date_format})"))

    if "outcome" in rows.schema.names:
        status = field_text(rows, "outcome")
        keys, meanings = pa.array(list(OUTCOMES)), pa.array(list(OUTCOMES.values()))
        found = pc.index_in(pc.utf8_upper(status), value_set=keys)
        outcome = pc.take(meanings, found)
        findings.add(pc.is_null(outcome), ERROR, "INVALID_VALUE", "outcome", status,
                     quoted(status, f"{{}} is not one of {', '.join(OUTCOMES)}"))
    else:
        outcome = pa.array(["delivered"] * rows.num_rows, pa.string())

    findings.add(rows.column("encoding_repaired"), WARN, "ENCODING_LATIN1", "row", None,
                 "the row was not UTF-8 and was read as latin-1")

    staged = pa.table({
        "row_number": rows.column("row_number"),
        "partner": pa.array([partner] * rows.num_rows, pa.string()),
        "tracking_code": codes.column("tracking"),
        "routing_code": codes.column("routing"),
        "event_on": event_on,
        "outcome": outcome,
        "facility_zip": field_text(rows, "zip"),
        "raw": rows.column("raw"),
    })
    return CheckedRows(staged.filter(pc.invert(findings.rejected)), findings)
