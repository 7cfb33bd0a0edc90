"""The partner-day manifest: every file, every row's expected outcome, every piece's end state.

`manifest.json` is the ground truth that ingestion tests compare the database with. Its
vocabulary (expectations, error and warning types) is written down in
`sampledata/README.md`; the constants here are that vocabulary in code.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sampledata.defects import DEFECTS, FILE, INSERT, ROW

EXPECTS = ("loaded", "delivered", "undeliverable", "rejected", "ignored", "untouched")

ERROR_TYPES = {
    "MISSING_REQUIRED": "a required mortgage field (record_id, borrower, street, zip) is empty",
    "BARCODE_INVALID": "the barcode does not decode, even with single-bar repair; "
                       "`reason` is imb.ImbError.reason",
    "BARCODE_EXCEL_NUMBER": "a 20/31-digit code arrived as an Excel number and lost digits",
}
"""Row errors (severity ERROR): the row is rejected."""

WARNING_TYPES = {
    "PHONE_INVALID": "the phone is not a valid US number; the raw value is kept",
    "BARCODE_REPAIRED": "one damaged bar was repaired; the row is used",
    "ENCODING_LATIN1": "the row's bytes were latin-1 in a UTF-8 file and were decoded as such",
    "PIECE_UNKNOWN": "a confirmation names a piece of this partner the pipeline never loaded",
    "DELIVERY_OTHER_PARTNER": "a confirmation names another partner's piece",
    "DELIVERY_ALREADY_CONFIRMED": "a later confirmation of a confirmed piece (first wins)",
}
"""Row warnings (severity WARN): informative, the row's outcome is `expect`."""

M15_TRACKING_RULE = (
    "M15 pieces carry no barcode in the partner file. The pipeline assigns the tracking code "
    "at mail production: barcode id 00, service type id 270, the partner's 6-digit mailer id "
    "from the tenant file, and a 9-digit serial that is the next value of a per-mailer-id "
    "sequence starting at 1. Serials are consumed only by rows that become pieces "
    "(expect == loaded), in row order within a file, the partner's mortgage files in the "
    "order of this manifest (date order). Re-sent files are byte-identical duplicates and "
    "never reach staging, so they consume nothing."
)


def sha256(data: bytes) -> str:
    """The hex SHA-256 of a file's bytes, as the landing zone computes it."""
    return hashlib.sha256(data).hexdigest()


def error(error_type: str, field_name: str, reason: str | None = None) -> dict[str, Any]:
    """An error or warning entry; `reason` only for barcode errors."""
    entry: dict[str, Any] = {"error_type": error_type, "field_name": field_name}
    if reason is not None:
        entry["reason"] = reason
    return entry


@dataclass
class Manifest:
    """Collects files, rows and pieces while a run generates them."""

    defect_rate: float
    seed: int
    tenant: str
    days: list[date]
    files: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    pieces: list[dict[str, Any]] = field(default_factory=list)
    _eligible: Counter[str] = field(default_factory=Counter)

    def add_file(self, name: str, data: bytes, *, partner: str, kind: str, file_format: str,
                 day: date, rows: int, defects: list[str], resend_of: str | None = None,
                 ) -> dict[str, Any]:
        """Record a written file; file-level defect eligibility is counted here."""
        entry = {
            "name": name, "partner": partner, "kind": kind, "format": file_format,
            "sha256": sha256(data), "bytes": len(data), "rows": rows, "day": day.isoformat(),
            "resend_of": resend_of, "defects": defects,
        }
        self.files.append(entry)
        if resend_of is None:
            for defect in DEFECTS:
                if defect.scope == FILE and file_format in defect.formats:
                    self._eligible[defect.label] += 1
        return entry

    def add_row(self, row: dict[str, Any], file_format: str, inserted: bool) -> None:
        """Record a row's expectation; a resent copy's rows count toward no defect rate."""
        self.rows.append(row)
        if row["expect"] == "untouched":
            return
        for defect in DEFECTS:
            if defect.scope != ROW or file_format not in defect.formats:
                continue
            if defect.action == INSERT or not inserted:
                self._eligible[defect.label] += 1

    def summary(self) -> dict[str, Any]:
        """Per defect class: how many were planted, among how many eligible, the rate."""
        counts: Counter[str] = Counter()
        for row in self.rows:
            counts.update(row["defects"])
        for entry in self.files:
            counts.update(entry["defects"])
        defects = {}
        for defect in DEFECTS:
            eligible = self._eligible[defect.label]
            defects[defect.label] = {
                "scope": defect.scope, "formats": sorted(defect.formats),
                "count": counts[defect.label], "eligible": eligible,
                "rate": round(counts[defect.label] / eligible, 6) if eligible else None,
            }
        expects = Counter(row["expect"] for row in self.rows)
        return {"defects": defects, "expect": {e: expects[e] for e in EXPECTS}}

    def as_json(self) -> dict[str, Any]:
        """The whole manifest as written to manifest.json."""
        return {
            "version": 1,
            "tenant": self.tenant,
            "seed": self.seed,
            "days": [d.isoformat() for d in self.days],
            "defect_rate": self.defect_rate,
            "row_numbers": "row_number counts data rows from 1 (header, title and blank rows "
                           "not counted); physical_row is the line (text) or sheet row (xlsx)",
            "m15_tracking_rule": M15_TRACKING_RULE,
            "error_types": ERROR_TYPES,
            "warning_types": WARNING_TYPES,
            "summary": self.summary(),
            "files": self.files,
            "rows": self.rows,
            "pieces": self.pieces,
        }

    def write(self, path: Path) -> None:
        """Write manifest.json (stable key order and layout: same seed, same bytes)."""
        path.write_text(json.dumps(self.as_json(), indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")
