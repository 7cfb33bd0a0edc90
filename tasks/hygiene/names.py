"""Personal names parsed into prefix, first, middle, last and suffix with nameparser.

Handles "LAST, FIRST M", "First Middle Last", titles, suffixes (JR, III are
kept) and ALL CAPS (nameparser's capitalization: McDonald, O'Brien). Plain
two- or three-word names of letters only, dotted initials, Mc/Mac names and
Jr/Sr/II-V suffixes included (the usual shapes of legacy rows), take a
vectorized path that gives exactly what nameparser would (the tests compare
them); the rest go through nameparser once per distinct value (0.2-0.4 ms each).
Middle initials E, Y, I and V had sent 6,900 of the 8,200 distinct names that went
to nameparser in the 1M benchmark's sample there; now they take the fast path
(1,300 go there, and checking the sample's names takes 7.6-7.9 CPU s, not 8.8-8.9).
"""

from __future__ import annotations

from functools import cache, lru_cache

import pyarrow as pa
import pyarrow.compute as pc
from nameparser import HumanName
from nameparser.config import CONSTANTS

from tasks.hygiene.distinct import as_array, map_distinct

PARTS = ("prefix", "first", "middle", "last", "suffix")
_RESULT = pa.struct([(p, pa.string()) for p in (*PARTS, "error")])

_WORD = r"[A-Za-z]{2,}"
_INITIAL = r"[A-Za-z]\.?"
_FIRST = rf"{_WORD}|[A-Za-z]\."
_MIDDLE = rf"{_WORD}|{_INITIAL}"
# Generational suffixes nameparser keeps: Jr, Sr (dotted or not), II, III, IV, V.
_SUFFIX = r"[Jj][Rr]\.?|[Ss][Rr]\.?|[Ii]{2,3}|[Ii][Vv]|[Vv]"
# "First Last", "F. M[iddle] Last", "Last, First", "Last , F. M.", each with a suffix or not.
_FIRST_LAST = rf"^(?P<first>{_FIRST}) +(?:(?P<middle>{_MIDDLE}) +)?(?P<last>{_WORD})"
_LAST_FIRST = rf"^(?P<last>{_WORD}) *, *(?P<first>{_FIRST})(?: +(?P<middle>{_MIDDLE}))?"
# A capital E or Y (conjunctions) or I or V (numerals) as the middle initial: nameparser reads
# it as an initial, in a name with some small letter ("Sally E Dickerson", "Santos, Jason Y").
# After "Last, First", I and V are read as suffixes, so only E and Y qualify there.
_INITIAL_AFTER_FIRST, _INITIAL_AFTER_COMMA = "^[EYIV]$", "^[EY]$"
# Each pattern with the capital initials its middle may be.
_PATTERNS = ((rf"{_FIRST_LAST} +(?P<suffix>{_SUFFIX})$", _INITIAL_AFTER_FIRST),
             (rf"{_LAST_FIRST} +(?P<suffix>{_SUFFIX})$", _INITIAL_AFTER_COMMA),
             (rf"{_FIRST_LAST}$", _INITIAL_AFTER_FIRST),
             (rf"{_LAST_FIRST}$", _INITIAL_AFTER_COMMA))
# nameparser's Mac/Mc convention (its `mac` regex): "MCGEE" -> "McGee", "Macias" -> "MacIas".
_MAC = r"^(?P<mac>[Mm][Aa]?[Cc])(?P<rest>[A-Za-z]{2,})$"


@cache
def _special_words(last: bool = False) -> pa.Array:
    """Lower-case words nameparser treats specially: the fast path must avoid them.

    As the last name (`last`), after plain words, nameparser keeps a title or a last-name
    prefix as the last name ("Linda King", "King, Linda M", "Joyce Le"): only suffixes and
    conjunctions are special there. Rows of such names had been most of those left to
    nameparser (the generated legacy rows' "King", "Bishop", "Le"). A one-off check of
    188,928 names (every title, prefix, suffix and conjunction as the last name, upper and
    capitalized, after plain, dotted, upper-case and Mac first names, with and without a
    middle name and a Jr or III) found nameparser agreeing with the fast path; the property
    test in tests/test_hygiene.py generates such names.
    """
    groups = [CONSTANTS.suffix_acronyms, CONSTANTS.suffix_not_acronyms, CONSTANTS.conjunctions]
    if not last:
        groups += [CONSTANTS.titles, CONSTANTS.prefixes]
    words = {w.lower().replace(".", "") for group in groups for w in group}
    return pa.array(sorted(words), pa.string())


@lru_cache(maxsize=1 << 18)
def parse_one(raw: str) -> dict[str, str | None]:
    """The library path for one raw name."""
    if not raw.strip():
        return {**dict.fromkeys(PARTS), "error": "missing_name"}
    name = HumanName(raw)
    name.capitalize(force=True)
    parts = {
        "prefix": name.title, "first": name.first, "middle": name.middle,
        "last": name.last, "suffix": name.suffix,
    }
    cleaned = {k: (v or None) for k, v in parts.items()}
    error = None if cleaned["first"] or cleaned["last"] else "unparseable_name"
    return {**cleaned, "error": error}


def _plain(word: pa.Array, *, last: bool = False) -> pa.Array:
    """Whether nameparser reads a word as an ordinary name word: not one it treats specially
    (titles, suffixes, conjunctions such as "E" or "Y", last-name prefixes), dotted or not;
    as the last name (`last`), not a suffix or a conjunction.
    """
    bare = pc.replace_substring(pc.utf8_lower(word), ".", "")
    special = pc.is_in(bare, value_set=_special_words(last))
    return pc.fill_null(pc.invert(special), True)


def _capitalized(word: pa.Array) -> pa.Array:
    """A plain word as nameparser capitalizes it: first letter up, with its Mac/Mc rule."""
    mac = pc.extract_regex(word, _MAC)
    split = pc.binary_join_element_wise(
        pc.utf8_capitalize(pc.struct_field(mac, "mac")),
        pc.utf8_capitalize(pc.struct_field(mac, "rest")), "")
    return pc.if_else(pc.is_valid(mac), split, pc.utf8_capitalize(word))


def _fast_path(text: pa.Array) -> tuple[pa.Array, dict[str, pa.Array]]:
    """Rows that are plain "First [M] Last [Jr]" or "Last, First [M] [Jr]", and their parts."""
    empty = pa.nulls(len(text), pa.string())
    chosen = pa.array([False] * len(text), pa.bool_())
    parts = {key: empty for key in ("first", "middle", "last", "suffix")}
    cased = pc.match_substring_regex(text, "[a-z]")
    for pattern, initials in _PATTERNS:
        found = pc.extract_regex(text, pattern)
        ok = pc.and_(pc.fill_null(pc.is_valid(found), False), pc.invert(chosen))
        names = {field.name for field in found.type}
        fields = {key: pc.struct_field(found, key) for key in ("first", "middle", "last")}
        for key, word in fields.items():
            plain = _plain(word, last=key == "last")
            if key == "middle":
                initial = pc.match_substring_regex(word, initials)
                plain = pc.or_(plain, pc.and_(initial, cased))
            ok = pc.and_(ok, plain)
        ok = pc.fill_null(ok, False)
        values = {key: _capitalized(value) for key, value in fields.items()}
        if "suffix" in names:
            suffix = pc.struct_field(found, "suffix")
            roman = pc.match_substring_regex(suffix, "^[IiVv]+$")
            values["suffix"] = pc.if_else(roman, pc.ascii_upper(suffix),
                                          pc.utf8_capitalize(suffix))
        for key, value in values.items():
            value = pc.if_else(pc.equal(value, ""), empty, value)
            parts[key] = pc.if_else(ok, value, parts[key])
        chosen = pc.or_(chosen, ok)
    return chosen, parts


def parse_names(raw: pa.Array | pa.ChunkedArray | list[str | None]) -> pa.Table:
    """Parse full names.

    Returns:
        A table with `prefix`, `first`, `middle`, `last`, `suffix` (null when
        absent) and `error` (`missing_name` when blank, `unparseable_name` when
        nothing usable was found).
    """
    text = pc.utf8_trim_whitespace(as_array(raw))
    text = pc.replace_substring_regex(text, r"\s+", " ")
    fast, parts = _fast_path(text)
    empty = pa.nulls(len(text), pa.string())
    slow = map_distinct(pc.if_else(fast, empty, text), parse_one, _RESULT)
    columns = {
        key: pc.if_else(fast, parts.get(key, empty), pc.struct_field(slow, key)) for key in PARTS
    }
    error = pc.if_else(fast, empty, pc.struct_field(slow, "error"))
    missing = pc.fill_null(pc.equal(text, ""), True)
    columns["error"] = pc.if_else(missing, pa.scalar("missing_name"), error)
    return pa.table(columns)
