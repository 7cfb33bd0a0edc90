"""Partner days with ground truth: `leadpipe generate partner-day`.

A run simulates K consecutive weekdays of the four partners of the tenant file. Each day
every partner sends its mortgage file (M32 or M15) and the partners whose day it is send a
delivery file (D1-D4) confirming pieces mailed on earlier days, including pieces mailed in
the week before the run, which the pipeline never saw. Defects are planted at the configured
rate and the manifest records, for every row, what the pipeline must make of it; the
simulation keeps the pipeline's view of every piece (loaded? already confirmed?) so that the
expectations follow FORMATS.md's rules (first confirmation wins, a confirmation only
touches its own partner's pieces).

Partner headers, file-name patterns, date formats and mailer ids come from the tenant file;
format-level facts from `sampledata.formats`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

import imb
from leadpipe import tenant as tenant_config
from leadpipe.tenant import M32_EXTRA_FIELDS, MORTGAGE_FIELDS, Partner
from sampledata import defects, formats, partner_files
from sampledata.manifest import Manifest, error
from sampledata.people import (
    People,
    PopulationRates,
    draw_people,
    draw_places,
    name_tables,
)
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

ACCENTED_FIRST = ("José", "María", "Jesús", "Sofía", "Ramón", "Héctor", "Inés", "Raúl",
                  "Andrés", "Verónica", "Zoë", "Renée", "Noémie", "François")
ACCENTED_LAST = ("Peña", "Muñoz", "Ibáñez", "Núñez", "Gómez", "Pérez", "Martínez",
                 "Rodríguez", "Hernández", "Ramírez", "Sánchez", "Domínguez", "Côté", "Müller")
LENDERS = ("First Harbor Bank", "Keystone Federal Savings", "Summit Home Loans",
           "Pinecrest Mortgage Co", "Liberty Mutual Lending", "Heartland Credit Union",
           "Bayview Funding", "Granite State Mortgage", "Prairie Home Lending",
           "Cornerstone Bank", "Evergreen Home Finance", "Union Square Mortgage")
TITLE_COMPANIES = ("First American Title", "Old Republic Title", "Stewart Title",
                   "Fidelity National Title", "Chicago Title", "Landmark Title Agency")
LOAN_TYPES = (("CONV", 0.6), ("FHA", 0.2), ("VA", 0.12), ("USDA", 0.08))
PIECE_TYPES = ("LETTER", "POSTCARD", "SELFMAILER")
PROPERTY_TYPES = ("SFR", "CONDO", "TOWNHOUSE", "2-4 UNIT")
D1_OP_CODES = ("918", "919", "914")


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


@dataclass(frozen=True)
class Name:
    """A borrower's name, as the pipeline should parse it."""

    first: str
    middle: str | None
    last: str
    suffix: str | None

    def text(self, form: str) -> str:
        """The name written in `form`: natural, upper_natural or last_first (upper)."""
        if form == "last_first":
            given = " ".join(p for p in (self.first, self.middle, self.suffix) if p)
            return f"{self.last}, {given}".upper()
        natural = " ".join(p for p in (self.first, self.middle, self.last, self.suffix) if p)
        return natural.upper() if form == "upper_natural" else natural

    def as_json(self) -> dict[str, str | None]:
        """The parts, as the manifest states them (compare case-insensitively)."""
        return {"first": self.first, "middle": self.middle, "last": self.last,
                "suffix": self.suffix}


def swapped_form(form: str) -> str:
    """The other common form: `LAST, FIRST` for natural forms, and back."""
    return "natural" if form == "last_first" else "last_first"


@dataclass
class Piece:
    """A mail piece as the world and the pipeline see it."""

    partner: str
    tracking: str
    zip5: str
    zip4: str
    delivery_point: str
    mailed_on: date
    record_id: str | None
    known: bool
    """Whether the pipeline loaded it (False: rejected row, or mailed before the run)."""
    fate: str
    event_on: date
    reported: bool = False
    status: str = "mailed"
    """The pipeline's status for a known piece after the rows seen so far."""
    status_on: date | None = None
    confirmed_by_row: bool = False

    @property
    def routing(self) -> str:
        """The 11-digit routing code: ZIP5, ZIP4, delivery point."""
        return self.zip5 + self.zip4 + self.delivery_point


@dataclass
class _DeliveryRow:
    piece: Piece
    status: str
    on: date
    label: str | None = None


@dataclass
class _Resend:
    arrives: date
    name: str
    original: dict[str, Any]
    data: bytes
    rows: list[dict[str, Any]]


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


class _Run:
    """One generation run: the world's pieces, the pipeline's view of them, the manifest."""

    def __init__(self, options: PartnerDayOptions) -> None:
        if not 0 <= options.defect_rate <= defects.max_rate():
            raise ValueError(f"defect rate must be between 0 and {defects.max_rate():.3f} "
                             "(one defect per row at most)")
        self.options = options
        self.tenant = tenant_config.load(options.tenant)
        self.partners = list(self.tenant.partners)
        self.rng = np.random.Generator(np.random.PCG64(options.seed))
        self.quotas = defects.Quotas(options.defect_rate, self.rng)
        self.places = draw_places(self.rng, 1500)
        self.zero_zip_places = np.flatnonzero(self.places.zip5 < 10_000)
        self.window = weekdays_from(options.day, options.days)
        self.manifest = Manifest(options.defect_rate, options.seed, self.tenant.name,
                                 self.window)
        self.pieces: dict[str, Piece] = {}
        self.counters: dict[tuple[str, str], int] = {}
        self.next_person = 1
        self.resends: list[_Resend] = []
        self.names_used = self._window_names()
        share, extra = divmod(options.pieces, len(self.partners))
        self.per_partner = {k: share + (i < extra) for i, k in enumerate(self.partners)}

    def _window_names(self) -> set[str]:
        names = set()
        for day in self.window:
            for partner in self.tenant.partners.values():
                names.add(formats.filename(partner.mortgage.filename, day))
                if sends_deliveries(partner.delivery.format, day):
                    names.add(formats.filename(partner.delivery.filename, day))
        return names

    def count(self, what: str, partner: str, start: int = 0) -> int:
        """The next value of a per-partner counter."""
        value = self.counters.get((what, partner), start) + 1
        self.counters[(what, partner)] = value
        return value

    def run(self) -> Manifest:
        """Simulate the history, then write every day of the window."""
        self.options.out.mkdir(parents=True, exist_ok=True)
        for day in weekdays_before(self.window[0], HISTORY_DAYS):
            for key in self.partners:
                self._history_pieces(key, day)
        for index, day in enumerate(self.window):
            following = self.window[index + 1] if index + 1 < len(self.window) else day
            for key in self.partners:
                self._mortgage_file(key, day, following)
            for key in self.partners:
                partner = self.tenant.partners[key]
                if sends_deliveries(partner.delivery.format, day):
                    self._delivery_file(key, day, following)
            self._emit_resends(day)
        self.manifest.pieces = [self._piece_json(p) for p in self.pieces.values() if p.known]
        self.manifest.write(self.options.out / "manifest.json")
        return self.manifest

    # ------------------------------------------------------------------ pieces

    def _fate(self, mailed_on: date) -> tuple[str, date]:
        fate = "undeliverable" if self.rng.random() < UNDELIVERABLE_RATE else "delivered"
        event = mailed_on + timedelta(days=int(self.rng.choice([1, 2, 3, 4, 5],
                                                               p=[.1, .3, .3, .2, .1])))
        if event.weekday() == 6:
            event += timedelta(days=1)
        return fate, event

    def _new_piece(self, key: str, tracking: str, zip5: str, zip4: str, mailed_on: date,
                   record_id: str | None, known: bool) -> Piece:
        fate, event = self._fate(mailed_on)
        piece = Piece(key, tracking, zip5, zip4, f"{int(self.rng.integers(0, 100)):02d}",
                      mailed_on, record_id, known, fate, event)
        self.pieces[tracking] = piece
        return piece

    def _history_pieces(self, key: str, day: date) -> None:
        partner = self.tenant.partners[key]
        for _ in range(self.per_partner[key]):
            if partner.mortgage.format == "M32":
                serial = self.count("partner_serial", key)
            else:
                serial = self.count("prewindow_serial", key, PREWINDOW_SERIAL)
            place = int(self.rng.integers(0, len(self.places)))
            zip5 = f"{self.places.zip5[place]:05d}"
            zip4 = f"{int(self.rng.integers(1, 10_000)):04d}"
            self._new_piece(key, tracking_code(partner.mailer_id, serial), zip5, zip4, day,
                            None, known=False)

    @staticmethod
    def _piece_json(piece: Piece) -> dict[str, Any]:
        return {
            "partner": piece.partner, "record_id": piece.record_id,
            "tracking_code": piece.tracking, "mailed_on": piece.mailed_on.isoformat(),
            "status": piece.status,
            "delivered_on": piece.status_on.isoformat() if piece.status_on else None,
        }

    # ------------------------------------------------------------------ mortgage files

    def _mortgage_file(self, key: str, day: date, following: date) -> None:
        partner = self.tenant.partners[key]
        feed = partner.mortgage
        n = self.per_partner[key]
        labels = defects.assign_rows(self.rng, self.quotas, feed.format, n)
        people = self._borrowers(n, labels)
        streets = street_text({f: getattr(people, f) for f in (
            "street_word", "street_suffix", "directional", "house")},
            self.rng.random(len(people)) < 0.5).to_pylist()
        phones = phone_text(people.phone, self.rng.integers(0, 7, len(people))).to_pylist()
        rows = [self._mortgage_row(key, partner, day, label, people, 2 * i, streets[2 * i],
                                   phones[2 * i])
                for i, label in enumerate(labels)]
        name = formats.filename(feed.filename, day)
        if feed.format == "M32":
            data, file_defects = self._m32_bytes(partner, rows, day), []
        else:
            data, file_defects = self._m15_bytes(key, partner, rows)
        self._finish_file(key, partner, "mortgage", feed.format, name, day, following, data,
                          file_defects, [r["manifest"] for r in rows])

    def _borrowers(self, n: int, labels: list[str | None]) -> People:
        """Two people per row (borrower at 2i, a possible co-borrower at 2i+1)."""
        people = draw_people(self.rng, 2 * n, self.next_person, self.places,
                             PopulationRates(household_rate=0, namesake_rate=0))
        self.next_person += 2 * n
        people.suffix[:] = 0
        zero = self.zero_zip_places
        for i, label in enumerate(labels):
            if label == "zip_leading_zero_lost" and len(zero):
                people.place[2 * i] = zero[int(self.rng.integers(0, len(zero)))]
        return people

    def _name(self, people: People, index: int, accented: bool) -> Name:
        tables = name_tables()
        if accented:
            first = str(self.rng.choice(ACCENTED_FIRST))
            last = str(self.rng.choice(ACCENTED_LAST))
        else:
            first = tables.first[int(people.first[index])].as_py()
            last = tables.last[int(people.last[index])].as_py()
        middle_index = int(people.middle[index])
        middle = tables.first[middle_index].as_py()[0] if middle_index >= 0 else None
        return Name(first, middle, last, None)

    def _mortgage_row(self, key: str, partner: Partner, day: date, label: str | None,
                      people: People, at: int, street: str, phone_shown: str | None,
                      ) -> dict[str, Any]:
        """One borrower's row: logical values, cells per field, and the manifest entry."""
        rng = self.rng
        accented = label == "latin1_bytes" or rng.random() < ACCENTED_RATE
        borrower = self._name(people, at, accented)
        if label == "name_suffix":
            borrower = Name(borrower.first, borrower.middle, borrower.last,
                            str(rng.choice(["Jr", "Sr", "II", "III"])))
        co_borrower = None
        if rng.random() < CO_BORROWER_RATE:
            other = self._name(people, at + 1, False)
            last = borrower.last if rng.random() < 0.7 else other.last
            co_borrower = Name(other.first, other.middle, last, None)
        form = formats.name_form(key, partner.mortgage.format)
        if label == "name_form_swapped":
            form = swapped_form(form)
        unit = int(people.unit[at])
        if unit:
            street += f" Apt {unit}"
        place = int(people.place[at])
        zip5 = f"{self.places.zip5[place]:05d}"
        zip4 = f"{int(people.zip4[at]):04d}"
        phone = int(people.phone[at])
        if label == "phone_malformed":
            phone_shown = defects.malformed_phone(phone or 6175550100, rng)
        record_id = self._record_id(key, partner)
        values: dict[str, Any] = {
            "record_id": record_id,
            "recording_date": day - timedelta(days=int(rng.integers(3, 21))),
            "borrower": borrower.text(form),
            "co_borrower": co_borrower.text(form) if co_borrower else None,
            "street": street,
            "city": self.places.city[place].as_py(),
            "state": self.places.state[place].as_py(),
            "zip": self._zip_cell(partner, zip5, zip4, label),
            "county": self.places.county[place].as_py(),
            "loan_amount": int(rng.integers(60, 900)) * 1000 + int(rng.integers(0, 4)) * 250,
            "loan_type": LOAN_TYPES[int(rng.choice(4, p=[t[1] for t in LOAN_TYPES]))][0],
            "lender": str(rng.choice(LENDERS)),
            "phone": phone_shown,
            "mail_piece_type": str(rng.choice(PIECE_TYPES)),
            "mailer_version": str(rng.choice(["A", "B"])),
        }
        missing = None
        if label == "missing_required":
            missing = str(rng.choice(tenant_config.MORTGAGE_REQUIRED))
            values[missing] = None
        entry = self._mortgage_expectation(key, partner, day, values, label, missing, zip5,
                                           zip4, phone, borrower)
        return {"values": values, "manifest": entry, "latin1": label == "latin1_bytes"}

    def _record_id(self, key: str, partner: Partner) -> str:
        number = self.count("record", key)
        if partner.mortgage.format == "M32":
            return f"LN{number:08d}"
        return f"{key[0].upper()}{number:07d}"

    def _zip_cell(self, partner: Partner, zip5: str, zip4: str, label: str | None) -> Any:
        if label == "zip_leading_zero_lost" and zip5.startswith("0"):
            lost = str(int(zip5))
            return int(lost) if partner.mortgage.format == "M32" else lost
        style = int(self.rng.choice(3, p=[0.7, 0.2, 0.1]))
        text = (zip5, f"{zip5}-{zip4}", zip5 + zip4)[style]
        if partner.mortgage.format == "M32" and style == 0 and not zip5.startswith("0") \
                and self.rng.random() < 0.4:
            return int(zip5)
        return text

    def _mortgage_expectation(self, key: str, partner: Partner, day: date,
                              values: dict[str, Any], label: str | None, missing: str | None,
                              zip5: str, zip4: str, phone: int, borrower: Name,
                              ) -> dict[str, Any]:
        """Decide the row's outcome; for M32 also draw its bars (and damage them)."""
        m32 = partner.mortgage.format == "M32"
        row_error, warnings = None, []
        tracking = None
        if m32:
            tracking = tracking_code(partner.mailer_id, self.count("partner_serial", key))
            routing = (zip5, zip5 + zip4, zip5 + zip4 + "00")[int(self.rng.integers(0, 3))]
            bars = imb.encode(tracking, routing)
            if label == "bars_undecodable":
                bars, reason = defects.undecodable(bars, self.rng)
                row_error = error("BARCODE_INVALID", "barcode", reason)
            elif label == "bars_crc_damaged":
                bars = defects.crc_damaged(bars, self.rng)
                row_error = error("BARCODE_INVALID", "barcode", "crc")
            elif label == "bars_repairable":
                bars, _ = defects.repairable(bars, self.rng)
                warnings.append(error("BARCODE_REPAIRED", "barcode"))
            values["barcode"] = bars
            values["mail_date"] = day
        if missing is not None:
            row_error = error("MISSING_REQUIRED", missing)
        if label == "phone_malformed":
            warnings.append(error("PHONE_INVALID", "phone"))
        if label == "latin1_bytes":
            warnings.append(error("ENCODING_LATIN1", "borrower"))
        loaded = row_error is None
        if loaded and not m32:
            tracking = tracking_code(partner.mailer_id, self.count("pipeline_serial", key))
        if tracking is not None:
            piece = self._new_piece(key, tracking, zip5, zip4, day, values["record_id"],
                                    known=loaded)
            piece.delivery_point = "00" if m32 else piece.delivery_point
        return {
            "expect": "loaded" if loaded else "rejected",
            "partner": key,
            "record_id": values["record_id"],
            "tracking_code": tracking if loaded else None,
            "mailed_on": day.isoformat() if loaded else None,
            "borrower": borrower.as_json(),
            "zip5": zip5,
            "phone_e164": f"+1{phone}" if phone and label != "phone_malformed" else None,
            "error": row_error,
            "warnings": warnings,
            "defects": [label] if label else [],
        }

    def _m15_bytes(self, key: str, partner: Partner, rows: list[dict[str, Any]],
                   ) -> tuple[bytes, list[str]]:
        feed = partner.mortgage
        order = column_order(key)
        header = [feed.columns[f] for f in order]
        cells = []
        for row in rows:
            values = dict(row["values"])
            values["recording_date"] = values["recording_date"].strftime(feed.date_format)
            values["loan_amount"] = self._loan_text(values["loan_amount"])
            cells.append([values[f] for f in order])
        bom = self.quotas.take("bom", 1) > 0
        crlf = self.quotas.take("crlf", 1) > 0
        latin1 = frozenset(i for i, row in enumerate(rows) if row["latin1"])
        data = partner_files.csv_file(header, cells, quote_all=quotes_all(key), crlf=crlf,
                                      bom=bom, latin1_rows=latin1)
        return data, [label for label, on in (("bom", bom), ("crlf", crlf)) if on]

    def _loan_text(self, amount: int) -> str:
        style = int(self.rng.integers(0, 4))
        return (str(amount), f"${amount:,}", f"{amount}.00", f"${amount:,.2f}")[style]

    def _m32_bytes(self, partner: Partner, rows: list[dict[str, Any]], day: date) -> bytes:
        columns = partner.mortgage.columns
        fields = [*MORTGAGE_FIELDS, *M32_EXTRA_FIELDS]
        header = [columns[f] for f in fields] + list(formats.M32_EXTRA_COLUMNS)
        order = self.rng.permutation(len(header))
        cells = []
        for row in rows:
            line = [row["values"][f] for f in fields] + self._m32_extras(day)
            line = [v.upper() if isinstance(v, str) and f in ("street", "city", "county")
                    else v for v, f in zip(line, [*fields, *formats.M32_EXTRA_COLUMNS],
                                           strict=True)]
            cells.append([line[i] for i in order])
        return partner_files.xlsx_file("Sheet1", [header[i] for i in order], cells,
                                       datetime(day.year, day.month, day.day, 5, 30))

    def _m32_extras(self, day: date) -> list[Any]:
        rng = self.rng
        place = int(rng.integers(0, len(self.places)))
        sale_price = int(rng.integers(80, 1200)) * 1000
        return [
            f"{int(rng.integers(100, 999))}-{int(rng.integers(100, 999))}-"
            f"{int(rng.integers(10, 99))}",
            sale_price,
            day - timedelta(days=int(rng.integers(20, 60))),
            str(rng.choice(TITLE_COMPANIES)),
            f"{int(rng.integers(1, 9999))} {rng.choice(['Main', 'Market', 'Commerce'])} St",
            self.places.city[place].as_py(),
            self.places.state[place].as_py(),
            f"{self.places.zip5[place]:05d}",
            str(rng.choice(PROPERTY_TYPES)),
            int(rng.integers(1, 6)),
            float(rng.choice([1, 1.5, 2, 2.5, 3, 3.5])),
            int(rng.integers(1900, 2024)),
            int(rng.integers(600, 4500)),
            str(rng.choice(["Y", "N"], p=[0.85, 0.15])),
            f"{day.year}-{int(rng.integers(0, 10**7)):07d}",
        ]

    # ------------------------------------------------------------------ delivery files

    def _delivery_file(self, key: str, day: date, following: date) -> None:
        partner = self.tenant.partners[key]
        fmt = partner.delivery.format
        with_status = fmt in formats.STATUS_FORMATS
        due = sorted((p for p in self.pieces.values() if p.partner == key and not p.reported
                      and p.event_on < day), key=lambda p: p.event_on)
        base = []
        for piece in due:
            piece.reported = True
            if piece.fate == "delivered" or with_status:
                base.append(_DeliveryRow(piece, piece.fate, piece.event_on))
        for row, label in zip(base, defects.assign_rows(self.rng, self.quotas, fmt, len(base)),
                              strict=True):
            row.label = label
        rows = self._insert_defect_rows(key, fmt, base, day)
        entries, cells = [], []
        for row in rows:
            cell, entry = self._delivery_row(key, partner, row)
            cells.append(cell)
            entries.append(entry)
        name = formats.filename(partner.delivery.filename, day)
        data, file_defects = self._delivery_bytes(partner, fmt, day, cells)
        self._finish_file(key, partner, "delivery", fmt, name, day, following, data,
                          file_defects, entries)

    def _insert_defect_rows(self, key: str, fmt: str, base: list[_DeliveryRow], day: date,
                            ) -> list[_DeliveryRow]:
        inserted = defects.classes_for(fmt, defects.ROW, defects.INSERT)
        scale = 1.0 / (1.0 - self.options.defect_rate * len(inserted))
        rows = list(base)
        for defect in inserted:
            for _ in range(self.quotas.take(defect.label, len(base) * scale)):
                if defect.label == "second_confirmation":
                    self._insert_second(key, rows, day)
                else:
                    self._insert_other_partner(key, rows, day)
        return rows

    def _insert_second(self, key: str, rows: list[_DeliveryRow], day: date) -> None:
        earlier = [p for p in self.pieces.values() if p.partner == key and p.confirmed_by_row]
        here = [i for i, r in enumerate(rows) if r.label is None and r.piece.partner == key
                and not r.piece.confirmed_by_row]
        if earlier:
            piece, position = earlier[int(self.rng.integers(0, len(earlier)))], None
        elif here:
            at = here[int(self.rng.integers(0, len(here)))]
            piece, position = rows[at].piece, at + 1
        else:
            return
        first = piece.status_on or piece.event_on
        options = [first + timedelta(days=d) for d in (-2, -1, 1, 2, 3)
                   if first + timedelta(days=d) < day]
        on = options[int(self.rng.integers(0, len(options)))]
        start = position if position is not None else 0
        at = int(self.rng.integers(start, len(rows) + 1))
        rows.insert(at, _DeliveryRow(piece, "delivered", on, "second_confirmation"))

    def _insert_other_partner(self, key: str, rows: list[_DeliveryRow], day: date) -> None:
        others = [p for p in self.pieces.values() if p.partner != key and p.mailed_on < day]
        if not others:
            return
        piece = others[int(self.rng.integers(0, len(others)))]
        on = min(piece.event_on, day - timedelta(days=1))
        at = int(self.rng.integers(0, len(rows) + 1))
        rows.insert(at, _DeliveryRow(piece, "delivered", on, "other_partner_piece"))

    def _delivery_row(self, key: str, partner: Partner, row: _DeliveryRow,
                      ) -> tuple[list[Any], dict[str, Any]]:
        """The row's cells in its format, and its outcome given the pipeline's state."""
        fmt, piece, label = partner.delivery.format, row.piece, row.label
        row_error, warnings = None, []
        full = piece.tracking + piece.routing
        if fmt == "D1":
            cells = [full, row.on.strftime(formats.D1_DATE), piece.zip5,
                     str(self.rng.choice(D1_OP_CODES))]
        elif fmt == "D2":
            code: Any = piece.tracking
            if label == "excel_number":
                code = defects.excel_number(piece.tracking)
                row_error = error("BARCODE_EXCEL_NUMBER", "barcode")
            cells = [code, row.on, piece.zip5]
        elif fmt == "D4":
            code = full
            if label == "excel_number":
                code = defects.excel_number(full)
                row_error = error("BARCODE_EXCEL_NUMBER", "barcode")
            cells = [code, row.on.strftime(formats.D4_DATE), formats.D4_STATUS[row.status]]
        else:
            bars = imb.encode(piece.tracking, piece.routing)
            if label == "bars_undecodable":
                bars, reason = defects.undecodable(bars, self.rng)
                row_error = error("BARCODE_INVALID", "barcode", reason)
            elif label == "bars_crc_damaged":
                bars = defects.crc_damaged(bars, self.rng)
                row_error = error("BARCODE_INVALID", "barcode", "crc")
            elif label == "bars_repairable":
                bars, _ = defects.repairable(bars, self.rng)
                warnings.append(error("BARCODE_REPAIRED", "barcode"))
            zip4 = piece.zip4 if self.rng.random() < 0.8 else None
            cells = [partner_files.d3_line(bars, row.on, piece.zip5, zip4, row.status)]
        expect = "rejected"
        if row_error is None:
            expect = self._apply_confirmation(key, row, warnings)
        entry = {
            "expect": expect,
            "partner": key,
            "record_id": piece.record_id,
            "tracking_code": piece.tracking,
            "piece_partner": piece.partner,
            "status": row.status,
            "delivered_on": row.on.isoformat(),
            "error": row_error,
            "warnings": warnings,
            "defects": [label] if label else [],
        }
        return cells, entry

    @staticmethod
    def _apply_confirmation(key: str, row: _DeliveryRow, warnings: list[dict[str, Any]],
                            ) -> str:
        """What the pipeline does with a readable confirmation, updating its view."""
        piece = row.piece
        if piece.partner != key:
            warnings.append(error("DELIVERY_OTHER_PARTNER", "barcode"))
            return "ignored"
        piece.confirmed_by_row = True
        if not piece.known:
            warnings.append(error("PIECE_UNKNOWN", "barcode"))
            return "ignored"
        if piece.status != "mailed":
            warnings.append(error("DELIVERY_ALREADY_CONFIRMED", "barcode"))
            return "ignored"
        piece.status, piece.status_on = row.status, row.on
        return row.status

    def _delivery_bytes(self, partner: Partner, fmt: str, day: date, cells: list[list[Any]],
                        ) -> tuple[bytes, list[str]]:
        created = datetime(day.year, day.month, day.day, 6, 15)
        if fmt == "D1":
            bom = self.quotas.take("bom", 1) > 0
            crlf = self.quotas.take("crlf", 1) > 0
            data = partner_files.csv_file(None, cells, crlf=crlf, bom=bom)
            return data, [label for label, on in (("bom", bom), ("crlf", crlf)) if on]
        if fmt == "D2":
            return partner_files.xlsx_file(formats.D2_SHEET, formats.D2_HEADERS, cells,
                                           created), []
        if fmt == "D3":
            crlf = self.quotas.take("crlf", 1) > 0
            data = partner_files.d3_zip(day, [c[0] for c in cells], crlf=crlf)
            return data, ["crlf"] if crlf else []
        title = f"{partner.name} - Delivery Confirmations {day.strftime(formats.D4_DATE)}"
        return partner_files.xlsx_file(formats.D4_SHEET, formats.D4_HEADERS, cells, created,
                                       title=title), []

    # ------------------------------------------------------------------ files

    def _finish_file(self, key: str, partner: Partner, kind: str, fmt: str, name: str,
                     day: date, following: date, data: bytes, file_defects: list[str],
                     entries: list[dict[str, Any]]) -> None:
        """Write the file, record it and its rows, and maybe schedule a renamed re-send."""
        (self.options.out / name).write_bytes(data)
        offset = {"M15": 1, "M32": 1, "D1": 0, "D2": 1, "D3": 0,
                  "D4": formats.D4_HEADER_ROW}[fmt]
        rows = []
        for number, entry in enumerate(entries, start=1):
            row = {"file": name, "row_number": number, "physical_row": number + offset,
                   **entry}
            inserted = any(d in ("second_confirmation", "other_partner_piece")
                           for d in entry["defects"])
            self.manifest.add_row(row, fmt, inserted)
            rows.append(row)
        resend = self.quotas.take("resent_renamed", 1) > 0
        original = self.manifest.add_file(
            name, data, partner=key, kind=kind, file_format=fmt, day=day, rows=len(entries),
            defects=[*file_defects, *(["resent_renamed"] if resend else [])])
        if resend:
            pattern = partner.mortgage.filename if kind == "mortgage" \
                else partner.delivery.filename
            self.resends.append(_Resend(following, self._resend_name(pattern, day), original,
                                        data, rows))

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
            (self.options.out / resend.name).write_bytes(resend.data)
            for row in resend.rows:
                self.manifest.add_row(
                    {**row, "file": resend.name, "expect": "untouched", "error": None,
                     "warnings": [], "defects": []}, original["format"], False)
            self.manifest.add_file(
                resend.name, resend.data, partner=original["partner"], kind=original["kind"],
                file_format=original["format"], day=day, rows=original["rows"], defects=[],
                resend_of=original["name"])
            self.resends.remove(resend)


def generate_partner_days(options: PartnerDayOptions) -> Manifest:
    """Write the run's partner files and manifest.json.

    Args:
        options: What to generate and where.

    Returns:
        The manifest, as written to `out/manifest.json`.
    """
    return _Run(options).run()
