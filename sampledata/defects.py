"""Defect classes planted in partner files, and the functions that damage values.

Every class is planted at the configured rate among the rows (or files) it can apply to:
a per-class accumulator hands out exactly `rate * eligible` defects over a run (to within
one), so tests can check rates tightly even on small runs. A row carries at most one
planted defect, which keeps its expected outcome unambiguous; so the rate times the number
of classes that can hit one format must stay at or below 1 (M32 has the most: 8).
Barcode damage is checked against the `imb` codec so the recorded error is the one the
pipeline will see.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import imb
from imb.tables import BAR_MAP

ROW, FILE = "row", "file"
SUBSTITUTE, INSERT = "substitute", "insert"


@dataclass(frozen=True)
class DefectClass:
    """A kind of defect: where it can occur and what it does to a row or a file."""

    label: str
    scope: str
    """`row` or `file`."""
    formats: frozenset[str]
    """File formats (M15, M32, D1-D4) it applies to."""
    action: str = SUBSTITUTE
    """`substitute` damages an existing row; `insert` adds a row."""


_MORTGAGE = frozenset({"M15", "M32"})
_BARS = frozenset({"M32", "D3"})
_DELIVERY = frozenset({"D1", "D2", "D3", "D4"})

DEFECTS: tuple[DefectClass, ...] = (
    DefectClass("missing_required", ROW, _MORTGAGE),
    DefectClass("phone_malformed", ROW, _MORTGAGE),
    DefectClass("zip_leading_zero_lost", ROW, _MORTGAGE),
    DefectClass("name_form_swapped", ROW, _MORTGAGE),
    DefectClass("name_suffix", ROW, _MORTGAGE),
    DefectClass("latin1_bytes", ROW, frozenset({"M15"})),
    DefectClass("bars_undecodable", ROW, _BARS),
    DefectClass("bars_crc_damaged", ROW, _BARS),
    DefectClass("bars_repairable", ROW, _BARS),
    DefectClass("excel_number", ROW, frozenset({"D2", "D4"})),
    DefectClass("second_confirmation", ROW, _DELIVERY, INSERT),
    DefectClass("other_partner_piece", ROW, _DELIVERY, INSERT),
    DefectClass("bom", FILE, frozenset({"M15", "D1"})),
    DefectClass("crlf", FILE, frozenset({"M15", "D1", "D3"})),
    DefectClass("resent_renamed", FILE, _MORTGAGE | _DELIVERY),
)
BY_LABEL = {d.label: d for d in DEFECTS}
LABELS = tuple(d.label for d in DEFECTS)


def code(label: str) -> int:
    """A defect's index in `DEFECTS`: how row arrays name it."""
    return LABELS.index(label)


def classes_for(file_format: str, scope: str, action: str | None = None) -> list[DefectClass]:
    """The defect classes that can hit a file of `file_format`, in fixed order."""
    return [d for d in DEFECTS if file_format in d.formats and d.scope == scope
            and (action is None or d.action == action)]


def max_rate() -> float:
    """The largest defect rate at which every row still carries at most one defect."""
    formats = {f for d in DEFECTS for f in d.formats}
    most = max(len(classes_for(f, ROW, SUBSTITUTE)) for f in formats)
    return 1.0 / most


class Quotas:
    """Exact-rate planting: per class, `rate * eligible` defects over the run, within one.

    Each class starts from a random fraction, so which rows or files get a defect varies
    with the seed while the count stays exact.
    """

    def __init__(self, rate: float, rng: np.random.Generator) -> None:
        self.rate = rate
        self.owed = {d.label: float(rng.random()) if rate > 0 else 0.0 for d in DEFECTS}

    def take(self, label: str, eligible: float) -> int:
        """How many of the next `eligible` rows (or files) get defect `label`."""
        owed = self.owed[label] + self.rate * eligible
        count = int(owed + 1e-9)
        self.owed[label] = owed - count
        return count


def assign_rows(rng: np.random.Generator, quotas: Quotas, file_format: str, n: int,
                ) -> np.ndarray:
    """Pick which of `n` rows carry which substitution defect.

    Returns:
        Per row, the defect's index in `DEFECTS` (`code(label)`), or -1 for a clean row; an
        array, because a file can have a million rows.
    """
    codes = np.full(n, -1, np.int8)
    for defect in classes_for(file_format, ROW, SUBSTITUTE):
        free = np.flatnonzero(codes < 0)
        count = min(quotas.take(defect.label, n), len(free))
        if count:
            codes[free[rng.choice(len(free), size=count, replace=False)]] = code(defect.label)
    return codes


def barcode_reason(value: str) -> str | None:
    """The `imb` reason a barcode value is rejected for (decoded with repair), or None."""
    try:
        imb.canonical(value, repair=True)
    except imb.ImbError as error:
        return error.reason
    return None


_BAR_OF = {(False, False): "T", (True, False): "A", (False, True): "D", (True, True): "F"}


def _flip_character(bars: str, character: int) -> str:
    """Complement one 13-bit character in the bars: the data stay valid, the CRC does not."""
    out = []
    for letter, (d_char, _, a_char, _) in zip(bars, BAR_MAP, strict=True):
        ascender, descender = letter in "AF", letter in "DF"
        ascender ^= a_char == character
        descender ^= d_char == character
        out.append(_BAR_OF[(ascender, descender)])
    return "".join(out)


def crc_damaged(bars: str, rng: np.random.Generator) -> str:
    """Bars whose characters are all valid but whose frame check sequence fails."""
    for character in rng.permutation(10):
        damaged = _flip_character(bars, int(character))
        if barcode_reason(damaged) == "crc":
            return damaged
    raise RuntimeError("could not plant a CRC error")  # pragma: no cover - never seen


def repairable(bars: str, rng: np.random.Generator) -> tuple[str, int]:
    """Bars with one bar misread that `imb.decode(repair=True)` restores; and its position."""
    expected = imb.decode(bars)
    for position in rng.permutation(len(bars)):
        for letter in rng.permutation(list("ADFT")):
            if letter == bars[position]:
                continue
            damaged = bars[:position] + str(letter) + bars[position + 1:]
            try:
                imb.decode(damaged)
            except imb.ImbError:
                fixed = _repaired(damaged)
                if fixed and fixed.tracking == expected.tracking \
                        and fixed.routing == expected.routing:
                    return damaged, int(position)
    raise RuntimeError("could not plant a repairable bar")  # pragma: no cover - never seen


def _repaired(bars: str) -> imb.Barcode | None:
    try:
        return imb.decode(bars, repair=True)
    except imb.ImbError:
        return None


def undecodable(bars: str, rng: np.random.Generator) -> tuple[str, str]:
    """Bars that cannot be read at all, and the `imb` reason.

    One of: a bar lost at the end (length), a scanner's `?` for an unreadable bar
    (characters), bars read upside down (codeword), several bars smudged (character).
    """
    upside_down = bars[::-1].translate(str.maketrans("AD", "DA"))
    choices = [bars[:-1], bars[:30] + "?" + bars[31:], upside_down]
    for _ in range(20):
        choice = int(rng.integers(0, len(choices) + 1))
        if choice < len(choices):
            damaged = choices[choice]
        else:
            letters = list(bars)
            for position in rng.choice(len(bars), size=4, replace=False):
                letters[position] = "T" if letters[position] != "T" else "F"
            damaged = "".join(letters)
        reason = barcode_reason(damaged)
        if reason is not None and reason != "crc":
            return damaged, reason
    raise RuntimeError("could not plant undecodable bars")  # pragma: no cover - never seen


def malformed_phone(number: int, rng: np.random.Generator) -> str:
    """A phone no validator accepts: digits lost or added, or an area code starting 0/1."""
    digits = f"{number:010d}"
    kind = int(rng.integers(0, 3))
    if kind == 0:
        return f"{digits[3:6]}-{digits[6:9]}"
    if kind == 1:
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}{int(rng.integers(0, 10))}"
    return f"({int(rng.integers(0, 2))}{digits[1:3]}) {digits[3:6]}-{digits[6:]}"


def excel_number(code: str) -> float:
    """A 20- or 31-digit code as Excel keeps it once typed as a number: 15 significant digits."""
    return float(f"{float(code):.15g}")
