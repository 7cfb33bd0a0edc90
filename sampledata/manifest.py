"""The partner-day manifest: every file, every row's expected outcome, every piece's end state.

`manifest.json` (files, summary, vocabulary) and two Parquet tables beside it,
`manifest/rows.parquet` and `manifest/pieces.parquet`, are the ground truth that ingestion
tests compare the database with. Rows and pieces are tables because a benchmark day has
millions of them: as JSON they took minutes and gigabytes to write and to read. The rows are
written file by file while the run goes, so memory does not grow with them.
`load_manifest` reads all three back as the plain dicts and lists of README.md.

The vocabulary (expectations, error and warning types) is written down in
`sampledata/README.md`; the constants here are that vocabulary in code.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import imb
from leadpipe.tenant import MORTGAGE_REQUIRED
from sampledata.defects import DEFECTS, FILE, INSERT, LABELS, ROW

VERSION = 2
ROWS_TABLE = "manifest/rows.parquet"
PIECES_TABLE = "manifest/pieces.parquet"
"""Paths of the tables under the run's folder; a sub-folder, so that a tool landing every file
of the folder (`leadpipe ingest DIR`) sees only partner files and manifest.json."""

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

FINDINGS: tuple[tuple[str, str, str | None], ...] = (
    *(("MISSING_REQUIRED", name, None) for name in MORTGAGE_REQUIRED),
    *(("BARCODE_INVALID", "barcode", reason) for reason in sorted(imb.REASONS)),
    ("BARCODE_EXCEL_NUMBER", "barcode", None),
    ("PHONE_INVALID", "phone", None),
    ("BARCODE_REPAIRED", "barcode", None),
    ("ENCODING_LATIN1", "borrower", None),
    ("PIECE_UNKNOWN", "barcode", None),
    ("DELIVERY_OTHER_PARTNER", "barcode", None),
    ("DELIVERY_ALREADY_CONFIRMED", "barcode", None),
)
"""Every error and warning a row can carry; row arrays name them by index (`finding`)."""

M15_TRACKING_RULE = (
    "M15 pieces carry no barcode in the partner file. The pipeline assigns the tracking code "
    "at mail production: barcode id 00, service type id 270, the partner's 6-digit mailer id "
    "from the tenant file, and a 9-digit serial that is the next value of a per-mailer-id "
    "sequence starting at 1. Serials are consumed only by rows that become pieces "
    "(expect == loaded), in row order within a file, the partner's mortgage files in the "
    "order of this manifest (date order). Re-sent files are byte-identical duplicates and "
    "never reach staging, so they consume nothing."
)

FINDING_TYPE = pa.struct([("error_type", pa.string()), ("field_name", pa.string()),
                          ("reason", pa.string())])
NAME_TYPE = pa.struct([("first", pa.string()), ("middle", pa.string()), ("last", pa.string()),
                       ("suffix", pa.string())])
MORTGAGE_COLUMNS = ("mailed_on", "borrower", "zip5", "phone_e164")
DELIVERY_COLUMNS = ("piece_partner", "status", "delivered_on")
ROW_SCHEMA = pa.schema([
    ("file", pa.string()), ("row_number", pa.int32()), ("physical_row", pa.int32()),
    ("expect", pa.string()), ("partner", pa.string()), ("record_id", pa.string()),
    ("tracking_code", pa.string()),
    ("mailed_on", pa.date32()), ("borrower", NAME_TYPE), ("zip5", pa.string()),
    ("phone_e164", pa.string()),
    ("piece_partner", pa.string()), ("status", pa.string()), ("delivered_on", pa.date32()),
    ("error", FINDING_TYPE), ("warnings", pa.list_(FINDING_TYPE)),
    ("defects", pa.list_(pa.string())),
])
"""manifest/rows.parquet; mortgage rows leave the delivery columns null, and back."""
PIECE_SCHEMA = pa.schema([
    ("partner", pa.string()), ("record_id", pa.string()), ("tracking_code", pa.string()),
    ("mailed_on", pa.date32()), ("status", pa.string()), ("delivered_on", pa.date32()),
])


def sha256(path: Path) -> str:
    """The hex SHA-256 of a file's bytes, as the landing zone computes it."""
    with path.open("rb") as data:
        return hashlib.file_digest(data, "sha256").hexdigest()


def finding(error_type: str, field_name: str, reason: str | None = None) -> int:
    """An error or warning's index in `FINDINGS`; `reason` only for barcode errors."""
    return FINDINGS.index((error_type, field_name, reason))


_FINDINGS_ARRAY = pa.array([{"error_type": t, "field_name": f, "reason": r}
                            for t, f, r in FINDINGS], FINDING_TYPE)


def findings_array(codes: np.ndarray) -> pa.Array:
    """One error per row from `finding` codes; null where the code is -1."""
    codes = np.asarray(codes)
    return _FINDINGS_ARRAY.take(pa.array(codes, mask=codes < 0))


def _lists(codes: np.ndarray, values: pa.Array) -> pa.Array:
    """Lists per row of rows of `codes` (rows x k, -1 for none) looked up in `values`."""
    codes = np.asarray(codes).reshape(len(codes), -1)
    present = codes >= 0
    offsets = np.concatenate([[0], np.cumsum(present.sum(axis=1))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), values.take(pa.array(codes[present])))


def warnings_array(codes: np.ndarray) -> pa.Array:
    """Warnings per row from `finding` codes (rows x k, -1 for none), in column order."""
    return _lists(codes, _FINDINGS_ARRAY)


def defects_array(labels: np.ndarray) -> pa.Array:
    """Defect labels per row (each row one label at most) from `defects.code` codes or -1."""
    return _lists(labels, pa.array(LABELS, pa.string()))


class Manifest:
    """Collects files and counts, and writes rows as the run makes them."""

    def __init__(self, folder: Path, defect_rate: float, seed: int, tenant: str,
                 days: list[date]) -> None:
        self.folder = folder
        self.defect_rate = defect_rate
        self.seed = seed
        self.tenant = tenant
        self.days = days
        self.files: list[dict[str, Any]] = []
        self.row_count = 0
        self._counts: Counter[str] = Counter()
        self._eligible: Counter[str] = Counter()
        self._expects: Counter[str] = Counter()
        (folder / ROWS_TABLE).parent.mkdir(parents=True, exist_ok=True)
        self._rows = pq.ParquetWriter(folder / ROWS_TABLE, ROW_SCHEMA)

    def add_file(self, name: str, *, partner: str, kind: str, file_format: str, day: date,
                 rows: int, defects: list[str], resend_of: str | None = None,
                 ) -> dict[str, Any]:
        """Record a written file; file-level defect eligibility is counted here."""
        path = self.folder / name
        entry = {
            "name": name, "partner": partner, "kind": kind, "format": file_format,
            "sha256": sha256(path), "bytes": path.stat().st_size, "rows": rows,
            "day": day.isoformat(), "resend_of": resend_of, "defects": defects,
        }
        self.files.append(entry)
        self._counts.update(defects)
        if resend_of is None:
            for defect in DEFECTS:
                if defect.scope == FILE and file_format in defect.formats:
                    self._eligible[defect.label] += 1
        return entry

    def add_rows(self, rows: pa.RecordBatch, file_format: str, inserted: int) -> None:
        """Write a file's rows; count defects and, unless they are a re-sent copy's, how many
        rows each class could have hit (`inserted` of them were added by a defect)."""
        self._rows.write_batch(rows)
        self.row_count += rows.num_rows
        for item in pc.value_counts(rows["expect"]).to_pylist():
            self._expects[item["values"]] += item["counts"]
        for item in pc.value_counts(pc.list_flatten(rows["defects"])).to_pylist():
            self._counts[item["values"]] += item["counts"]
        if rows.num_rows and rows["expect"][0].as_py() == "untouched":
            return
        for defect in DEFECTS:
            if defect.scope == ROW and file_format in defect.formats:
                self._eligible[defect.label] += rows.num_rows - (
                    0 if defect.action == INSERT else inserted)

    def summary(self) -> dict[str, Any]:
        """Per defect class: how many were planted, among how many eligible, the rate."""
        defects = {}
        for defect in DEFECTS:
            count, eligible = self._counts[defect.label], self._eligible[defect.label]
            defects[defect.label] = {
                "scope": defect.scope, "formats": sorted(defect.formats),
                "count": count, "eligible": eligible,
                "rate": round(count / eligible, 6) if eligible else None,
            }
        return {"defects": defects, "expect": {e: self._expects[e] for e in EXPECTS}}

    def as_json(self) -> dict[str, Any]:
        """manifest.json: everything but the rows and pieces, which `tables` names."""
        return {
            "version": VERSION,
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
            "tables": {"rows": ROWS_TABLE, "pieces": PIECES_TABLE},
        }

    def write(self, pieces: pa.Table) -> None:
        """Close the rows table, write the pieces table and manifest.json (stable key order
        and layout: same seed, same bytes)."""
        self._rows.close()
        pq.write_table(pieces, self.folder / PIECES_TABLE)
        (self.folder / "manifest.json").write_text(
            json.dumps(self.as_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def read_rows(folder: Path) -> pa.Table:
    """The rows table of a run, for runs too large for `load_manifest`."""
    return pq.read_table(folder / ROWS_TABLE)


def read_pieces(folder: Path) -> pa.Table:
    """The pieces table of a run."""
    return pq.read_table(folder / PIECES_TABLE)


def _finding_json(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {k: v for k, v in value.items() if k != "reason" or v is not None}


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _row_json(row: dict[str, Any], kind: str) -> dict[str, Any]:
    other = DELIVERY_COLUMNS if kind == "mortgage" else MORTGAGE_COLUMNS
    out = {k: v for k, v in row.items() if k not in other}
    for name in ("mailed_on", "delivered_on"):
        if name in out:
            out[name] = _iso(out[name])
    out["error"] = _finding_json(out["error"])
    out["warnings"] = [_finding_json(w) for w in out["warnings"]]
    return out


def load_manifest(folder: Path) -> dict[str, Any]:
    """A run's whole manifest as plain data: manifest.json with `rows` and `pieces` added.

    Rows and pieces are lists of dicts shaped as README.md says (dates as ISO text, a
    finding's `reason` only where there is one, mortgage or delivery keys by file kind).
    Building millions of dicts is slow: for a benchmark-sized run use `read_rows`.
    """
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    kinds = {f["name"]: f["kind"] for f in manifest["files"]}
    manifest["rows"] = [_row_json(row, kinds[row["file"]])
                        for row in read_rows(folder).to_pylist()]
    manifest["pieces"] = [{**p, "mailed_on": _iso(p["mailed_on"]),
                           "delivered_on": _iso(p["delivered_on"])}
                          for p in read_pieces(folder).to_pylist()]
    return manifest
