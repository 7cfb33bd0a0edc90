"""Property tests for the Intelligent Mail barcode codec (hypothesis).

Example counts are kept moderate so the imb tests stay well under 30 s on two cores.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import imb
from imb.errors import REASONS, ImbError
from imb.tables import BAR_LETTERS

SETTINGS = settings(max_examples=300, deadline=None)

trackings = st.builds(
    lambda first, second, rest: f"{first}{second}{rest:018d}",
    st.integers(0, 9),
    st.integers(0, 4),
    st.integers(0, 10**18 - 1),
)
routings = st.sampled_from([0, 5, 9, 11]).flatmap(
    lambda n: st.integers(0, 10**n - 1).map(lambda v: f"{v:0{n}d}") if n else st.just("")
)
bar_strings = st.text(alphabet="ADFT", max_size=80)
full_bar_strings = st.text(alphabet="ADFT", min_size=65, max_size=65)
digit_strings = st.text(alphabet="0123456789", max_size=35)


def only_imb_errors(call, *args, **kwargs) -> None:
    """Run ``call``; bad input may raise ImbError with a known reason, nothing else."""
    try:
        call(*args, **kwargs)
    except ImbError as error:
        assert error.reason in REASONS
        assert str(error)
        assert "\n" not in str(error)


@SETTINGS
@given(trackings, routings)
def test_round_trip(tracking, routing):
    bars = imb.encode(tracking, routing)
    assert len(bars) == 65
    assert set(bars) <= set("ADFT")
    barcode = imb.decode(bars)
    assert barcode == imb.Barcode(tracking, routing)
    assert imb.parse(bars) == barcode
    assert imb.parse(tracking + routing) == barcode
    assert imb.canonical(bars.lower()) == imb.canonical(tracking + routing) == tracking
    assert len(barcode.mailer_id) + len(barcode.serial) == 15


@SETTINGS
@given(trackings, routings, st.integers(0, 64), st.integers(1, 3))
def test_single_bar_corruption_is_detected_and_never_misrepaired(
    tracking, routing, position, offset
):
    bars = imb.encode(tracking, routing)
    state = BAR_LETTERS.index(bars[position]) ^ offset
    damaged = bars[:position] + BAR_LETTERS[state] + bars[position + 1 :]
    try:
        imb.decode(damaged)
    except ImbError as error:
        assert error.reason in {"character", "codeword", "crc"}
    else:
        raise AssertionError("a single damaged bar went undetected")
    try:
        repaired = imb.decode(damaged, repair=True)
    except ImbError:
        return
    assert repaired == imb.Barcode(tracking, routing, position)


@SETTINGS
@given(st.one_of(st.text(), bar_strings, full_bar_strings, digit_strings))
def test_arbitrary_strings_raise_only_imb_errors(value):
    only_imb_errors(imb.decode, value)
    only_imb_errors(imb.decode, value, repair=True)
    only_imb_errors(imb.canonical, value)
    only_imb_errors(imb.parse, value, repair=True)
    only_imb_errors(imb.encode, value)
    only_imb_errors(imb.encode, "01234567094987654321", value)


@settings(max_examples=200, deadline=None)
@given(full_bar_strings)
def test_random_bars_decode_consistently(bars):
    """Random bars almost never decode; when they do, the result re-encodes to them."""
    try:
        barcode = imb.decode(bars)
    except ImbError:
        return
    assert imb.encode(barcode.tracking, barcode.routing) == bars


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(max_size=70),
            digit_strings,
            full_bar_strings,
            st.builds(lambda t, r: t + r, trackings, routings),
            st.builds(imb.encode, trackings, routings),
            st.builds(lambda t: f" {t}\t", trackings),
        ),
        max_size=30,
    ),
    st.booleans(),
)
def test_canonical_array_agrees_with_scalar(values, repair):
    codes, reasons = imb.canonical_array(values, repair=repair)
    assert len(codes) == len(reasons) == len(values)
    for value, code, reason in zip(values, codes.to_pylist(), reasons.to_pylist(), strict=True):
        if value is None:
            assert (code, reason) == (None, None)
            continue
        try:
            barcode = imb.parse(value, repair=repair)
        except ImbError as error:
            assert (code, reason) == (None, error.reason)
        else:
            expected = None if barcode.repaired_position is None else "repaired"
            assert (code, reason) == (barcode.tracking, expected)
