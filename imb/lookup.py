"""Lookup tables derived from :mod:`imb.tables` at import, so the codec does no bit loops.

Pure-Python bit-by-bit CRC and bar assembly cost tens of microseconds per barcode; these
tables turn each step into a handful of indexings on Python ints:

* CRC-11 consumes 12 message bits per lookup instead of one.
* Encoding ORs ten precomputed "bar images" (one per character, indexed by codeword and
  inversion flag) into one int whose hex digits are the bar states, then formats it.
* Decoding reads the bars as a base-4 int and ORs thirteen 5-bar chunk images into one int
  holding all ten 13-bit characters.

Two int layouts are used:

* bar layout: bar ``i`` (0-based, left to right) is the base-4 digit ``64 - i``, value
  ``(descender << 1) | ascender``; the hex layout is the same with base 16.
* packed characters: character ``k`` (A = 0 ... J = 9) occupies bits ``13k .. 13k + 12``.
"""

from __future__ import annotations

from imb.tables import (
    BAR_COUNT,
    BAR_LETTERS,
    BAR_MAP,
    CHARACTER_BITS,
    CHARACTER_COUNT,
    CHARACTER_MASK,
    CODEWORD_TO_CHARACTER,
)

CRC_POLYNOMIAL = 0xF35
"""x^11 + x^10 + x^9 + x^8 + x^5 + x^4 + x^2 + 1 (the x^11 term included)."""
CRC_INITIAL = 0x7FF
CRC_MASK = 0x7FF
CRC_WIDTH = 11
CRC_CHUNK_BITS = 12
CRC_LEAD_BITS = 6
"""The 102-bit message is 6 bits, then eight 12-bit chunks."""

BARS_PER_CHUNK = 5
CHUNK_BITS = 2 * BARS_PER_CHUNK
CHUNK_COUNT = BAR_COUNT // BARS_PER_CHUNK
CHARACTER_SHIFTS: tuple[int, ...] = tuple(CHARACTER_BITS * k for k in range(CHARACTER_COUNT))

LETTER_TO_DIGIT = str.maketrans({letter: str(state) for state, letter in enumerate(BAR_LETTERS)})
"""``str.translate`` table from bar letters to base-4 (or hex) digits of their state."""
HEX_TO_LETTER = str.maketrans({str(state): letter for state, letter in enumerate(BAR_LETTERS)})


def _crc_step_bitwise(register: int, message: int, bits: int) -> int:
    """Feed ``bits`` message bits, most significant first, through the spec's CRC loop.

    This is the spec's definition verbatim; it only builds the tables below.
    """
    for shift in range(bits - 1, -1, -1):
        bit = (message >> shift) & 1
        if ((register >> (CRC_WIDTH - 1)) & 1) ^ bit:
            register = ((register << 1) ^ CRC_POLYNOMIAL) & CRC_MASK
        else:
            register = (register << 1) & CRC_MASK
    return register


def _spread_table(bit_values: list[int]) -> tuple[int, ...]:
    """Table of XORs of ``bit_values[b]`` over the set bits ``b`` of every index.

    Serves both linear maps over GF(2) (the CRC) and bit scatters with disjoint targets (the
    bar maps, where XOR equals OR). Each entry reuses the entry without its lowest set bit,
    so building costs one XOR per entry.
    """
    table = [0] * (1 << len(bit_values))
    for index in range(1, len(table)):
        lowest = index & -index
        table[index] = table[index ^ lowest] ^ bit_values[lowest.bit_length() - 1]
    return tuple(table)


CRC_LEAD: tuple[int, ...] = tuple(
    _crc_step_bitwise(CRC_INITIAL, lead, CRC_LEAD_BITS) for lead in range(1 << CRC_LEAD_BITS)
)
"""Register after the initial value meets the message's top 6 bits."""

CRC_CHUNK: tuple[int, ...] = _spread_table(
    [_crc_step_bitwise(0, 1 << bit, CRC_CHUNK_BITS) for bit in range(CRC_CHUNK_BITS)]
)
"""Indexed by ``(register << 1) ^ chunk``: because the chunk (12 bits) is at least as wide
as the register (11), register and message combine into one index and the step becomes
``register = CRC_CHUNK[((register << 1) ^ chunk) & 0xFFF]``. From a zero register the CRC
step is linear over GF(2), so the table is spread from the 12 single-bit results."""


def _bars_to_characters() -> tuple[tuple[int, ...], ...]:
    """Per 5-bar chunk, the packed-character bits that each chunk value sets."""
    tables = []
    for chunk in range(CHUNK_COUNT):
        bit_values = []
        for bar in reversed(range(BARS_PER_CHUNK * chunk, BARS_PER_CHUNK * (chunk + 1))):
            descender_char, descender_bit, ascender_char, ascender_bit = BAR_MAP[bar]
            bit_values.append(1 << (CHARACTER_BITS * ascender_char + ascender_bit))
            bit_values.append(1 << (CHARACTER_BITS * descender_char + descender_bit))
        tables.append(_spread_table(bit_values))
    return tuple(tables)


BARS_TO_CHARACTERS: tuple[tuple[int, ...], ...] = _bars_to_characters()
"""``BARS_TO_CHARACTERS[c][(bar_int >> (120 - 10 * c)) & 0x3FF]`` (chunk ``c`` holds bars
``5c .. 5c + 4``) ORed over the 13 chunks gives the packed characters."""


def _codeword_to_bars() -> tuple[tuple[int, ...], ...]:
    """Per character position, the hex-layout bar image of every (codeword, inversion)."""
    tables = []
    for character in range(CHARACTER_COUNT):
        bit_images = [0] * CHARACTER_BITS
        for bar, (d_char, d_bit, a_char, a_bit) in enumerate(BAR_MAP):
            nibble = 4 * (BAR_COUNT - 1 - bar)
            if d_char == character:
                bit_images[d_bit] = 2 << nibble
            if a_char == character:
                bit_images[a_bit] = 1 << nibble
        low = _spread_table(bit_images[:7])
        high = _spread_table(bit_images[7:])
        images = []
        for value in CODEWORD_TO_CHARACTER:
            for inverted in (value, value ^ CHARACTER_MASK):
                images.append(low[inverted & 0x7F] | high[inverted >> 7])
        tables.append(tuple(images))
    return tuple(tables)


CODEWORD_TO_BARS: tuple[tuple[int, ...], ...] = _codeword_to_bars()
"""``CODEWORD_TO_BARS[k][(codeword << 1) | inverted]``: the bars character ``k`` draws, in
hex layout. ORing all ten and formatting as 65 hex digits gives the bar states."""
