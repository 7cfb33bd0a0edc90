"""Hygiene batch functions: exact outputs, and fast paths equal to the library paths."""

from __future__ import annotations

import phonenumbers
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from nameparser.config import CONSTANTS

from tasks.hygiene import clean_emails, clean_phones, clean_zips, parse_names
from tasks.hygiene.names import parse_one as parse_name
from tasks.hygiene.phones import parse_one as parse_phone


def rows(table: pa.Table) -> list[dict]:
    return table.to_pylist()


def test_zips_restore_lost_leading_zeros_and_split_plus4() -> None:
    out = rows(clean_zips(
        ["2134", "02134", "12345-6789", "123456789", "2134.0", "1234567", "12", "abcde",
         None, "", " 90210 ", "02134-12"]
    ))
    assert [(r["zip5"], r["zip4"], r["error"]) for r in out] == [
        ("02134", None, None), ("02134", None, None), ("12345", "6789", None),
        ("12345", "6789", None), ("02134", None, None), ("00123", "4567", None),
        (None, None, "invalid_zip"), (None, None, "invalid_zip"), (None, None, "missing_zip"),
        (None, None, "missing_zip"), ("90210", None, None), (None, None, "invalid_zip"),
    ]


def test_emails_are_trimmed_lowered_and_checked() -> None:
    out = rows(clean_emails(
        [" Bob@Example.COM ", "bad@@x.com", "a@b", "x.y+z@sub.domain.org", None, "",
         "o'neil@mail.co", "dot.@x.com", "no-at-sign.com"]
    ))
    assert [(r["email"], r["error"]) for r in out] == [
        ("bob@example.com", None), (None, "invalid_email"), (None, "invalid_email"),
        ("x.y+z@sub.domain.org", None), (None, None), (None, None), ("o'neil@mail.co", None),
        (None, "invalid_email"), (None, "invalid_email"),
    ]


def test_phones_to_e164_with_type_only_where_knowable() -> None:
    out = rows(clean_phones(
        ["(617) 555-0123", "617.253.1000", "+1 800 555 1212", "1-900-555-0100", "12", "", None,
         "+44 20 7946 0958", "617-253-1000 x12", "(123) 456-7890"]
    ))
    assert [(r["e164"], r["phone_type"], r["error"]) for r in out] == [
        ("+16175550123", "unknown", None), ("+16172531000", "unknown", None),
        ("+18005551212", "toll_free", None), ("+19005550100", "premium", None),
        (None, None, "invalid_phone"), (None, None, None), (None, None, None),
        ("+442079460958", "unknown", None), ("+16172531000", "unknown", None),
        (None, None, "invalid_phone"),
    ]


_nanp = st.builds(
    lambda d, fmt: fmt.format(d[:3], d[3:6], d[6:]),
    st.text("0123456789", min_size=10, max_size=10),
    st.sampled_from(["({}) {}-{}", "{}.{}.{}", "{}{}{}", "+1 {} {} {}", "1-{}-{}-{}"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_nanp, min_size=1, max_size=20))
def test_phone_fast_path_equals_phonenumbers(values: list[str]) -> None:
    out = rows(clean_phones(values))
    for value, got in zip(values, out, strict=True):
        expected = parse_phone(value)
        assert got == expected, value
        if expected["e164"]:
            number = phonenumbers.parse(value, "US")
            assert phonenumbers.is_valid_number(number)


def test_names_in_every_form() -> None:
    out = rows(parse_names(
        ["JOHN SMITH", "SMITH, JOHN A", "Mary O'Brien", "MCDONALD, RONALD", "John Smith III",
         "SMITH, JOHN A JR", "", "Dr. Jane Q. Public", "van der berg, anna", "  JOHN   A  SMITH ",
         None, "Sally E Dickerson", "Santos, Jason Y", "Santos, Jason I", "MARY Y SMITH"]
    ))
    assert [tuple(r.values()) for r in out] == [
        (None, "John", None, "Smith", None, None),
        (None, "John", "A", "Smith", None, None),
        (None, "Mary", None, "O'Brien", None, None),
        (None, "Ronald", None, "McDonald", None, None),
        (None, "John", None, "Smith", "III", None),
        (None, "John", "A", "Smith", "Jr", None),
        (None, None, None, None, None, "missing_name"),
        ("Dr.", "Jane", "Q.", "Public", None, None),
        (None, "Anna", None, "van der Berg", None, None),
        (None, "John", "A", "Smith", None, None),
        (None, None, None, None, None, "missing_name"),
        # (a capital E or Y is a conjunction, I or V a numeral, to nameparser, but as the
        # middle initial of a name with small letters it reads them as initials)
        (None, "Sally", "E", "Dickerson", None, None),
        (None, "Jason", "Y", "Santos", None, None),
        (None, "Jason", None, "Santos", "I", None),
        (None, "Mary", "y", "Smith", None, None),
    ]


_letters = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1,
                   max_size=9)
# Plain words, Mc/Mac names ("Mcgee", "MACIAS", "Mack") and dotted initials ("R.").
_word = st.one_of(
    _letters,
    st.builds(lambda mac, rest: mac + rest, st.sampled_from(["Mc", "MC", "mc", "Mac", "MAC"]),
              _letters),
    st.builds(lambda letter: letter + ".", st.sampled_from("ABCEJRTYaejr")),
)


def _compose(first: str, middle: str | None, last: str, comma: str | None, upper: bool,
             suffix: str | None) -> str:
    if comma:
        name = f"{last}{comma}{first}" + (f" {middle}" if middle else "")
    else:
        name = f"{first} " + (f"{middle} " if middle else "") + last
    name += f" {suffix}" if suffix else ""
    return name.upper() if upper else name


# Words nameparser treats specially (titles, last-name prefixes, suffixes, conjunctions), in
# three cases: in the last place, titles and prefixes take the fast path, the others do not.
_special = st.builds(
    lambda word, case: getattr(word, case)(),
    st.sampled_from(sorted({w.replace(".", "") for group in (
        CONSTANTS.titles, CONSTANTS.prefixes, CONSTANTS.suffix_acronyms,
        CONSTANTS.suffix_not_acronyms, CONSTANTS.conjunctions) for w in group} - {""})),
    st.sampled_from(["lower", "upper", "capitalize"]))

_name = st.builds(
    _compose, _word, st.one_of(st.none(), st.sampled_from("ABCDEIJVYeiy"), _word),
    st.one_of(_word, _special),
    st.sampled_from([None, ", ", ",", " , ", "  ,  "]), st.booleans(),
    st.sampled_from([None, None, "Jr", "jr", "JR.", "Sr", "sr.", "II", "iii", "Iv", "V", "v"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_name, min_size=1, max_size=20))
def test_name_fast_path_equals_nameparser(values: list[str]) -> None:
    for value, got in zip(values, rows(parse_names(values)), strict=True):
        assert got == parse_name(value), value

