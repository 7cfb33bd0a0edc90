"""How one person becomes several different-looking records: typos, nicknames, formats.

Each person appears once, or (for about 30%) two to five times across the legacy sources.
The first copy is the person as they are; later copies carry the variation that real
duplicate records show, and every variation is labelled so that a matcher's accuracy can be
measured per kind of difficulty. Work is vectorised per batch; only the few strings that get
a typo or a nickname are touched one by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from nicknames import NickNamer

from sampledata import geography
from sampledata.people import (
    SUFFIXES,
    People,
    Places,
    draw_addresses,
    email_address,
    name_tables,
)

VARIATIONS = (
    "typo_first", "typo_last", "nickname", "initial_first", "swapped_names",
    "missing_email", "missing_phone", "phone_format", "moved", "street_abbrev",
    "unit_style", "zip_format", "case", "whitespace", "newer_updated_at",
)
"""Labels recorded in truth.parquet; each says how a copy differs from the person's first."""

PHONE_FORMATS = 7
"""(617) 555-0134, 617-555-0134, 617.555.0134, 6175550134, +1 617 555 0134,
1-617-555-0134, 617 555 0134 (see `_PHONE_TEMPLATES`)."""

_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


@dataclass(frozen=True)
class VariationRates:
    """How often each variation hits a later copy (the first copy is left as drawn)."""

    duplicate_rate: float = 0.30
    """Share of people who appear more than once."""
    extra_copies_p: tuple[float, float, float, float] = (0.5, 0.28, 0.14, 0.08)
    """Probability of 2, 3, 4, 5 copies for a person who appears more than once."""
    typo_first: float = 0.05
    typo_last: float = 0.05
    nickname: float = 0.12
    initial_first: float = 0.03
    swapped_names: float = 0.02
    missing_email: float = 0.2
    missing_phone: float = 0.15
    moved: float = 0.06
    style_flip: float = 0.3
    """Street abbreviation, unit designator, ZIP and phone format each change this often."""
    case: float = 0.08
    whitespace: float = 0.05


@dataclass
class Records:
    """Person records of one batch, ready for a source's writer to lay out.

    Strings are Arrow arrays; a null means the value is missing in the source.
    """

    person: np.ndarray
    """Position of the record's person in the batch's `People`."""
    copy_index: np.ndarray
    first: pa.Array
    middle: pa.Array
    last: pa.Array
    suffix: pa.Array
    email: pa.Array
    phone: pa.Array
    phone2: pa.Array
    street: pa.Array
    unit: pa.Array
    city: pa.Array
    state: pa.Array
    zip: pa.Array
    created_at: np.ndarray
    updated_at: np.ndarray
    labels: pa.ListArray

    def __len__(self) -> int:
        return len(self.person)

    def take(self, index: np.ndarray) -> Records:
        """The records at `index`, in that order."""
        values = {}
        for name, value in vars(self).items():
            values[name] = value[index] if isinstance(value, np.ndarray) else value.take(index)
        return Records(**values)


def copies_per_person(rng: np.random.Generator, n: int, rates: VariationRates) -> np.ndarray:
    """How many records each of `n` people gets: 1, or 2-5 for the duplicated share."""
    extra = rng.choice([2, 3, 4, 5], size=n, p=rates.extra_copies_p)
    return np.where(rng.random(n) < rates.duplicate_rate, extra, 1)


@lru_cache(maxsize=1)
def nickname_table() -> tuple[np.ndarray, np.ndarray, pa.StringArray]:
    """Per first-name index: (offset, count) into a flat array of its nicknames."""
    namer = NickNamer()
    flat: list[str] = []
    offsets, counts = [], []
    for name in name_tables().first.to_pylist():
        nicks = sorted(n.title() for n in namer.nicknames_of(name.lower()) if len(n) > 1)
        offsets.append(len(flat))
        counts.append(len(nicks))
        flat.extend(nicks)
    return np.array(offsets), np.array(counts), pa.array(flat, pa.string())


def typo(word: str, op: int, where: float, pick: float) -> str:
    """One keyboard slip: drop, double, swap or mistype a letter (not the first)."""
    if len(word) < 3:
        return word
    i = 1 + int(where * (len(word) - 1))
    if op == 0 and len(word) > 3:
        return word[:i] + word[i + 1:]
    if op == 1:
        return word[:i] + word[i] + word[i:]
    if op == 2 and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + _neighbour(word[i], pick) + word[i + 1:]


def _neighbour(letter: str, pick: float) -> str:
    lower = letter.lower()
    for row in _KEYBOARD_ROWS:
        at = row.find(lower)
        if at >= 0:
            options = row[max(at - 1, 0):at] + row[at + 1:at + 2]
            chosen = options[int(pick * len(options))]
            return chosen.upper() if letter.isupper() else chosen
    return letter


def _with_typos(rng: np.random.Generator, values: pa.Array, mask: np.ndarray) -> pa.Array:
    index = np.flatnonzero(mask)
    if not len(index):
        return values
    op = rng.integers(0, 4, len(index))
    where, pick = rng.random(len(index)), rng.random(len(index))
    words = values.take(index).to_pylist()
    changed = [typo(w, o, x, p) for w, o, x, p in zip(words, op, where, pick, strict=True)]
    return pc.replace_with_mask(values, pa.array(mask), pa.array(changed, pa.string()))


def _text(values: np.ndarray) -> pa.Array:
    return pa.array(values).cast(pa.string())


_PHONE_TEMPLATES = ("(AAA) EEE-LLLL", "AAA-EEE-LLLL", "AAA.EEE.LLLL", "AAAEEELLLL",
                    "+1 AAA EEE LLLL", "1-AAA-EEE-LLLL", "AAA EEE LLLL")
"""The PHONE_FORMATS styles; A, E, L mark the area code, exchange and line digits."""


@lru_cache(maxsize=1)
def _phone_layout() -> tuple[np.ndarray, np.ndarray]:
    """Per style: the template's bytes (NUL-padded) and where each of the 10 digits goes."""
    width = max(len(t) for t in _PHONE_TEMPLATES)
    templates = np.zeros((len(_PHONE_TEMPLATES), width), np.uint8)
    positions = np.zeros((len(_PHONE_TEMPLATES), 10), np.int64)
    for style, template in enumerate(_PHONE_TEMPLATES):
        templates[style, :len(template)] = np.frombuffer(template.encode(), np.uint8)
        positions[style] = [i for i, c in enumerate(template) if c in "AEL"]
    return templates, positions


def phone_text(numbers: np.ndarray, style: np.ndarray) -> pa.Array:
    """Format 10-digit numbers in one of `PHONE_FORMATS` styles each; 0 becomes null.

    Fixed-width byte templates filled with digits: no per-row Python, no string joins.
    """
    templates, positions = _phone_layout()
    numbers = np.asarray(numbers, np.int64)
    style = np.asarray(style, np.int64)
    digits = (numbers[:, None] // 10 ** np.arange(9, -1, -1) % 10 + 48).astype(np.uint8)
    out = templates[style]
    out[np.arange(len(numbers))[:, None], positions[style]] = digits
    text = pa.array(out.view(f"S{templates.shape[1]}").ravel()).cast(pa.string())
    return pc.if_else(pa.array(numbers > 0), text, pa.scalar(None, pa.string()))


def street_text(address: dict[str, np.ndarray], abbreviated: np.ndarray) -> pa.Array:
    """`1234 N Oak St` or `1234 North Oak Street`, by the record's abbreviation style."""
    words = pa.concat_arrays([
        pa.array(geography.STREET_WORDS, pa.string()), name_tables().last,
    ])
    short = pa.array([s[0] for s in geography.STREET_SUFFIXES], pa.string())
    full = pa.array([s[1] for s in geography.STREET_SUFFIXES], pa.string())
    suffix_index = pa.array(address["street_suffix"])
    abbr = pa.array(abbreviated)
    suffix = pc.if_else(abbr, short.take(suffix_index), full.take(suffix_index))
    has_dir = address["directional"] >= 0
    dir_index = pa.array(np.maximum(address["directional"], 0))
    dir_short = pa.array([d[0] + " " for d in geography.DIRECTIONALS], pa.string())
    dir_full = pa.array([d[1] + " " for d in geography.DIRECTIONALS], pa.string())
    directional = pc.if_else(abbr, dir_short.take(dir_index), dir_full.take(dir_index))
    directional = pc.if_else(pa.array(has_dir), directional, "")
    return pc.binary_join_element_wise(
        _text(address["house"]), " ", directional, words.take(pa.array(address["street_word"])),
        " ", suffix, "",
    )


def unit_text(unit: np.ndarray, style: np.ndarray) -> pa.Array:
    """`Apt 12`, `# 12`, `Unit 12`...; null where there is no unit."""
    designator = pa.array(geography.UNIT_STYLES, pa.string()).take(pa.array(style))
    text = pc.binary_join_element_wise(designator, _text(unit), "")
    return pc.if_else(pa.array(unit > 0), text, pa.scalar(None, pa.string()))


def zip_text(zip5: pa.Array, zip4: np.ndarray, style: np.ndarray) -> pa.Array:
    """ZIP5, `12345-6789` or `123456789` by style 0, 1, 2."""
    plus4 = pc.utf8_lpad(_text(zip4), 4, "0")
    return pc.choose(
        pa.array(style.astype(np.int8)),
        zip5,
        pc.binary_join_element_wise(zip5, plus4, "-"),
        pc.binary_join_element_wise(zip5, plus4, ""),
    )


class _Builder:
    """Applies the variations of one batch; keeps the masks that become labels."""

    def __init__(self, rng: np.random.Generator, people: People, places: Places,
                 copies: np.ndarray, rates: VariationRates) -> None:
        self.rng, self.people, self.places, self.rates = rng, people, places, rates
        self.person = np.repeat(np.arange(len(people)), copies)
        starts = np.concatenate([[0], np.cumsum(copies)[:-1]])
        self.first_copy = np.repeat(starts, copies)
        self.copy_index = np.arange(len(self.person)) - self.first_copy
        self.later = self.copy_index > 0
        self.masks: dict[str, np.ndarray] = {}

    def hit(self, rate: float, label: str | None = None) -> np.ndarray:
        """Later copies picked at `rate`, recorded under `label`."""
        mask = self.later & (self.rng.random(len(self.person)) < rate)
        if label:
            self.masks[label] = mask
        return mask

    def style(self, n_styles: int, label: str, p: np.ndarray | None = None) -> np.ndarray:
        """A per-record format choice: the first copy's, changed on some later copies."""
        n = len(self.person)
        drawn = self.rng.choice(n_styles, size=n, p=p)
        base = drawn[self.first_copy]
        flip = self.hit(self.rates.style_flip)
        chosen = np.where(flip, drawn, base)
        self.masks[label] = chosen != base
        return chosen

    def names(self) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
        people, tables, rates = self.people, name_tables(), self.rates
        first_index = people.first[self.person]
        first = tables.first.take(pa.array(first_index))
        offsets, counts, flat = nickname_table()
        nick = self.hit(rates.nickname) & (counts[first_index] > 0)
        self.masks["nickname"] = nick
        pick = offsets[first_index] + (self.rng.random(len(first_index)) * counts[first_index])
        first = pc.replace_with_mask(first, pa.array(nick),
                                     flat.take(pa.array(pick[nick].astype(np.int64))))
        initial = self.hit(rates.initial_first) & ~nick
        self.masks["initial_first"] = initial
        dotted = pc.binary_join_element_wise(pc.utf8_slice_codeunits(first, 0, 1), ".", "")
        first = pc.if_else(pa.array(initial), dotted, first)
        typo_first = self.hit(rates.typo_first) & ~initial
        self.masks["typo_first"] = typo_first
        first = _with_typos(self.rng, first, typo_first)
        last = tables.last.take(pa.array(people.last[self.person]))
        last = _with_typos(self.rng, last, self.hit(rates.typo_last, "typo_last"))
        swap = pa.array(self.hit(rates.swapped_names, "swapped_names"))
        first, last = pc.if_else(swap, last, first), pc.if_else(swap, first, last)
        middle_index = people.middle[self.person]
        shows_middle = (middle_index >= 0) & (self.rng.random(len(middle_index)) < 0.6)
        middle_name = tables.first.take(pa.array(np.maximum(middle_index, 0)))
        as_initial = pa.array(self.rng.random(len(middle_index)) < 0.7)
        middle = pc.if_else(as_initial, pc.utf8_slice_codeunits(middle_name, 0, 1), middle_name)
        middle = pc.if_else(pa.array(shows_middle), middle, pa.scalar(None, pa.string()))
        suffix_index = people.suffix[self.person]
        suffix = pa.array(SUFFIXES, pa.string()).take(pa.array(suffix_index))
        shown = (suffix_index > 0) & (self.rng.random(len(suffix_index)) < 0.8)
        suffix = pc.if_else(pa.array(shown), suffix, pa.scalar(None, pa.string()))
        return first, middle, last, suffix

    def email(self) -> pa.Array:
        """Emails stay with the person whatever the name looks like, unique per person."""
        people = self.people
        email = email_address(people)
        has_email = people.has_email[self.person]
        missing = self.hit(self.rates.missing_email) & has_email
        self.masks["missing_email"] = missing
        present = has_email & ~missing
        return pc.if_else(pa.array(present), email.take(pa.array(self.person)),
                          pa.scalar(None, pa.string()))

    def phones(self) -> tuple[pa.Array, pa.Array]:
        people = self.people
        style = self.style(PHONE_FORMATS, "phone_format",
                           np.array([30, 25, 8, 15, 5, 7, 10]) / 100)
        number = people.phone[self.person]
        missing = self.hit(self.rates.missing_phone) & (number > 0)
        self.masks["missing_phone"] = missing
        self.masks["phone_format"] &= number > 0
        number = np.where(missing, 0, number)
        second = people.phone2[self.person]
        second = np.where(self.rng.random(len(second)) < 0.6, second, 0)
        return phone_text(number, style), phone_text(second, style)

    def address(self) -> dict[str, pa.Array]:
        people = self.people
        address = {name: getattr(people, name)[self.person] for name in (
            "place", "street_word", "street_suffix", "directional", "house", "unit", "zip4")}
        moved = self.hit(self.rates.moved, "moved")
        new = draw_addresses(self.rng, self.places, int(moved.sum()))
        for name, values in new.items():
            address[name][moved] = values
        abbreviated = self.style(2, "street_abbrev") == 1
        shows_style = np.array([s[0] != s[1] for s in geography.STREET_SUFFIXES])
        self.masks["street_abbrev"] &= shows_style[address["street_suffix"]] | (
            address["directional"] >= 0)
        unit_style = self.style(len(geography.UNIT_STYLES), "unit_style")
        zip_style = self.style(3, "zip_format", np.array([0.75, 0.15, 0.10]))
        self.masks["unit_style"] &= address["unit"] > 0
        places = self.places
        place = pa.array(address["place"])
        return {
            "street": street_text(address, abbreviated),
            "unit": unit_text(address["unit"], unit_style.astype(np.int8)),
            "city": places.city.take(place),
            "state": places.state.take(place),
            "zip": zip_text(places.zip5_text(address["place"]), address["zip4"], zip_style),
        }

    def dates(self) -> tuple[np.ndarray, np.ndarray]:
        n = len(self.person)
        year = 365 * 86_400
        created = self.people.created[self.person] + self.later * self.rng.integers(0, 2 * year, n)
        edited = self.rng.random(n) < 0.6
        updated = created + edited * self.rng.integers(0, 2 * year, n)
        moved = self.masks["moved"]
        after = updated[self.first_copy] + self.rng.integers(86_400, year, n)
        updated = np.where(moved, np.maximum(updated, after), updated)
        self.masks["newer_updated_at"] = self.later & (updated > updated[self.first_copy])
        return created, updated

    def noise(self, columns: dict[str, pa.Array]) -> None:
        """Upper/lower-case some later copies and pad others with stray spaces."""
        case = self.hit(self.rates.case, "case")
        upper = pa.array(case & (self.rng.random(len(case)) < 0.6))
        lower = pa.array(case & ~upper.to_numpy(zero_copy_only=False))
        space = self.hit(self.rates.whitespace, "whitespace")
        for name in ("first", "last", "street", "city"):
            value = columns[name]
            value = pc.if_else(upper, pc.utf8_upper(value), value)
            value = pc.if_else(lower, pc.utf8_lower(value), value)
            columns[name] = value
        columns["last"] = pc.if_else(pa.array(space), pc.binary_join_element_wise(
            columns["last"], "  ", ""), columns["last"])
        columns["street"] = pc.if_else(pa.array(space), pc.replace_substring(
            columns["street"], " ", "  ", max_replacements=1), columns["street"])

    def labels(self) -> pa.ListArray:
        stacked = np.stack([self.masks[name] for name in VARIATIONS], axis=1)
        rows, which = np.nonzero(stacked)
        offsets = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(stacked)))])
        values = pa.array(np.array(VARIATIONS)[which].tolist(), pa.string())
        return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), values)


def build_records(
    rng: np.random.Generator,
    people: People,
    places: Places,
    copies: np.ndarray,
    rates: VariationRates,
) -> Records:
    """Records for a batch of people, `copies[i]` for person i, in person order.

    Args:
        rng: The run's random stream.
        people: The batch's people.
        places: The place table people's addresses point into.
        copies: Records per person (from :func:`copies_per_person`).
        rates: How often each variation hits later copies.

    Returns:
        The records with their variation labels, first copies first within each person.
    """
    builder = _Builder(rng, people, places, copies, rates)
    first, middle, last, suffix = builder.names()
    email = builder.email()
    phone, phone2 = builder.phones()
    columns = {"first": first, "last": last, **builder.address()}
    builder.noise(columns)
    created, updated = builder.dates()
    return Records(
        person=builder.person,
        copy_index=builder.copy_index.astype(np.int8),
        middle=middle,
        suffix=suffix,
        email=email,
        phone=phone,
        phone2=phone2,
        created_at=created,
        updated_at=updated,
        labels=builder.labels(),
        **columns,
    )
