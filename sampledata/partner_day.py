"""Partner days with ground truth: `leadpipe generate partner-day`.

A run simulates K consecutive weekdays of the four partners of the tenant file. Each day
every partner sends its mortgage file (M32 or M15) and the partners whose day it is send a
delivery file (D1-D4) confirming pieces mailed on earlier days, including pieces mailed in
the week before the run, which the pipeline never saw. Defects are planted at the configured
rate and the manifest records, for every row, what the pipeline must make of it; the
simulation keeps the pipeline's view of every piece (loaded? already confirmed?) so that the
expectations follow FORMATS.md's rules (first confirmation wins, a confirmation only
touches its own partner's pieces).

The ingestion benchmark needs days of a million pieces, so a file is made as columns:
pieces are parallel arrays, rows are Arrow arrays, and the only per-row Python left is the
`imb` encoder, the CSV writer and the few rows a defect touches.

Partner headers, file-name patterns, date formats and mailer ids come from the tenant file;
format-level facts from `sampledata.formats`.
"""

from __future__ import annotations

import shutil
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import imb
from leadpipe import tenant as tenant_config
from leadpipe.tenant import M32_EXTRA_FIELDS, MORTGAGE_FIELDS, MORTGAGE_REQUIRED, Partner
from sampledata import defects, formats, partner_files
from sampledata.manifest import (
    EXPECTS,
    NAME_TYPE,
    PIECE_SCHEMA,
    ROW_SCHEMA,
    Manifest,
    defects_array,
    finding,
    findings_array,
    warnings_array,
)
from sampledata.partner_files import SheetColumn
from sampledata.people import People, PopulationRates, draw_people, draw_places, name_tables
from sampledata.variation import phone_text, street_text

BARCODE_ID, SERVICE_TYPE = "00", "270"
HISTORY_DAYS = 3
"""Weekdays simulated before the run, whose pieces the run's delivery files confirm."""
PREWINDOW_SERIAL = 900_000_000
"""M15 pieces mailed before the run got serials from here: the pipeline's sequence (from 1)
never reaches them, so their confirmations can never hit a piece the pipeline assigned."""
UNDELIVERABLE_RATE = 0.03
CO_BORROWER_RATE = 0.35
ACCENTED_RATE = 0.03
TRANSIT_DAYS, TRANSIT_P = (1, 2, 3, 4, 5), (0.1, 0.3, 0.3, 0.2, 0.1)
SECOND_CONFIRMATION_SHIFT = np.array([-2, -1, 1, 2, 3])
"""Days from the first confirmation to a second one (only those before the file's day)."""

ACCENTED_FIRST = ("José", "María", "Jesús", "Sofía", "Ramón", "Héctor", "Inés", "Raúl",
                  "Andrés", "Verónica", "Zoë", "Renée", "Noémie", "François")
ACCENTED_LAST = ("Peña", "Muñoz", "Ibáñez", "Núñez", "Gómez", "Pérez", "Martínez",
                 "Rodríguez", "Hernández", "Ramírez", "Sánchez", "Domínguez", "Côté", "Müller")
NAME_SUFFIXES = ("Jr", "Sr", "II", "III")
LENDERS = ("First Harbor Bank", "Keystone Federal Savings", "Summit Home Loans",
           "Pinecrest Mortgage Co", "Liberty Mutual Lending", "Heartland Credit Union",
           "Bayview Funding", "Granite State Mortgage", "Prairie Home Lending",
           "Cornerstone Bank", "Evergreen Home Finance", "Union Square Mortgage")
TITLE_COMPANIES = ("First American Title", "Old Republic Title", "Stewart Title",
                   "Fidelity National Title", "Chicago Title", "Landmark Title Agency")
LOAN_TYPES = (("CONV", 0.6), ("FHA", 0.2), ("VA", 0.12), ("USDA", 0.08))
PIECE_TYPES = ("LETTER", "POSTCARD", "SELFMAILER")
PROPERTY_TYPES = ("SFR", "CONDO", "TOWNHOUSE", "2-4 UNIT")
LENDER_STREETS = ("Main", "Market", "Commerce")
BATHROOMS = np.array([1, 1.5, 2, 2.5, 3, 3.5])
D1_OP_CODES = ("918", "919", "914")

STATUSES = ("mailed", "delivered", "undeliverable")
MAILED, DELIVERED, UNDELIVERABLE = range(3)
REJECTED, IGNORED = EXPECTS.index("rejected"), EXPECTS.index("ignored")
_APPLIED = np.array([-1, EXPECTS.index("delivered"), EXPECTS.index("undeliverable")])
"""By status: the expectation of a confirmation applied with it (none says `mailed`)."""
EPOCH = date(1970, 1, 1)
_NULL = pa.scalar(None, pa.string())
_BAR_DEFECTS = ("bars_undecodable", "bars_crc_damaged", "bars_repairable")


@dataclass(frozen=True)
class PartnerDayOptions:
    """One `generate partner-day` run.

    Attributes:
        day: The first day (moved to the next weekday if it falls on a weekend).
        pieces: Mortgage rows per day over all partners.
        seed: Same seed and options, same bytes.
        out: Output folder (files side by side; names carry their dates).
        days: Consecutive weekdays to write.
        defect_rate: Rate of every defect class among the rows or files it applies to.
        tenant: Tenant file naming the partners.
    """

    day: date
    pieces: int
    seed: int
    out: Path
    days: int = 1
    defect_rate: float = 0.02
    tenant: str = "demo"


def swapped_form(form: str) -> str:
    """The other common form: `LAST, FIRST` for natural forms, and back."""
    return "natural" if form == "last_first" else "last_first"


class _Pieces:
    """Every mail piece of the run as the world and the pipeline see it, as parallel arrays
    (a benchmark run has millions: an object each cost gigabytes). Dates are day numbers
    since 1970-01-01."""

    def __init__(self, capacity: int) -> None:
        self.size = 0
        self.partner = np.zeros(capacity, np.int8)
        self.serial = np.zeros(capacity, np.int64)
        self.zip5 = np.zeros(capacity, np.int32)
        self.zip4 = np.zeros(capacity, np.int16)
        self.delivery_point = np.zeros(capacity, np.int8)
        self.mailed_on = np.zeros(capacity, np.int32)
        self.record = np.full(capacity, -1, np.int64)
        """Record number, -1 for none (mailed before the run, or the row had none)."""
        self.known = np.zeros(capacity, bool)
        """Whether the pipeline loaded it (False: rejected row, or mailed before the run)."""
        self.fate = np.zeros(capacity, np.int8)
        """DELIVERED or UNDELIVERABLE, on `event_on`."""
        self.event_on = np.zeros(capacity, np.int32)
        self.reported = np.zeros(capacity, bool)
        self.status = np.zeros(capacity, np.int8)
        """The pipeline's status for a known piece after the rows seen so far."""
        self.status_on = np.zeros(capacity, np.int32)
        self.confirmed = np.zeros(capacity, bool)
        """Whether a row of its own partner confirmed it (applied or not)."""

    def add(self, count: int, **columns: np.ndarray | int) -> None:
        """Append `count` pieces; a column given as a scalar is the same for all."""
        stop = self.size + count
        for name, values in columns.items():
            getattr(self, name)[self.size:stop] = values
        self.size = stop


@dataclass
class _Resend:
    arrives: date
    name: str
    original: dict[str, Any]
    rows: pa.RecordBatch


def weekdays_from(start: date, count: int) -> list[date]:
    """`count` weekdays from `start` on (a weekend start moves to Monday)."""
    days, day = [], start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def weekdays_before(start: date, count: int) -> list[date]:
    """The `count` weekdays before `start`, oldest first."""
    days, day = [], start - timedelta(days=1)
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]


def sends_deliveries(delivery_format: str, day: date) -> bool:
    """Whether a partner with this delivery format sends a file on `day` (a weekday).

    D3 and D4 partners send every other weekday: those with an even count of weekdays
    since Monday 1970-01-05.
    """
    if delivery_format not in formats.EVERY_OTHER_WEEKDAY_FORMATS:
        return True
    weeks, rest = divmod((day - date(1970, 1, 5)).days, 7)
    return (weeks * 5 + rest) % 2 == 0


def column_order(partner: str) -> list[str]:
    """An M15 partner's own column order, fixed per partner key (FORMATS.md: it differs)."""
    order = list(MORTGAGE_FIELDS)
    np.random.Generator(np.random.PCG64(zlib.crc32(partner.encode()))).shuffle(order)
    return order


def quotes_all(partner: str) -> bool:
    """Whether an M15 partner quotes every field (FORMATS.md: quoting differs by partner)."""
    return zlib.crc32(partner.encode()) % 2 == 1


def tracking_code(mailer_id: str, serial: int) -> str:
    """The 20-digit code: barcode id 00, STID 270, 6-digit mailer id, 9-digit serial."""
    return f"{BARCODE_ID}{SERVICE_TYPE}{mailer_id}{serial:09d}"


def _day(day: date) -> int:
    return (day - EPOCH).days


def _dates(days: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(days, np.int32)).cast(pa.date32())


def _strftime(days: pa.Array, spelling: str) -> pa.Array:
    return pc.strftime(days.cast(pa.timestamp("s")), format=spelling)


def _text(values: np.ndarray, width: int = 0) -> pa.Array:
    """Decimal text, zero-padded to `width`; null where `values` is negative."""
    values = np.asarray(values, np.int64)
    text = pa.array(values, mask=values < 0).cast(pa.string())
    return pc.utf8_lpad(text, width, "0") if width else text


def _pick(options: Sequence[str], index: np.ndarray) -> pa.Array:
    return pa.array(options, pa.string()).take(pa.array(np.asarray(index)))


def _repeat(value: str, n: int) -> pa.Array:
    return _pick([value], np.zeros(n, np.int32))


def _where(mask: np.ndarray, then: Any, otherwise: Any) -> pa.Array:
    return pc.if_else(pa.array(np.asarray(mask, bool)), then, otherwise)


def _blank(column: SheetColumn, mask: np.ndarray) -> SheetColumn:
    """The column with the cells in `mask` empty."""
    if isinstance(column, tuple):
        return tuple(_blank(c, mask) for c in column)  # type: ignore[misc]
    return _where(mask, pa.scalar(None, column.type), column)


def _initials(middle: np.ndarray) -> pa.Array:
    """Middle initials from indices into the first-name table (-1: none)."""
    initials = pc.utf8_slice_codeunits(name_tables().first, 0, 1)
    return initials.take(pa.array(np.maximum(middle, 0), mask=middle < 0))


def _name_text(first: pa.Array, middle: pa.Array, last: pa.Array, suffix: pa.Array,
               form: str, swapped: np.ndarray) -> pa.Array:
    """Names as written in `form` (natural, upper_natural or last_first), or in the swapped
    form where `swapped`."""
    join = pc.binary_join_element_wise
    natural = join(first, middle, last, suffix, " ", null_handling="skip")
    given = join(first, middle, suffix, " ", null_handling="skip")
    shown = {"natural": natural, "upper_natural": pc.utf8_upper(natural),
             "last_first": pc.utf8_upper(join(last, given, ", "))}
    return _where(swapped, shown[swapped_form(form)], shown[form])


def _row_batch(name: str, first_physical: int, columns: dict[str, pa.Array]) -> pa.RecordBatch:
    """A file's manifest rows; the columns a kind of file lacks are null."""
    n = len(columns["expect"])
    numbers = np.arange(1, n + 1, dtype=np.int32)
    given = {"file": _repeat(name, n), "row_number": pa.array(numbers),
             "physical_row": pa.array(numbers + first_physical), **columns}
    return pa.RecordBatch.from_arrays(
        [given[f.name] if f.name in given else pa.nulls(n, f.type) for f in ROW_SCHEMA],
        schema=ROW_SCHEMA)


class _Run:
    """One generation run: the world's pieces, the pipeline's view of them, the manifest."""

    def __init__(self, options: PartnerDayOptions) -> None:
        if not 0 <= options.defect_rate <= defects.max_rate():
            raise ValueError(f"defect rate must be between 0 and {defects.max_rate():.3f} "
                             "(one defect per row at most)")
        self.options = options
        self.tenant = tenant_config.load(options.tenant)
        self.keys = list(self.tenant.partners)
        self.rng = np.random.Generator(np.random.PCG64(options.seed))
        self.quotas = defects.Quotas(options.defect_rate, self.rng)
        self.places = draw_places(self.rng, 1500)
        self.zero_zip_places = np.flatnonzero(self.places.zip5 < 10_000)
        self.window = weekdays_from(options.day, options.days)
        options.out.mkdir(parents=True, exist_ok=True)
        self.manifest = Manifest(options.out, options.defect_rate, options.seed,
                                 self.tenant.name, self.window)
        self.pieces = _Pieces(options.pieces * (HISTORY_DAYS + options.days))
        self.counters: dict[tuple[str, str], int] = {}
        self.next_person = 1
        self.resends: list[_Resend] = []
        self.names_used = self._window_names()
        share, extra = divmod(options.pieces, len(self.keys))
        self.per_partner = {k: share + (i < extra) for i, k in enumerate(self.keys)}
        partners = [self.tenant.partners[k] for k in self.keys]
        self.tracking_prefix = pa.array(
            [BARCODE_ID + SERVICE_TYPE + p.mailer_id for p in partners], pa.string())
        m32 = [p.mortgage.format == "M32" for p in partners]
        self.record_prefix = pa.array(
            ["LN" if wide else k[0].upper() for k, wide in zip(self.keys, m32, strict=True)],
            pa.string())
        self.record_wide = np.array(m32)

    def _window_names(self) -> set[str]:
        names = set()
        for day in self.window:
            for partner in self.tenant.partners.values():
                names.add(formats.filename(partner.mortgage.filename, day))
                if sends_deliveries(partner.delivery.format, day):
                    names.add(formats.filename(partner.delivery.filename, day))
        return names

    def _next(self, what: str, partner: str, n: int, start: int = 0) -> np.ndarray:
        """The next `n` values of a per-partner counter."""
        first = self.counters.get((what, partner), start) + 1
        self.counters[(what, partner)] = first + n - 1
        return np.arange(first, first + n, dtype=np.int64)

    def run(self) -> Manifest:
        """Simulate the history, then write every day of the window."""
        for day in weekdays_before(self.window[0], HISTORY_DAYS):
            for key in self.keys:
                self._history_pieces(key, day)
        for index, day in enumerate(self.window):
            following = self.window[index + 1] if index + 1 < len(self.window) else day
            for key in self.keys:
                self._mortgage_file(key, day, following)
            for key in self.keys:
                partner = self.tenant.partners[key]
                if sends_deliveries(partner.delivery.format, day):
                    self._delivery_file(key, day, following)
            self._emit_resends(day)
        self.manifest.write(self._pieces_table())
        return self.manifest

    # ------------------------------------------------------------------ pieces

    def _add_pieces(self, key: str, serial: np.ndarray, zip5: np.ndarray, zip4: np.ndarray,
                    delivery_point: np.ndarray | int, mailed_on: int, record: np.ndarray | int,
                    known: np.ndarray | bool) -> None:
        """New pieces and their fate: delivered (or not) 1-5 days after mailing."""
        rng, n = self.rng, len(serial)
        fate = np.where(rng.random(n) < UNDELIVERABLE_RATE, UNDELIVERABLE, DELIVERED)
        event = mailed_on + rng.choice(TRANSIT_DAYS, size=n, p=TRANSIT_P)
        event += (event + 3) % 7 == 6
        self.pieces.add(n, partner=self.keys.index(key), serial=serial, zip5=zip5, zip4=zip4,
                        delivery_point=delivery_point, mailed_on=mailed_on, record=record,
                        known=known, fate=fate, event_on=event)

    def _history_pieces(self, key: str, day: date) -> None:
        partner = self.tenant.partners[key]
        n = self.per_partner[key]
        if partner.mortgage.format == "M32":
            serial = self._next("partner_serial", key, n)
        else:
            serial = self._next("prewindow_serial", key, n, PREWINDOW_SERIAL)
        place = self.rng.integers(0, len(self.places), n)
        zip4 = self.rng.integers(1, 10_000, n)
        self._add_pieces(key, serial, self.places.zip5[place], zip4,
                         self.rng.integers(0, 100, n), _day(day), -1, known=False)

    def _tracking(self, partner: np.ndarray, serial: np.ndarray) -> pa.Array:
        return pc.binary_join_element_wise(self.tracking_prefix.take(pa.array(partner)),
                                           _text(serial, 9), "")

    def _record_ids(self, partner: np.ndarray, record: np.ndarray) -> pa.Array:
        """`LN` and 8 digits for M32 partners, the key's initial and 7 digits for M15."""
        text = _where(self.record_wide[partner], _text(record, 8), _text(record, 7))
        return pc.binary_join_element_wise(self.record_prefix.take(pa.array(partner)), text, "")

    def _pieces_table(self) -> pa.Table:
        p = self.pieces
        known = np.flatnonzero(p.known[:p.size])
        status = p.status[known]
        return pa.table({
            "partner": _pick(self.keys, p.partner[known]),
            "record_id": self._record_ids(p.partner[known], p.record[known]),
            "tracking_code": self._tracking(p.partner[known], p.serial[known]),
            "mailed_on": _dates(p.mailed_on[known]),
            "status": _pick(STATUSES, status),
            "delivered_on": _where(status != MAILED, _dates(p.status_on[known]),
                                   pa.scalar(None, pa.date32())),
        }, schema=PIECE_SCHEMA)

    # ------------------------------------------------------------------ mortgage files

    def _mortgage_file(self, key: str, day: date, following: date) -> None:
        partner = self.tenant.partners[key]
        feed = partner.mortgage
        labels = defects.assign_rows(self.rng, self.quotas, feed.format,
                                     self.per_partner[key])
        values, entries = self._mortgage_rows(key, partner, day, labels)
        name = formats.filename(feed.filename, day)
        path = self.options.out / name
        if feed.format == "M32":
            self._m32_file(path, partner, values, day)
            file_defects = []
        else:
            file_defects = self._m15_file(path, key, partner, values,  # type: ignore[arg-type]
                                          labels)
        self._finish_file(key, partner, "mortgage", feed.format, name, day, following,
                          file_defects, entries, inserted=0)

    def _borrowers(self, labels: np.ndarray) -> People:
        """Two people per row (borrower at 2i, a possible co-borrower at 2i+1)."""
        n = len(labels)
        people = draw_people(self.rng, 2 * n, self.next_person, self.places,
                             PopulationRates(household_rate=0, namesake_rate=0))
        self.next_person += 2 * n
        lost = np.flatnonzero(labels == defects.code("zip_leading_zero_lost"))
        zero = self.zero_zip_places
        if len(lost) and len(zero):
            people.place[2 * lost] = zero[self.rng.integers(0, len(zero), len(lost))]
        return people

    def _names(self, key: str, partner: Partner, people: People, labels: np.ndarray,
               ) -> tuple[pa.Array, pa.Array, pa.Array]:
        """Borrower and co-borrower as the file writes them, and the borrower's parts."""
        rng, n, tables = self.rng, len(labels), name_tables()
        at = np.arange(0, 2 * n, 2)
        co = at + 1
        accented = (labels == defects.code("latin1_bytes")) | (rng.random(n) < ACCENTED_RATE)
        first = _where(accented, _pick(ACCENTED_FIRST, rng.integers(0, len(ACCENTED_FIRST), n)),
                       tables.first.take(pa.array(people.first[at])))
        last = _where(accented, _pick(ACCENTED_LAST, rng.integers(0, len(ACCENTED_LAST), n)),
                      tables.last.take(pa.array(people.last[at])))
        middle = _initials(people.middle[at])
        suffix = _where(labels == defects.code("name_suffix"),
                        _pick(NAME_SUFFIXES, rng.integers(0, len(NAME_SUFFIXES), n)), _NULL)
        has_co = rng.random(n) < CO_BORROWER_RATE
        co_last = _where(rng.random(n) < 0.7, last, tables.last.take(pa.array(people.last[co])))
        form = formats.name_form(key, partner.mortgage.format)
        swapped = labels == defects.code("name_form_swapped")
        borrower = _name_text(first, middle, last, suffix, form, swapped)
        co_borrower = _where(has_co, _name_text(
            tables.first.take(pa.array(people.first[co])), _initials(people.middle[co]),
            co_last, pa.nulls(n, pa.string()), form, swapped), _NULL)
        parts = pa.StructArray.from_arrays([first, middle, last, suffix], fields=list(NAME_TYPE))
        return borrower, co_borrower, parts

    def _mortgage_rows(self, key: str, partner: Partner, day: date, labels: np.ndarray,
                       ) -> tuple[dict[str, SheetColumn], dict[str, pa.Array]]:
        """The file's values per field and its manifest columns; records its pieces."""
        rng, n, today = self.rng, len(labels), _day(day)
        k = self.keys.index(key)
        m32 = partner.mortgage.format == "M32"
        people = self._borrowers(labels)
        at = np.arange(0, 2 * n, 2)
        borrower, co_borrower, parts = self._names(key, partner, people, labels)
        street = street_text({f: getattr(people, f)[at] for f in (
            "street_word", "street_suffix", "directional", "house")}, rng.random(n) < 0.5)
        unit = people.unit[at]
        street = _where(unit > 0, pc.binary_join_element_wise(street, _text(unit), " Apt "),
                        street)
        place = pa.array(people.place[at])
        zip5 = self.places.zip5[people.place[at]]
        zip5_text = self.places.zip5_text(people.place[at])
        zip4 = people.zip4[at].astype(np.int64)
        zip4_text = _text(zip4, 4)
        phone = people.phone[at]
        malformed = labels == defects.code("phone_malformed")
        shown = phone_text(phone, rng.integers(0, 7, n))
        if malformed.any():
            bad = [defects.malformed_phone(int(p) or 6175550100, rng) for p in phone[malformed]]
            shown = pc.replace_with_mask(shown, pa.array(malformed), pa.array(bad, pa.string()))
        record = self._next("record", key, n)
        values: dict[str, SheetColumn] = {
            "record_id": self._record_ids(np.full(n, k), record),
            "recording_date": _dates(today - rng.integers(3, 21, n)),
            "borrower": borrower,
            "co_borrower": co_borrower,
            "street": street,
            "city": self.places.city.take(place),
            "state": self.places.state.take(place),
            "zip": self._zip_cells(m32, zip5, zip5_text, zip4_text, labels),
            "county": self.places.county.take(place),
            "loan_amount": pa.array(rng.integers(60, 900, n) * 1000
                                    + rng.integers(0, 4, n) * 250),
            "loan_type": _pick([t[0] for t in LOAN_TYPES],
                               rng.choice(len(LOAN_TYPES), size=n, p=[t[1] for t in LOAN_TYPES])),
            "lender": _pick(LENDERS, rng.integers(0, len(LENDERS), n)),
            "phone": shown,
            "mail_piece_type": _pick(PIECE_TYPES, rng.integers(0, len(PIECE_TYPES), n)),
            "mailer_version": _pick(("A", "B"), rng.integers(0, 2, n)),
        }
        error = np.full(n, -1, np.int16)
        warning = np.full(n, -1, np.int16)
        missing = np.flatnonzero(labels == defects.code("missing_required"))
        missing_field = rng.integers(0, len(MORTGAGE_REQUIRED), len(missing))
        for index, field in enumerate(MORTGAGE_REQUIRED):
            rows = missing[missing_field == index]
            error[rows] = finding("MISSING_REQUIRED", field)
            blank = np.zeros(n, bool)
            blank[rows] = True
            values[field] = _blank(values[field], blank)
        warning[malformed] = finding("PHONE_INVALID", "phone")
        warning[labels == defects.code("latin1_bytes")] = finding("ENCODING_LATIN1", "borrower")
        if m32:
            serial = self._next("partner_serial", key, n)
            tracking = self._tracking(np.full(n, k), serial)
            full = pc.binary_join_element_wise(zip5_text, zip4_text, "")
            routing = pc.choose(pa.array(rng.integers(0, 3, n).astype(np.int8)), zip5_text, full,
                                pc.binary_join_element_wise(full, "00", ""))
            bars = [imb.encode(t, r) for t, r in zip(tracking.to_pylist(), routing.to_pylist(),
                                                      strict=True)]
            self._damage_bars(bars, labels, error, warning)
            values["barcode"] = pa.array(bars, pa.string())
            values["mail_date"] = _dates(np.full(n, today))
        loaded = error < 0
        if not m32:
            serial = np.zeros(n, np.int64)
            serial[loaded] = self._next("pipeline_serial", key, int(loaded.sum()))
            tracking = self._tracking(np.full(n, k), serial)
        pieces = np.arange(n) if m32 else np.flatnonzero(loaded)
        kept = record.copy()
        kept[missing[missing_field == MORTGAGE_REQUIRED.index("record_id")]] = -1
        self._add_pieces(key, serial[pieces], zip5[pieces], zip4[pieces],
                         0 if m32 else rng.integers(0, 100, len(pieces)), today, kept[pieces],
                         loaded[pieces])
        phone_ok = (phone > 0) & ~malformed
        entries = {
            "expect": _where(loaded, "loaded", "rejected"),
            "partner": _repeat(key, n),
            "record_id": values["record_id"],
            "tracking_code": _where(loaded, tracking, _NULL),
            "mailed_on": _where(loaded, _dates(np.full(n, today)), pa.scalar(None, pa.date32())),
            "borrower": parts,
            "zip5": zip5_text,
            "phone_e164": _where(phone_ok, pc.binary_join_element_wise("+1", _text(phone), ""),
                                 _NULL),
            "error": findings_array(error),
            "warnings": warnings_array(warning),
            "defects": defects_array(labels),
        }
        return values, entries

    def _zip_cells(self, m32: bool, zip5: np.ndarray, zip5_text: pa.Array, zip4_text: pa.Array,
                   labels: np.ndarray) -> SheetColumn:
        """ZIP5, ZIP+4 or 9 digits; a lost leading zero; harbor stores some ZIPs as numbers."""
        rng, n = self.rng, len(labels)
        join = pc.binary_join_element_wise
        lost = (labels == defects.code("zip_leading_zero_lost")) & (zip5 < 10_000)
        style = rng.choice(3, size=n, p=[0.7, 0.2, 0.1])
        text = pc.choose(pa.array(style.astype(np.int8)), zip5_text,
                         join(zip5_text, zip4_text, "-"), join(zip5_text, zip4_text, ""))
        if not m32:
            return _where(lost, _text(zip5), text)
        number = lost | ((style == 0) & (zip5 >= 10_000) & (rng.random(n) < 0.4))
        return _where(number, _NULL, text), pa.array(zip5.astype(np.int64), mask=~number)

    def _damage_bars(self, bars: list[str], labels: np.ndarray, error: np.ndarray,
                     warning: np.ndarray) -> None:
        """Plant the bar defects of `labels` in `bars`, recording the row's finding."""
        codes = [defects.code(label) for label in _BAR_DEFECTS]
        for row in np.flatnonzero(np.isin(labels, codes)):
            label = defects.LABELS[labels[row]]
            if label == "bars_undecodable":
                bars[row], reason = defects.undecodable(bars[row], self.rng)
                error[row] = finding("BARCODE_INVALID", "barcode", reason)
            elif label == "bars_crc_damaged":
                bars[row] = defects.crc_damaged(bars[row], self.rng)
                error[row] = finding("BARCODE_INVALID", "barcode", "crc")
            else:
                bars[row], _ = defects.repairable(bars[row], self.rng)
                warning[row] = finding("BARCODE_REPAIRED", "barcode")

    def _m15_file(self, path: Path, key: str, partner: Partner, values: dict[str, pa.Array],
                  labels: np.ndarray) -> list[str]:
        """Write an M15 CSV (every M15 value is one Arrow array); returns its file defects."""
        feed = partner.mortgage
        order = column_order(key)
        cells = {**values, "recording_date": _strftime(values["recording_date"], feed.date_format),
                 "loan_amount": self._loan_text(values["loan_amount"])}
        bom = self.quotas.take("bom", 1) > 0
        crlf = self.quotas.take("crlf", 1) > 0
        partner_files.csv_file(
            path, [feed.columns[f] for f in order], [cells[f].to_pylist() for f in order],
            quote_all=quotes_all(key), crlf=crlf, bom=bom,
            latin1_rows=np.flatnonzero(labels == defects.code("latin1_bytes")).tolist())
        return [label for label, on in (("bom", bom), ("crlf", crlf)) if on]

    def _loan_text(self, amounts: pa.Array) -> pa.Array:
        """250000, $250,000, 250000.00 or $250,000.00 (amounts are under a million)."""
        amount = amounts.to_numpy()
        join = pc.binary_join_element_wise
        plain = _text(amount)
        comma = join(_text(amount // 1000), _text(amount % 1000, 3), ",")
        style = self.rng.integers(0, 4, len(amount)).astype(np.int8)
        return pc.choose(pa.array(style), plain, join("$", comma, ""), join(plain, ".00", ""),
                         join("$", comma, ".00", ""))

    def _m32_file(self, path: Path, partner: Partner, values: dict[str, SheetColumn],
                  day: date) -> None:
        columns = partner.mortgage.columns
        fields = [*MORTGAGE_FIELDS, *M32_EXTRA_FIELDS]
        header = [columns[f] for f in fields] + list(formats.M32_EXTRA_COLUMNS)
        cells = [pc.utf8_upper(values[f]) if f in ("street", "city", "county") else values[f]
                 for f in fields] + self._m32_extras(day, len(values["barcode"]))
        order = self.rng.permutation(len(header))
        partner_files.xlsx_file(path, "Sheet1", [header[i] for i in order],
                                [cells[i] for i in order],
                                datetime(day.year, day.month, day.day, 5, 30))

    def _m32_extras(self, day: date, n: int) -> list[SheetColumn]:
        """The fifteen pass-through columns, in `formats.M32_EXTRA_COLUMNS` order."""
        rng = self.rng
        join = pc.binary_join_element_wise
        place = rng.integers(0, len(self.places), n)
        return [
            join(_text(rng.integers(100, 999, n)), _text(rng.integers(100, 999, n)),
                 _text(rng.integers(10, 99, n)), "-"),
            pa.array(rng.integers(80, 1200, n) * 1000),
            _dates(_day(day) - rng.integers(20, 60, n)),
            _pick(TITLE_COMPANIES, rng.integers(0, len(TITLE_COMPANIES), n)),
            join(_text(rng.integers(1, 9999, n)),
                 _pick(LENDER_STREETS, rng.integers(0, len(LENDER_STREETS), n)), "St", " "),
            self.places.city.take(pa.array(place)),
            self.places.state.take(pa.array(place)),
            self.places.zip5_text(place),
            _pick(PROPERTY_TYPES, rng.integers(0, len(PROPERTY_TYPES), n)),
            pa.array(rng.integers(1, 6, n)),
            pa.array(BATHROOMS[rng.integers(0, len(BATHROOMS), n)]),
            pa.array(rng.integers(1900, 2024, n)),
            pa.array(rng.integers(600, 4500, n)),
            _pick(("Y", "N"), (rng.random(n) >= 0.85).astype(np.int8)),
            join(str(day.year), _text(rng.integers(0, 10**7, n), 7), "-"),
        ]

    # ------------------------------------------------------------------ delivery files

    def _delivery_file(self, key: str, day: date, following: date) -> None:
        partner = self.tenant.partners[key]
        fmt = partner.delivery.format
        k, today, p = self.keys.index(key), _day(day), self.pieces
        due = np.flatnonzero((p.partner[:p.size] == k) & ~p.reported[:p.size]
                             & (p.event_on[:p.size] < today))
        due = due[np.argsort(p.event_on[due], kind="stable")]
        p.reported[due] = True
        base = due if fmt in formats.STATUS_FORMATS else due[p.fate[due] == DELIVERED]
        labels = defects.assign_rows(self.rng, self.quotas, fmt, len(base))
        added, added_on, added_label, slot = self._inserted_rows(k, fmt, base, labels, today)
        order = np.argsort(np.concatenate([2 * np.arange(len(base)) + 1, 2 * slot]),
                           kind="stable")
        piece = np.concatenate([base, added])[order]
        status = np.concatenate([p.fate[base], np.full(len(added), DELIVERED)])[order]
        on = np.concatenate([p.event_on[base], added_on])[order]
        label = np.concatenate([labels, added_label])[order]
        inserted = (order >= len(base))
        error = np.full(len(piece), -1, np.int16)
        warning = np.full((len(piece), 2), -1, np.int16)
        name = formats.filename(partner.delivery.filename, day)
        tracking, file_defects = self._delivery_cells(
            self.options.out / name, partner, day, piece, status, on, label, error,
            warning[:, 0])
        expect = self._confirm(k, piece, status, on, inserted, error, warning[:, 1])
        entries = {
            "expect": _pick(EXPECTS, expect),
            "partner": _repeat(key, len(piece)),
            "record_id": self._record_ids(p.partner[piece], p.record[piece]),
            "tracking_code": tracking,
            "piece_partner": _pick(self.keys, p.partner[piece]),
            "status": _pick(STATUSES, status),
            "delivered_on": _dates(on),
            "error": findings_array(error),
            "warnings": warnings_array(warning),
            "defects": defects_array(label),
        }
        self._finish_file(key, partner, "delivery", fmt, name, day, following, file_defects,
                          entries, inserted=int(inserted.sum()))

    def _inserted_rows(self, k: int, fmt: str, base: np.ndarray, labels: np.ndarray,
                       today: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Rows a defect adds: (piece, date, label, slot), inserted before base row `slot`."""
        rng, p = self.rng, self.pieces
        inserted = defects.classes_for(fmt, defects.ROW, defects.INSERT)
        scale = 1.0 / (1.0 - self.options.defect_rate * len(inserted))
        parts = [(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int8),
                  np.zeros(0, np.int64))]
        for defect in inserted:
            count = self.quotas.take(defect.label, len(base) * scale)
            if defect.label == "second_confirmation":
                piece, slot = self._second_confirmations(k, base, labels, count)
                first = np.where(p.status[piece] != MAILED, p.status_on[piece],
                                 p.event_on[piece])
                before = (first[:, None] + SECOND_CONFIRMATION_SHIFT < today).sum(axis=1)
                on = first + SECOND_CONFIRMATION_SHIFT[rng.integers(0, np.maximum(before, 1))]
            else:
                others = np.flatnonzero((p.partner[:p.size] != k)
                                        & (p.mailed_on[:p.size] < today))
                count = count if len(others) else 0
                piece = others[rng.integers(0, max(len(others), 1), count)]
                on = np.minimum(p.event_on[piece], today - 1)
                slot = rng.integers(0, len(base) + 1, count)
            parts.append((piece, on, np.full(len(piece), defects.code(defect.label), np.int8),
                          slot))
        piece, on, label, slot = (np.concatenate(c) for c in zip(*parts, strict=True))
        return piece, on, label, slot

    def _second_confirmations(self, k: int, base: np.ndarray, labels: np.ndarray, count: int,
                              ) -> tuple[np.ndarray, np.ndarray]:
        """Pieces confirmed again, and their slots: a piece confirmed in an earlier file
        (anywhere), else a clean row of this file (after it)."""
        rng, p = self.rng, self.pieces
        earlier = np.flatnonzero((p.partner[:p.size] == k) & p.confirmed[:p.size])
        if len(earlier):
            return (earlier[rng.integers(0, len(earlier), count)],
                    rng.integers(0, len(base) + 1, count))
        here = np.flatnonzero(labels < 0)
        if not len(here):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        at = here[rng.integers(0, len(here), count)]
        return base[at], rng.integers(at + 1, len(base) + 1)

    def _confirm(self, k: int, piece: np.ndarray, status: np.ndarray, on: np.ndarray,
                 inserted: np.ndarray, error: np.ndarray, warning: np.ndarray) -> np.ndarray:
        """What the pipeline makes of each row (an `EXPECTS` index), updating its view.

        A file's own rows name distinct pieces of this partner not confirmed before, so they
        are decided together; an inserted row names a piece of another partner, of an
        earlier file, or of a row above it, so it is decided after them.
        """
        p = self.pieces
        expect = np.full(len(piece), REJECTED, np.int8)
        own = np.flatnonzero(~inserted & (error < 0))
        ids = piece[own]
        known = p.known[ids]
        p.confirmed[ids] = True
        expect[own] = np.where(known, _APPLIED[status[own]], IGNORED)
        warning[own[~known]] = finding("PIECE_UNKNOWN", "barcode")
        p.status[ids[known]] = status[own[known]]
        p.status_on[ids[known]] = on[own[known]]
        for row in np.flatnonzero(inserted & (error < 0)):
            expect[row], warning[row] = self._confirm_one(k, piece[row], status[row], on[row])
        return expect

    def _confirm_one(self, k: int, piece: int, status: int, on: int) -> tuple[int, int]:
        """One confirmation's (expect, warning), updating the pipeline's view of the piece."""
        p = self.pieces
        if p.partner[piece] != k:
            return IGNORED, finding("DELIVERY_OTHER_PARTNER", "barcode")
        p.confirmed[piece] = True
        if not p.known[piece]:
            return IGNORED, finding("PIECE_UNKNOWN", "barcode")
        if p.status[piece] != MAILED:
            return IGNORED, finding("DELIVERY_ALREADY_CONFIRMED", "barcode")
        p.status[piece], p.status_on[piece] = status, on
        return int(_APPLIED[status]), -1

    def _delivery_cells(self, path: Path, partner: Partner, day: date, piece: np.ndarray,
                        status: np.ndarray, on: np.ndarray, label: np.ndarray,
                        error: np.ndarray, warning: np.ndarray) -> tuple[pa.Array, list[str]]:
        """Write the delivery file; returns the rows' tracking codes and the file's defects."""
        fmt, p, rng, n = partner.delivery.format, self.pieces, self.rng, len(piece)
        join = pc.binary_join_element_wise
        tracking = self._tracking(p.partner[piece], p.serial[piece])
        zip5 = _text(p.zip5[piece], 5)
        zip4 = _text(p.zip4[piece], 4)
        routing = join(zip5, zip4, _text(p.delivery_point[piece], 2), "")
        days = _dates(on)
        created = datetime(day.year, day.month, day.day, 6, 15)
        excel = label == defects.code("excel_number")
        error[excel] = finding("BARCODE_EXCEL_NUMBER", "barcode")
        if fmt == "D1":
            bom = self.quotas.take("bom", 1) > 0
            crlf = self.quotas.take("crlf", 1) > 0
            cells = [join(tracking, routing, ""), _strftime(days, formats.D1_DATE), zip5,
                     _pick(D1_OP_CODES, rng.integers(0, len(D1_OP_CODES), n))]
            partner_files.csv_file(path, None, [c.to_pylist() for c in cells], crlf=crlf,
                                   bom=bom)
            return tracking, [label for label, on in (("bom", bom), ("crlf", crlf)) if on]
        if fmt == "D2":
            partner_files.xlsx_file(path, formats.D2_SHEET, formats.D2_HEADERS,
                                    [_excel_numbers(tracking, excel), days, zip5], created)
            return tracking, []
        if fmt == "D3":
            bars = [imb.encode(t, r) for t, r in zip(tracking.to_pylist(), routing.to_pylist(),
                                                      strict=True)]
            self._damage_bars(bars, label, error, warning)
            lines = partner_files.d3_lines(pa.array(bars, pa.string()), days, zip5,
                                           _where(rng.random(n) < 0.8, zip4, _NULL),
                                           _pick(STATUSES, status))
            crlf = self.quotas.take("crlf", 1) > 0
            partner_files.d3_zip(path, day, lines, crlf=crlf)
            return tracking, ["crlf"] if crlf else []
        title = f"{partner.name} - Delivery Confirmations {day.strftime(formats.D4_DATE)}"
        shown = pa.array([formats.D4_STATUS.get(s) for s in STATUSES], pa.string())
        partner_files.xlsx_file(path, formats.D4_SHEET, formats.D4_HEADERS,
                                [_excel_numbers(join(tracking, routing, ""), excel),
                                 _strftime(days, formats.D4_DATE),
                                 shown.take(pa.array(status))],
                                created, title=title)
        return tracking, []

    # ------------------------------------------------------------------ files

    def _finish_file(self, key: str, partner: Partner, kind: str, fmt: str, name: str,
                     day: date, following: date, file_defects: list[str],
                     entries: dict[str, pa.Array], inserted: int) -> None:
        """Record the written file and its rows, and maybe schedule a renamed re-send."""
        first_physical = {"M15": 1, "M32": 1, "D1": 0, "D2": 1, "D3": 0,
                          "D4": formats.D4_HEADER_ROW}[fmt]
        rows = _row_batch(name, first_physical, entries)
        self.manifest.add_rows(rows, fmt, inserted)
        resend = self.quotas.take("resent_renamed", 1) > 0
        original = self.manifest.add_file(
            name, partner=key, kind=kind, file_format=fmt, day=day, rows=rows.num_rows,
            defects=[*file_defects, *(["resent_renamed"] if resend else [])])
        if resend:
            pattern = partner.mortgage.filename if kind == "mortgage" \
                else partner.delivery.filename
            self.resends.append(_Resend(following, self._resend_name(pattern, day), original,
                                        rows))

    def _resend_name(self, pattern: str, day: date) -> str:
        """A name the pattern accepts, with a date no other file of the run carries."""
        candidate = day
        while True:
            candidate += timedelta(days=1)
            name = formats.filename(pattern, candidate)
            if name not in self.names_used:
                self.names_used.add(name)
                return name

    def _emit_resends(self, day: date) -> None:
        for resend in [r for r in self.resends if r.arrives == day]:
            original = resend.original
            shutil.copyfile(self.options.out / original["name"], self.options.out / resend.name)
            n = resend.rows.num_rows
            columns = {f.name: resend.rows.column(f.name) for f in ROW_SCHEMA}
            columns.update({
                "file": _repeat(resend.name, n), "expect": _repeat("untouched", n),
                "error": pa.nulls(n, ROW_SCHEMA.field("error").type),
                "warnings": warnings_array(np.full(n, -1)),
                "defects": defects_array(np.full(n, -1)),
            })
            self.manifest.add_rows(pa.RecordBatch.from_arrays(list(columns.values()),
                                                              schema=ROW_SCHEMA),
                                   original["format"], 0)
            self.manifest.add_file(
                resend.name, partner=original["partner"], kind=original["kind"],
                file_format=original["format"], day=day, rows=original["rows"], defects=[],
                resend_of=original["name"])
            self.resends.remove(resend)


def _excel_numbers(codes: pa.Array, excel: np.ndarray) -> SheetColumn:
    """The codes as text, except those in `excel`: a float, as Excel keeps a typed number."""
    if not excel.any():
        return codes
    numbers = np.zeros(len(codes))
    numbers[excel] = [defects.excel_number(c) for c in codes.filter(pa.array(excel)).to_pylist()]
    return _where(excel, _NULL, codes), pa.array(numbers, mask=~excel)


def generate_partner_days(options: PartnerDayOptions) -> Manifest:
    """Write the run's partner files and manifest (manifest.json, manifest/*.parquet).

    Args:
        options: What to generate and where.

    Returns:
        The manifest, as written to `out` (`sampledata.manifest.load_manifest` reads it).
    """
    return _Run(options).run()
