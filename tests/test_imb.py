"""Intelligent Mail barcode codec: spec examples, tables, edge values and error reasons.

The published USPS-B-3200 examples pin every step; a deliberately slow reference encoder,
written straight from the spec's prose, cross-checks the table-driven fast paths.
"""

from __future__ import annotations

import pickle
import random
import subprocess
import sys

import pytest

import imb
from imb import codec, lookup, tables
from imb.errors import REASONS, ImbError

TRACKING = "01234567094987654321"

# USPS-B-3200 Appendix C: routing, binary value (hex), FCS, codewords (step 3),
# characters after step 5, bars.
SPEC_EXAMPLES = [
    (
        "",
        "00000000001122103B5C2004B1",
        0x051,
        [0, 0, 0, 0, 559, 202, 508, 451, 124, 17],
        [0x1FE0, 0x001F, 0x001F, 0x001F, 0x0ADB, 0x01A3, 0x1BC3, 0x1838, 0x012B, 0x0076],
        "ATTFATTDTTADTAATTDTDTATTDAFDDFADFDFTFFFFFTATFAAAATDFFTDAADFTFDTDT",
    ),
    (
        "01234",
        "0000000D138A87BAB5CF3804B1",
        0x065,
        [0, 0, 15, 14, 290, 567, 385, 48, 388, 333],
        [0x1FE0, 0x001F, 0x02BF, 0x0057, 0x0255, 0x18DB, 0x1B17, 0x009D, 0x030B, 0x0583],
        "DTTAFADDTTFTDTFTFDTDDADADAFADFATDDFTAAAFDTTADFAAATDFDTDFADDDTDFFT",
    ),
    (
        "012345678",
        "000202BDC097711204D21804B1",
        0x606,
        [0, 110, 1113, 1363, 198, 413, 470, 468, 1333, 513],
        [0x1154, 0x1F07, 0x01FE, 0x0110, 0x019A, 0x1298, 0x03A2, 0x03A1, 0x0084, 0x14EE],
        "ADFTTAFDTTTTFATTADTAAATFTFTATDAAAFDDADATATDTDTTDFDTDATADADTDFFTFA",
    ),
    (
        "01234567891",
        "016907B2A24ABC16A2E5C004B1",
        0x751,
        [14, 787, 607, 1022, 861, 19, 816, 1294, 35, 301],
        [0x0DCB, 0x085C, 0x08E4, 0x0B06, 0x06DD, 0x1740, 0x17C6, 0x1200, 0x123F, 0x1B2B],
        "AADTFFDFTDADTAADAATFDTDDAAADDTDTTDAFADADDDTFFFDDTTTADFAAADFTDAADA",
    ),
]
EXAMPLE_IDS = ["no-routing", "zip5", "zip9", "zip11"]
EXAMPLE_BARS = [(example[0], example[5]) for example in SPEC_EXAMPLES]


# --- a slow reference implementation, straight from the spec text -------------------------


def ref_binary(tracking: str, routing: str) -> int:
    value = {0: 0, 5: 1, 9: 100001, 11: 1000100001}[len(routing)]
    value += int(routing) if routing else 0
    value = value * 10 + int(tracking[0])
    value = value * 5 + int(tracking[1])
    for digit in tracking[2:]:
        value = value * 10 + int(digit)
    return value


def ref_crc(value: int) -> int:
    data = value.to_bytes(13, "big")
    register = 0x7FF
    bits = [(data[0] >> shift) & 1 for shift in range(5, -1, -1)]
    for byte in data[1:]:
        bits.extend((byte >> shift) & 1 for shift in range(7, -1, -1))
    for bit in bits:
        if ((register >> 10) & 1) ^ bit:
            register = ((register << 1) ^ 0xF35) & 0x7FF
        else:
            register = (register << 1) & 0x7FF
    return register


def ref_characters_to_bars(chars: list[int]) -> str:
    letters = []
    for d_char, d_bit, a_char, a_bit in tables.BAR_MAP:
        descender = (chars[d_char] >> d_bit) & 1
        ascender = (chars[a_char] >> a_bit) & 1
        letters.append({(1, 1): "F", (0, 1): "A", (1, 0): "D", (0, 0): "T"}[descender, ascender])
    return "".join(letters)


def ref_value_to_bars(value: int) -> str:
    """Steps 2-6 for any binary value, including ones no valid input produces."""
    fcs = ref_crc(value)
    words = []
    value, j = divmod(value, 636)
    for _ in range(8):
        value, word = divmod(value, 1365)
        words.append(word)
    words = [value, *reversed(words), j * 2]
    if fcs & 0x400:
        words[0] += 659
    chars = []
    for k, word in enumerate(words):
        char = tables.FIVE_OF_13[word] if word < 1287 else tables.TWO_OF_13[word - 1287]
        chars.append(char ^ 0x1FFF if (fcs >> k) & 1 else char)
    return ref_characters_to_bars(chars)


def ref_encode(tracking: str, routing: str) -> str:
    return ref_value_to_bars(ref_binary(tracking, routing))


def random_pair(rng: random.Random) -> tuple[str, str]:
    tracking = f"{rng.randrange(10)}{rng.randrange(5)}{rng.randrange(10**18):018d}"
    digits = rng.choice((0, 5, 9, 11))
    return tracking, f"{rng.randrange(10**digits):0{digits}d}" if digits else ""


def raised(call, *args, **kwargs) -> ImbError:
    """The ImbError that ``call`` raises (failing the test if it raises nothing or else)."""
    with pytest.raises(ImbError) as caught:
        call(*args, **kwargs)
    assert caught.value.reason in REASONS
    return caught.value


def reason_of(call, *args, **kwargs) -> str:
    return raised(call, *args, **kwargs).reason


# --- spec examples -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("routing", "binary", "fcs", "words", "chars", "bars"), SPEC_EXAMPLES, ids=EXAMPLE_IDS
)
def test_spec_example_every_step(routing, binary, fcs, words, chars, bars):
    value = codec.binary_value(TRACKING, routing)
    assert f"{value:026X}" == binary
    assert codec.crc11(value) == fcs
    assert codec.codewords(value) == words
    assert codec.characters(words, fcs) == chars
    assert codec.bars_to_characters(bars) == chars
    assert codec.encode(TRACKING, routing) == bars
    assert ref_encode(TRACKING, routing) == bars


@pytest.mark.parametrize(("routing", "bars"), EXAMPLE_BARS, ids=EXAMPLE_IDS)
def test_spec_example_decodes(routing, bars):
    barcode = imb.decode(bars)
    assert barcode == imb.Barcode(TRACKING, routing)
    assert barcode.repaired_position is None
    assert barcode.barcode_id == "01"
    assert barcode.service_type == "234"
    assert barcode.mailer_id == "567094"
    assert barcode.serial == "987654321"
    assert barcode.full == TRACKING + routing
    assert barcode.bars == bars
    assert imb.canonical(bars) == TRACKING
    assert imb.parse(bars) == barcode
    assert imb.parse(TRACKING + routing) == barcode


def test_example_4_step_4_adjustments():
    """Example 4 has FCS bit 10 set: A becomes 14 + 659 = 673, and J becomes 301 * 2 = 602."""
    adjusted = [673, 787, 607, 1022, 861, 19, 816, 1294, 35, 602]
    fcs = 0x751
    expected = [
        tables.CODEWORD_TO_CHARACTER[word] ^ (0x1FFF if (fcs >> k) & 1 else 0)
        for k, word in enumerate(adjusted)
    ]
    assert codec.characters(SPEC_EXAMPLES[3][3], fcs) == expected == SPEC_EXAMPLES[3][4]


def test_fcs_of_zero_and_all_zero_tracking():
    assert codec.crc11(0) == 0x6E0
    assert ref_crc(0) == 0x6E0
    zeros = "0" * 20
    assert codec.binary_value(zeros) == 0
    assert imb.decode(imb.encode(zeros)) == imb.Barcode(zeros)


# --- tables --------------------------------------------------------------------------------


def test_character_tables_spot_values():
    five = [31, 7936, 47, 7808, 6368, 1077, 2641, 856, 744, 496]
    assert [tables.FIVE_OF_13[i] for i in (0, 1, 2, 3, 93, 500, 1000, 1284, 1285, 1286)] == five
    two = [3, 6144, 5, 5120, 144, 513, 520, 272, 160]
    assert [tables.TWO_OF_13[i] for i in (0, 1, 2, 3, 50, 60, 75, 76, 77)] == two


def test_character_tables_shape():
    assert len(tables.FIVE_OF_13) == len(set(tables.FIVE_OF_13)) == 1287
    assert len(tables.TWO_OF_13) == len(set(tables.TWO_OF_13)) == 78
    assert all(v.bit_count() == 5 for v in tables.FIVE_OF_13)
    assert all(v.bit_count() == 2 for v in tables.TWO_OF_13)

    def symmetric(v: int) -> bool:
        return f"{v:013b}" == f"{v:013b}"[::-1]

    assert sum(map(symmetric, tables.FIVE_OF_13)) == 15
    assert all(symmetric(v) for v in tables.FIVE_OF_13[-15:])
    assert sum(map(symmetric, tables.TWO_OF_13)) == 6
    assert all(symmetric(v) for v in tables.TWO_OF_13[-6:])


def test_character_to_codeword_is_the_inverse():
    valid = [v for v in range(8192) if tables.CHARACTER_TO_CODEWORD[v] >= 0]
    assert len(valid) == 2 * 1365
    assert {v.bit_count() for v in valid} == {2, 5, 8, 11}
    for codeword, char in enumerate(tables.CODEWORD_TO_CHARACTER):
        assert tables.CHARACTER_TO_CODEWORD[char] == codeword << 1
        assert tables.CHARACTER_TO_CODEWORD[char ^ 0x1FFF] == (codeword << 1) | 1


def test_bar_map_spot_entries_and_bijection():
    assert tables.BAR_MAP[0] == (7, 2, 4, 3)  # bar 1: H2 / E3
    assert tables.BAR_MAP[64] == (3, 10, 8, 2)  # bar 65: D10 / I2
    sources = [(b[0], b[1]) for b in tables.BAR_MAP] + [(b[2], b[3]) for b in tables.BAR_MAP]
    assert sorted(sources) == [(c, bit) for c in range(10) for bit in range(13)]


def test_crc_table_matches_bitwise_reference():
    rng = random.Random(7)
    for value in [0, 1, (1 << 102) - 1, *(rng.getrandbits(102) for _ in range(2000))]:
        assert codec.crc11(value) == ref_crc(value)


def test_lookup_tables_round_trip_every_character_bit():
    """Each single character bit lands on exactly the bar the map names, both directions."""
    for bar, (d_char, d_bit, a_char, a_bit) in enumerate(tables.BAR_MAP):
        for char, bit, letter in ((d_char, d_bit, "D"), (a_char, a_bit, "A")):
            chars = [0] * 10
            chars[char] = 1 << bit
            bars = ref_characters_to_bars(chars)
            assert bars == "T" * bar + letter + "T" * (64 - bar)
            assert codec.bars_to_characters(bars) == chars
    assert "0123".translate(lookup.HEX_TO_LETTER) == "TADF"
    assert "TADF".translate(lookup.LETTER_TO_DIGIT) == "0123"


# --- agreement with the reference on random inputs -------------------------------------------


def test_fast_encoder_matches_reference():
    rng = random.Random(11)
    for _ in range(1500):
        tracking, routing = random_pair(rng)
        assert codec.encode(tracking, routing) == ref_encode(tracking, routing)


# --- routing code ranges ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("routing", "expected"),
    [("85308", 85309), ("853081465", 853181466), ("85308146502", 86308246503)],
)
def test_routing_value(routing, expected):
    assert codec.binary_value("0" * 20, routing) == expected * 5 * 10**19


@pytest.mark.parametrize(
    "routing",
    [
        "",
        "00000",
        "99999",
        "000000000",
        "999899999",
        "999900000",
        "999999999",
        "00000000000",
        "99999999999",
        "99990000000",
    ],
)
def test_routing_boundaries_round_trip(routing):
    tracking = "94999999999999999999"
    barcode = imb.decode(imb.encode(tracking, routing))
    assert (barcode.tracking, barcode.routing) == (tracking, routing)


def test_routing_value_past_11_digits_is_rejected_even_with_good_crc():
    value = (101_000_100_001 * 10 + 0) * 5 * 10**18
    bars = ref_value_to_bars(value)
    error = raised(imb.decode, bars)
    assert error.reason == "codeword"
    assert "routing" in str(error)


def test_largest_valid_binary_value():
    value = codec.binary_value("94999999999999999999", "99999999999")
    assert value == 0x3FBD723AB5D7EF61336687FFFF
    assert value.bit_length() == 102


# --- Barcode fields ---------------------------------------------------------------------------


def test_mailer_id_split():
    six = imb.Barcode("01234567094987654321")
    assert (six.mailer_id, six.serial) == ("567094", "987654321")
    nine = imb.Barcode("01234901234567891234")
    assert (nine.mailer_id, nine.serial) == ("901234567", "891234")
    assert imb.Barcode("00000899999000000000").mailer_id == "899999"


def test_barcode_is_frozen_and_hashable():
    barcode = imb.Barcode(TRACKING, "01234")
    with pytest.raises(AttributeError):
        barcode.tracking = "x"  # type: ignore[misc]
    assert {barcode, imb.Barcode(TRACKING, "01234")} == {barcode}


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tracking", "routing", "reason"),
    [
        ("", "", "length"),
        ("0123456709498765432", "", "length"),
        ("012345670949876543210", "", "length"),
        ("0a234567094987654321", "", "characters"),
        ("０1234567094987654321", "", "characters"),  # fullwidth zero
        ("٠1234567094987654321", "", "characters"),  # Arabic-Indic zero
        ("²1234567094987654321", "", "characters"),  # isdigit() but int() fails
        (" 1234567094987654321", "", "characters"),
        ("05234567094987654321", "", "barcode_id"),
        ("09234567094987654321", "", "barcode_id"),
        (TRACKING, "1234", "length"),
        (TRACKING, "123456", "length"),
        (TRACKING, "0123456789", "length"),
        (TRACKING, "012345678912", "length"),
        (TRACKING, "0123x", "characters"),
        (TRACKING, "٠١٢٣٤", "characters"),
    ],
)
def test_encode_rejects(tracking, routing, reason):
    assert reason_of(imb.encode, tracking, routing) == reason


def test_error_messages_name_the_problem():
    message = str(raised(imb.encode, "0a234567094987654321"))
    assert "'a' at index 1" in message
    message = str(raised(imb.encode, "05234567094987654321"))
    assert "'05'" in message and "0-4" in message
    message = str(raised(imb.decode, "ADFX" + "T" * 61))
    assert "'X' at index 3" in message


def test_decode_rejects_bad_shapes():
    good = SPEC_EXAMPLES[0][5]
    assert reason_of(imb.decode, "") == "length"
    assert reason_of(imb.decode, good[:-1]) == "length"
    assert reason_of(imb.decode, good + "T") == "length"
    assert reason_of(imb.decode, good.lower()) == "characters"
    assert reason_of(imb.decode, good[:10] + "X" + good[11:]) == "characters"
    assert reason_of(imb.decode, " " + good[1:]) == "characters"


def test_decode_reasons_character_codeword_crc():
    assert reason_of(imb.decode, "T" * 65) == "character"
    assert reason_of(imb.decode, "F" * 65) == "character"
    # Upside down: bars reversed with ascenders and descenders swapped.
    for *_, bars in SPEC_EXAMPLES:
        rotated = bars[::-1].translate(str.maketrans("AD", "DA"))
        assert reason_of(imb.decode, rotated) in {"codeword", "character", "crc"}


def test_odd_j_codeword_is_an_orientation_error():
    chars = codec.bars_to_characters(SPEC_EXAMPLES[0][5])
    inverted = chars[9].bit_count() > 5
    odd = tables.CODEWORD_TO_CHARACTER[35]
    chars[9] = odd ^ 0x1FFF if inverted else odd
    error = raised(codec.characters_to_fields, chars)
    assert error.reason == "codeword"
    assert "upside down" in str(error)


def test_codeword_a_out_of_range():
    chars = codec.bars_to_characters(SPEC_EXAMPLES[0][5])
    chars[0] = tables.CODEWORD_TO_CHARACTER[1318]
    assert reason_of(codec.characters_to_fields, chars) == "codeword"


def test_crc_mismatch_with_all_characters_valid():
    value = codec.binary_value(TRACKING, "01234")
    fcs = codec.crc11(value) ^ 0x001  # flip FCS bit 0 only: invert character A
    chars = codec.characters(codec.codewords(value), fcs)
    error = raised(codec.characters_to_fields, chars)
    assert error.reason == "crc"
    assert "0x" in str(error)


def test_imb_error_is_value_error_and_pickles():
    error = ImbError("crc", "frame check sequence mismatch")
    assert isinstance(error, ValueError)
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.reason, str(clone)) == ("crc", "frame check sequence mismatch")


def test_non_str_is_a_type_error():
    with pytest.raises(TypeError):
        imb.canonical(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        imb.decode(b"ADFT")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        imb.encode(1234)  # type: ignore[arg-type]


# --- forms -----------------------------------------------------------------------------------


@pytest.mark.parametrize("routing", ["", "01234", "012345678", "01234567891"])
def test_digit_forms(routing):
    full = TRACKING + routing
    assert imb.canonical(full) == TRACKING
    assert imb.parse(full) == imb.Barcode(TRACKING, routing)
    assert imb.parse(f" \t{full}\n") == imb.Barcode(TRACKING, routing)


def test_bar_forms_are_trimmed_and_case_insensitive():
    bars = SPEC_EXAMPLES[3][5]
    assert imb.canonical(f"  {bars.lower()}\r\n") == TRACKING
    assert imb.parse(bars.swapcase()).routing == "01234567891"
    assert imb.canonical("\u3000" + bars + "\u00a0") == TRACKING


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "length"),
        ("   ", "length"),
        ("0123456709498765432", "length"),
        ("012345670949876543210", "length"),
        ("012345670949876543210123", "length"),
        ("0123456709498765432101234567", "length"),
        ("012345670949876543210123456789", "length"),
        ("01234567094987654321012345678912", "length"),
        ("05234567094987654321", "barcode_id"),
        ("0523456709498765432101234", "barcode_id"),
        ("01234-56709-49876-54321", "characters"),
        ("0123456709498765432１", "characters"),
        ("ADFT0123", "characters"),
        ("hello", "characters"),
        ("ADFT", "length"),
        ("A" * 66, "length"),
        ("ß" * 65, "characters"),
        ("T" * 65, "character"),
    ],
)
def test_forms_reject(value, reason):
    assert reason_of(imb.canonical, value) == reason
    assert reason_of(imb.parse, value) == reason


def test_canonical_of_20_digit_form_has_no_routing():
    assert imb.parse(TRACKING).routing == ""


# --- damaged bars ----------------------------------------------------------------------------


def corrupt(bars: str, position: int, offset: int) -> str:
    state = tables.BAR_LETTERS.index(bars[position]) ^ offset
    return bars[:position] + tables.BAR_LETTERS[state] + bars[position + 1 :]


@pytest.mark.parametrize(("routing", "bars"), EXAMPLE_BARS, ids=EXAMPLE_IDS)
def test_every_single_bar_corruption_of_spec_examples(routing, bars):
    repaired = 0
    for position in range(65):
        for offset in (1, 2, 3):
            damaged = corrupt(bars, position, offset)
            assert reason_of(imb.decode, damaged) in {"character", "codeword", "crc"}
            try:
                barcode = imb.decode(damaged, repair=True)
            except ImbError:
                continue
            assert barcode == imb.Barcode(TRACKING, routing, position)
            repaired += 1
    # Every corruption of these four is uniquely repairable; on random codes about 0.2% are
    # ambiguous (two substitutions pass the CRC) and correctly refused.
    assert repaired == 195


def test_repair_is_not_used_for_valid_bars_or_bad_shapes():
    bars = SPEC_EXAMPLES[1][5]
    assert imb.decode(bars, repair=True).repaired_position is None
    assert reason_of(imb.decode, bars[:-1], repair=True) == "length"
    assert reason_of(imb.decode, bars[:-1] + "X", repair=True) == "characters"


def test_repair_raises_original_error_when_several_bars_are_damaged():
    bars = SPEC_EXAMPLES[1][5]
    damaged = corrupt(corrupt(corrupt(bars, 3, 1), 30, 2), 60, 3)
    original = reason_of(imb.decode, damaged)
    assert reason_of(imb.decode, damaged, repair=True) == original


def test_repair_through_forms():
    bars = SPEC_EXAMPLES[3][5]
    damaged = corrupt(bars, 17, 2).lower()
    assert reason_of(imb.parse, damaged) == "character"
    assert imb.parse(damaged, repair=True) == imb.Barcode(TRACKING, "01234567891", 17)
    assert imb.canonical(damaged, repair=True) == TRACKING


def test_lone_surrogates_and_huge_values_are_ordinary_errors():
    assert reason_of(imb.canonical, "\ud800") == "characters"
    message = str(raised(imb.encode, "1" * 10_000))
    assert len(message) < 200


# --- package surface --------------------------------------------------------------------------


def test_public_api_and_lazy_pyarrow():
    for name in imb.__all__:
        assert getattr(imb, name) is not None
    code = "import sys, imb; imb.encode('0' * 20); assert 'pyarrow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
