"""The specification's tables: 13-bit character tables and the bar-to-character map.

Both character tables (USPS-B-3200 Tables 19/20, "5 of 13" and "2 of 13") are generated
rather than transcribed, with the spec's own procedure, so that a typo cannot hide in
1,365 numbers; tests pin them with spot values published alongside the spec. The bar map
(Table 22) has no generating rule, so it is transcribed below in the spec's own notation and
checked at import to use each of the 130 character bits exactly once.
"""

from __future__ import annotations

CHARACTER_BITS = 13
CHARACTER_MASK = (1 << CHARACTER_BITS) - 1
CHARACTER_COUNT = 10
BAR_COUNT = 65

FIVE_OF_13_SIZE = 1287
TWO_OF_13_SIZE = 78
CODEWORD_COUNT = FIVE_OF_13_SIZE + TWO_OF_13_SIZE

BAR_LETTERS = "TADF"
"""Bar letter by state ``(descender << 1) | ascender``: T = tracker only, A = ascender,
D = descender, F = full (both)."""


def _reverse13(value: int) -> int:
    """Mirror the 13 low bits of ``value`` (bit 0 becomes bit 12)."""
    return int(f"{value:013b}"[::-1], 2)


def _n_of_13_table(bits_set: int, size: int) -> tuple[int, ...]:
    """Generate a character table by the spec's rule.

    Every 13-bit value with ``bits_set`` bits is visited in increasing order; a value whose
    mirror image is smaller was already placed with its mirror. Asymmetric values go in pairs
    (value, mirror) from the front, symmetric ones fill from the back, which is what makes the
    spec's table order reproducible.

    Args:
        bits_set: Popcount of the table's characters (5 or 2).
        size: Expected number of entries (1287 or 78), a built-in consistency check.

    Returns:
        The table, indexed by codeword (offset by 1287 for the 2-of-13 table).
    """
    table = [0] * size
    front, back = 0, size - 1
    for value in range(1 << CHARACTER_BITS):
        if value.bit_count() != bits_set:
            continue
        mirrored = _reverse13(value)
        if mirrored < value:
            continue
        if mirrored == value:
            table[back] = value
            back -= 1
        else:
            table[front] = value
            table[front + 1] = mirrored
            front += 2
    if front != back + 1:
        raise RuntimeError(f"{bits_set}-of-13 table generation did not fill {size} entries")
    return tuple(table)


FIVE_OF_13: tuple[int, ...] = _n_of_13_table(5, FIVE_OF_13_SIZE)
TWO_OF_13: tuple[int, ...] = _n_of_13_table(2, TWO_OF_13_SIZE)

CODEWORD_TO_CHARACTER: tuple[int, ...] = FIVE_OF_13 + TWO_OF_13
"""Codeword (0-1364) to its 13-bit character before the FCS inversion of step 5."""


def _character_to_codeword() -> tuple[int, ...]:
    """Invert :data:`CODEWORD_TO_CHARACTER` over all 8,192 13-bit values.

    A character and its complement never collide (popcounts 2/5 versus 11/8), so one flat
    table answers both "which codeword" and "was it inverted", and marks everything else
    invalid without a second lookup.

    Returns:
        ``(codeword << 1) | inverted`` per 13-bit value, or -1 for an invalid character.
    """
    table = [-1] * (1 << CHARACTER_BITS)
    for codeword, character in enumerate(CODEWORD_TO_CHARACTER):
        table[character] = codeword << 1
        table[character ^ CHARACTER_MASK] = (codeword << 1) | 1
    return tuple(table)


CHARACTER_TO_CODEWORD: tuple[int, ...] = _character_to_codeword()

_TABLE_22 = """
    H2/E3   B10/A0  J12/C8  F5/G11  I9/D1   A1/F12  C5/B8   E4/J11  G3/I10  D9/H6
    F11/B4  I5/C12  J10/A2  H1/G7   D6/E9   A3/I6   G4/C7   B1/J9   H10/F2  E0/D8
    G2/A4   I11/B0  J8/D12  C6/H7   F1/E10  B12/G9  H3/I0   F8/J7   E6/C10  D4/A5
    I4/F7   H11/B9  G0/J6   A6/E8   C1/D2   F9/I12  E11/G1  J5/H4   D3/B2   A7/C0
    B3/E1   G10/D5  I7/J4   C11/F6  A8/H12  E2/I1   F10/D0  J3/A9   G5/C4   H8/B7
    F0/E5   C3/A10  G12/J2  D11/B6  I8/H9   F4/A11  B5/C2   J1/E12  I3/G6   H0/D7
    E7/H5   A12/B11 C9/J0   G8/F3   D10/I2
"""
"""Spec Table 22, bars 1-65 left to right: ``descender/ascender`` as character letter
(A-J = characters 0-9) and bit number (0 = least significant)."""

BarSource = tuple[int, int, int, int]
"""``(descender character, descender bit, ascender character, ascender bit)`` of one bar."""


def _parse_bar_map(text: str) -> tuple[BarSource, ...]:
    """Parse :data:`_TABLE_22` and check it is a bijection onto the 130 character bits.

    Args:
        text: The table in the spec's notation.

    Returns:
        One :data:`BarSource` per bar, left to right.
    """

    def source(token: str) -> tuple[int, int]:
        return ord(token[0]) - ord("A"), int(token[1:])

    bars = []
    for entry in text.split():
        descender, ascender = entry.split("/")
        bars.append((*source(descender), *source(ascender)))
    used = {(bar[0], bar[1]) for bar in bars} | {(bar[2], bar[3]) for bar in bars}
    if len(bars) != BAR_COUNT or len(used) != CHARACTER_COUNT * CHARACTER_BITS:
        raise RuntimeError("bar map must use each of the 130 character bits exactly once")
    if any(bar[0] == bar[2] for bar in bars):
        raise RuntimeError("a bar's two halves must come from different characters")
    return tuple(bars)


BAR_MAP: tuple[BarSource, ...] = _parse_bar_map(_TABLE_22)
