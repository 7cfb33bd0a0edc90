"""Street addresses normalized to USPS Publication 28 with usaddress-scourgify.

The tagger fails on some real addresses (PO boxes with noise, unit-only
lines); those fall back to a conservative clean-up (upper case, single spaces,
no punctuation but `#`, `/` and `-`) and are flagged `unparsed_address`, never
dropped. The raw value is always kept by the caller. scourgify runs once per
distinct (street, street2, city, state, zip) tuple.

Plain street lines ("123 N Oak St Apt 4") take a vectorized path instead.
What scourgify makes of them is decided by the labels usaddress's CRF gives
the tokens. The CRF sees a house number or unit number only as its length and
trailing zeros, and a word its model has no weights for only as its length
and whether it has a vowel after the first letter. So each row becomes a
template with such tokens replaced by stand-ins with the same features; the
CRF runs once per distinct template (cached across batches), and where it
gives the labels the row's shape implies, the line is built from scourgify's
own tables the way scourgify builds it. Anything else goes to scourgify.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import usaddress
from scourgify import normalize_address_record
from scourgify.cleaning import (
    AMBIGUOUS_DIRECTIONALS,
    KNOWN_ODDITIES,
    PROBLEM_ST_TYPE_ABBRVS,
    post_clean_addr_str,
)
from scourgify.exceptions import AddressNormalizationError
from scourgify.normalize import (
    ABNORMAL_OCCUPANCY_ABBRVS,
    DIRECTIONAL_REPLACEMENTS,
    OCCUPANCY_TYPE_ABBREVIATIONS,
    STREET_TYPE_ABBREVIATIONS,
    normalize_state,
)

from tasks.hygiene.distinct import as_array, map_distinct

FIELDS = ("street", "street2", "city", "state")
_RESULT = pa.struct([*((f, pa.string()) for f in FIELDS), ("error", pa.string())])
_SEP = "\x1f"
_STATE = pa.struct([("state", pa.string()), ("problem", pa.bool_())])
_NULL = pa.scalar(None, pa.string())

_token_features = lru_cache(maxsize=1 << 17)(usaddress.tokenFeatures)


def _features_of(token: str) -> dict[str, object]:
    """usaddress's features of one token, computed once per distinct token (a copy: the
    tagger adds its neighbours' features to it)."""
    return dict(_token_features(token))


# usaddress recomputes every token's features in Python (regular expressions, set lookups)
# on each parse, and they depend on the token alone; parsing is most of checking a CSV
# campaign file's addresses (one template per new address shape). Results are unchanged:
# the function is usaddress's own, cached (tests/test_hygiene_addresses.py compares whole
# columns with scourgify).
usaddress.tokenFeatures = _features_of

# Token roles; a template's codes give each usaddress token the labels it must get.
_NUMBER, _PRE, _NAME, _TYPE, _POST, _UNIT, _HASH, _ID, _HASH_ID = range(9)
_CODES = ("A", "P", "N", "T", "D", "O", "H", "I", "HI")
_LABELS = {
    "A": ("AddressNumber",), "P": ("StreetNamePreDirectional",), "N": ("StreetName",),
    "T": ("StreetNamePostType",), "D": ("StreetNamePostDirectional",),
    "O": ("OccupancyType",), "I": ("OccupancyIdentifier",),
    # scourgify writes "# 12" whichever of the two "#" gets.
    "H": ("OccupancyType", "OccupancyIdentifier"),
}


def _fallback(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = re.sub(r"[^A-Z0-9#/\- ]", " ", value.upper())
    return re.sub(r" +", " ", cleaned).strip() or None


def normalize_one(packed: str) -> dict[str, str | None]:
    """The library path for one address, packed as street, street2, city, state, zip."""
    street, street2, city, state, zip5 = (p or None for p in packed.split(_SEP))
    if street is None:
        return {"street": None, "street2": None, "city": _fallback(city),
                "state": _fallback(state), "error": "missing_street"}
    record = {"address_line_1": street, "address_line_2": street2, "city": city or "",
              "state": state or "", "postal_code": zip5 or ""}
    try:
        out = normalize_address_record(record)
    except (AddressNormalizationError, ValueError, TypeError, KeyError):
        return {"street": _fallback(street), "street2": _fallback(street2),
                "city": _fallback(city), "state": _fallback(state), "error": "unparsed_address"}
    return {"street": out["address_line_1"], "street2": out["address_line_2"],
            "city": out["city"] or _fallback(city), "state": out["state"] or _fallback(state),
            "error": None}


@cache
def model_words() -> frozenset[str] | None:
    """Words usaddress's CRF model has weights for, as a token or as a neighbour.

    Read from the model's own dump; None when it cannot be read, which keeps
    every word as itself in templates (slower, never wrong).
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.txt"
        usaddress.TAGGER.dump(str(path))
        text = path.read_text(encoding="utf-8", errors="replace")
    _, found, rest = text.partition("ATTRIBUTES = {")
    words = re.findall(r"(?m)^\s*\d+: (?:previous:|next:)?word:(.*)$", rest.split("\n}")[0])
    return frozenset(words) if found and words else None


@dataclass(frozen=True)
class _Tables:
    """Word sets and abbreviations from scourgify's and usaddress's own tables (upper case)."""

    directionals: dict[str, str]
    street_types: dict[str, str]
    unit_types: dict[str, str]
    known: pa.Array | None
    """Words the CRF sees as themselves; None when no stand-in can be trusted."""
    usable: bool
    """False where a scourgify configuration rewrites text before tagging in ways not modelled."""


def _stand_ins_hold() -> bool:
    """Whether usaddress still sees stand-ins as the tokens they replace, but for the word.

    A tripwire for a usaddress release with other token features.
    """
    for token, stand_in in (("NGUYEN", "QAQQQQ"), ("BRYS,", "QQQQ,"), ("4075", "1111"),
                            ("1200", "1100"), ("0", "0")):
        seen, instead = usaddress.tokenFeatures(token), usaddress.tokenFeatures(stand_in)
        if {**seen, "word": None} != {**instead, "word": None}:
            return False
    return True


@cache
def _tables() -> _Tables:
    words = model_words()
    known = None
    if words is not None and _stand_ins_hold():
        special = words | usaddress.DIRECTIONS | usaddress.STREET_NAMES
        known = pa.array(sorted({w.upper() for w in special}), pa.string())
    values = set(OCCUPANCY_TYPE_ABBREVIATIONS.values())
    return _Tables(
        directionals={w: DIRECTIONAL_REPLACEMENTS.get(w, w)
                      for pair in DIRECTIONAL_REPLACEMENTS.items() for w in pair},
        # A type scourgify may read as a unit (handle_abnormal_occupancy) is left to it.
        street_types={w: STREET_TYPE_ABBREVIATIONS.get(w, w)
                      for pair in STREET_TYPE_ABBREVIATIONS.items() for w in pair
                      if w.isalpha() and w not in ABNORMAL_OCCUPANCY_ABBRVS},
        # scourgify's normalize_occupancy_type: the abbreviation, else UNIT.
        unit_types={w: w if w in values else OCCUPANCY_TYPE_ABBREVIATIONS.get(w) or "UNIT"
                    for pair in OCCUPANCY_TYPE_ABBREVIATIONS.items() for w in pair
                    if w.isalpha()},
        known=known,
        usable=not KNOWN_ODDITIES and not any(
            re.fullmatch("[A-Za-z0-9 .,#]+", k) for k in AMBIGUOUS_DIRECTIONALS),
    )


@lru_cache(maxsize=1 << 19)
def template_ok(key: str) -> bool:
    """Whether usaddress labels a template's tokens as its codes say."""
    template, codes = key.split(_SEP)
    parsed = usaddress.parse(template)
    return len(parsed) == len(codes) and all(
        label in _LABELS[code] for (_, label), code in zip(parsed, codes, strict=True))


@lru_cache(maxsize=1 << 16)
def _state(value: str) -> dict[str, object]:
    """The state as scourgify returns it, and whether it stops the CT -> COURT rewrite."""
    return {"state": normalize_state(post_clean_addr_str(value)) or _fallback(value),
            "problem": normalize_state(value) in PROBLEM_ST_TYPE_ABBRVS}


@lru_cache(maxsize=1 << 18)
def _city(value: str) -> str | None:
    """The city as scourgify returns it (cached: few distinct values, many batches)."""
    return post_clean_addr_str(value) or _fallback(value)


def _flags(values: pa.Array) -> np.ndarray:
    return pc.fill_null(values, False).to_numpy(zero_copy_only=False)


def _mapped(values: pa.Array, mapping: dict[str, str]) -> pa.Array:
    """`mapping[v]` for each value, the value itself where it has no entry."""
    found = pc.take(pa.array(list(mapping.values()), pa.string()),
                    pc.index_in(values, value_set=pa.array(list(mapping), pa.string())))
    return pc.coalesce(found, values)


def _matches(values: pa.Array, pattern: str) -> np.ndarray:
    return _flags(pc.match_substring_regex(values, pattern))


def _digits_template(digits: pa.Array) -> pa.Array:
    """1s then the trailing zeros: all usaddress sees of a number is its length and those."""
    zeros = pc.subtract(pc.utf8_length(digits), pc.utf8_length(pc.utf8_rtrim(digits, "0")))
    ones = pc.subtract(pc.utf8_length(digits), zeros)
    return pc.binary_join_element_wise(pc.binary_repeat("1", ones),
                                       pc.binary_repeat("0", zeros), "")


def _word_template(words: pa.Array, known: pa.Array | None) -> pa.Array:
    """Words the model does not know as Q/A stand-ins of the same length and vowel feature."""
    if known is None:
        return words
    keep = pc.or_(pc.is_in(words, value_set=known),
                  pc.invert(pc.match_substring_regex(words, "^[A-Z]+$")))
    length = pc.utf8_length(words)
    vowel = pc.match_substring_regex(pc.utf8_slice_codeunits(words, 1), "[AEIOU]")
    plain = pc.binary_repeat("Q", length)
    voweled = pc.binary_join_element_wise(
        "QA", pc.binary_repeat("Q", pc.max_element_wise(pc.subtract(length, 2), 0)), "")
    stand_in = pc.if_else(vowel, voweled, plain)
    keep = pc.or_(keep, pc.is_in(stand_in, value_set=known))
    return pc.if_else(keep, words, stand_in)


@dataclass
class _Tokens:
    """The whitespace tokens of many lines, flat, as indices into their distinct values."""

    words: pa.Array
    """Distinct tokens, without a trailing comma."""
    index: np.ndarray
    comma: np.ndarray
    row: np.ndarray
    pos: np.ndarray
    start: np.ndarray
    count: np.ndarray

    @classmethod
    def split(cls, lines: pa.Array, problem: np.ndarray) -> _Tokens:
        """Whitespace tokens; usaddress also cuts "#12" in two, which the roles allow for.

        The first bare CT of a line becomes COURT where `problem` is False.
        """
        lists = pc.ascii_split_whitespace(pc.utf8_trim(lines, " "))
        offsets = lists.offsets.to_numpy().astype(np.int64)
        flat = pc.list_flatten(lists)
        row = pc.list_parent_indices(lists).to_numpy().astype(np.int64)
        comma = _flags(pc.ends_with(flat, ","))
        text = pc.if_else(pa.array(comma), pc.utf8_slice_codeunits(flat, 0, -1), flat)
        text = _rewrite_problem_types(text, comma, row, problem)
        encoded = pc.dictionary_encode(text)
        return cls(encoded.dictionary, encoded.indices.to_numpy().astype(np.int64), comma, row,
                   np.arange(len(row)) - offsets[row], offsets[:-1], np.diff(offsets))

    def at(self, flags: np.ndarray, index: np.ndarray) -> np.ndarray:
        """`flags` of each row's token at `index` (False where the row has none there)."""
        valid = (index >= 0) & (index < self.count)
        if not len(flags):
            return valid
        return flags[np.where(valid, self.start + index, 0)] & valid

    def of(self, flags: np.ndarray) -> np.ndarray:
        """Per token, from per distinct word."""
        return flags[self.index]

    def join(self, values: pa.Array, keep: np.ndarray, sep: str) -> pa.Array:
        """Each row's kept tokens' `values`, joined with `sep`."""
        counts = np.bincount(self.row[keep], minlength=len(self.count))
        offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
        kept = pc.filter(values, pa.array(keep))
        return pc.binary_join(pa.ListArray.from_arrays(offsets, kept), sep)

    def pick(self, variants: list[pa.Array], choice: np.ndarray) -> pa.Array:
        """Per token, its word's entry in `variants[choice]`."""
        return pc.take(pa.concat_arrays(variants), pa.array(choice * len(self.words) + self.index))


def _rewrite_problem_types(
    text: pa.Array, comma: np.ndarray, row: np.ndarray, problem: np.ndarray
) -> pa.Array:
    """scourgify's clean_ambiguous_street_types: the first bare CT becomes COURT.

    Skipped where the state is one the abbreviation could mean (CT itself).
    """
    done = problem.copy()
    for key, replacement in PROBLEM_ST_TYPE_ABBRVS.items():
        bare = _flags(pc.equal(text, key)) & ~comma & ~done[row]
        rows, first = np.unique(row[bare], return_index=True)
        hit = np.zeros(len(bare), bool)
        hit[np.flatnonzero(bare)[first]] = True
        text = pc.if_else(pa.array(hit), pa.scalar(replacement), text)
        done[rows] = True
    return text


def _roles(tokens: _Tokens, tables: _Tables) -> tuple[np.ndarray, np.ndarray]:
    """Rows that are a plain street line, and each token's role in its row.

    House number, optional pre-directional, street name words, optional street
    type, optional post-directional, then optionally a unit: a unit type and
    its number or letter, or "#" and one, a comma before it allowed. Where the
    words allow more than one reading, the first of: type and post-directional,
    type, post-directional, name only; each with a pre-directional if possible.
    """
    words, n = tokens.words, tokens.count
    bare = ~tokens.comma
    unit_id = tokens.of(_matches(words, "^(?:[0-9]+|[A-Z])$")) & bare
    unit_word = tokens.of(_flags(pc.is_in(words, value_set=pa.array(list(tables.unit_types)))))
    hash_ = tokens.of(_flags(pc.equal(words, "#"))) & bare
    hash_id = tokens.of(_matches(words, "^#(?:[0-9]+|[A-Z])$")) & bare
    two = tokens.at((unit_word & bare) | hash_, n - 2) & tokens.at(unit_id, n - 1) & (n >= 4)
    one = ~two & tokens.at(hash_id, n - 1) & (n >= 3)
    end = n - 2 * two - one
    count = end - 1

    row, pos = tokens.row, tokens.pos
    end_t = end[row]
    word = tokens.of(_matches(words, "^(?:[A-Z]+|[0-9]+(?:ST|ND|RD|TH))$"))
    number = tokens.of(_matches(words, "^[0-9]+$")) & bare
    comma_ok = bare | ((pos == end_t - 1) & (end < n)[row])
    good = np.where(pos == 0, number, np.where(pos < end_t, word & comma_ok, True))
    plain = (np.bincount(row, weights=~good, minlength=len(n)) == 0) & (count >= 1)

    direction = tokens.of(_flags(pc.is_in(words, value_set=pa.array(list(tables.directionals)))))
    street_type = tokens.of(_flags(pc.is_in(
        words, value_set=pa.array(list(tables.street_types)))))
    first_dir = tokens.at(direction, np.ones_like(n))
    last_dir, last_type = tokens.at(direction, end - 1), tokens.at(street_type, end - 1)
    type_before = tokens.at(street_type, end - 2)
    pre = np.zeros(len(n), bool)
    suffix, post, chosen = pre.copy(), pre.copy(), pre.copy()
    readings = [(p, t, d) for t in (True, False) for p in (True, False) for d in (True, False)]
    for has_pre, has_type, has_post in readings:
        fits = ~chosen & (count - has_pre - has_type - has_post >= 1)
        if has_pre:
            fits &= first_dir
        if has_type:
            fits &= type_before if has_post else last_type
        if has_post:
            fits &= last_dir
        pre |= fits & has_pre
        suffix |= fits & has_type
        post |= fits & has_post
        chosen |= fits

    role = np.full(len(pos), _NAME, np.int8)
    role[pos == 0] = _NUMBER
    role[(pos == 1) & pre[row]] = _PRE
    role[suffix[row] & (pos == end_t - 1 - post[row])] = _TYPE
    role[post[row] & (pos == end_t - 1)] = _POST
    unit_at = pos >= end_t
    role[unit_at & two[row] & (pos == n[row] - 2)] = _UNIT
    role[unit_at & two[row] & hash_] = _HASH
    role[unit_at & two[row] & (pos == n[row] - 1)] = _ID
    role[unit_at & one[row]] = _HASH_ID
    return plain, role


def _fast_rows(
    lines: pa.Array, problem: np.ndarray, tables: _Tables
) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """For lines as scourgify tags them: which take the fast path, and their two lines."""
    tokens = _Tokens.split(lines, problem)
    plain, role = _roles(tokens, tables)
    words = tokens.words

    # Template tokens: numbers and unknown words by stand-ins, "#12" as "# 11".
    digits = tokens.of(_matches(words, "^[0-9]+$"))
    after_hash = pc.utf8_slice_codeunits(words, 1)
    hash_digits = after_hash if tables.known is None else pc.if_else(
        pc.match_substring_regex(after_hash, "^[0-9]+$"), _digits_template(after_hash),
        after_hash)
    numbers = words if tables.known is None else _digits_template(words)
    variants = [words, numbers, _word_template(words, tables.known),
                pc.binary_join_element_wise("#", hash_digits, " ")]
    variants += [pc.binary_join_element_wise(v, ",", "") for v in variants]
    choice = np.where(np.isin(role, (_NUMBER, _ID)) & digits, 1,
                      np.where(role == _NAME, 2, np.where(role == _HASH_ID, 3, 0)))
    stand_in = tokens.pick(variants, choice + 4 * tokens.comma)
    everything = np.ones(len(role), bool)
    template = tokens.join(stand_in, everything, " ")
    codes = tokens.join(pc.take(pa.array(_CODES), pa.array(role)), everything, "")
    keys = pc.binary_join_element_wise(template, codes, _SEP)
    encoded = pc.dictionary_encode(pc.if_else(pa.array(plain), keys, _NULL))
    verified = pa.array([template_ok(k) for k in encoded.dictionary.to_pylist()], pa.bool_())
    fast = _flags(pc.take(verified, encoded.indices))

    # Output tokens: Publication 28 abbreviations as scourgify applies them per label.
    output = [words, _mapped(words, tables.directionals), _mapped(words, tables.street_types),
              _mapped(words, tables.unit_types),
              pc.binary_join_element_wise("#", after_hash, " ")]
    choice = np.select([np.isin(role, (_PRE, _POST)), role == _TYPE, role == _UNIT,
                        role == _HASH_ID], [1, 2, 3, 4], 0)
    out = tokens.pick(output, choice)
    line1 = tokens.join(out, role <= _POST, " ")
    line2 = tokens.join(out, role >= _UNIT, " ")
    return fast, line1, pc.if_else(pc.equal(line2, ""), _NULL, line2)


def _spread(values: pa.Array, rows: np.ndarray, n: int) -> pa.Array:
    """`values` for `rows` of `n`, null elsewhere."""
    index = np.full(n, -1, np.int64)
    index[rows] = np.arange(len(rows))
    return pc.take(values, pa.array(index, mask=index < 0))


def fast_path(
    street: pa.Array, street2: pa.Array, city: pa.Array, state: pa.Array, zip5: pa.Array
) -> tuple[np.ndarray, dict[str, pa.Array]]:
    """Rows the vectorized path answers, and its street, street2, city and state for them.

    Takes string arrays with "" for a missing part. Candidates are rows
    scourgify would accept as a record (street, city, state and a valid ZIP
    present) whose text is plain ASCII in which every period can go (none
    precedes a digit) and the only space is " ".
    """
    present = [_flags(pc.not_equal(c, "")) for c in (street, street2, city, state)]
    ascii_ = _flags(pc.match_substring_regex(
        pc.binary_join_element_wise(street, street2, ""), "^[A-Za-z0-9 .,#]+$"))
    periods = _flags(pc.match_substring_regex(street, r"\.[0-9]")) | _flags(
        pc.match_substring_regex(street2, r"\.[0-9]"))
    zip_ok = _flags(pc.match_substring_regex(zip5, "^[0-9]{5}(?:-?[0-9]{4})?$"))
    tables = _tables()
    candidates = np.flatnonzero(
        present[0] & present[2] & present[3] & ascii_ & ~periods & zip_ok & tables.usable)

    states = map_distinct(pc.if_else(pa.array(present[3]), state, _NULL), _state, _STATE)
    rows = pa.array(candidates)
    # scourgify tags "street, street2" (street2 only when present), cleaned.
    line = pc.if_else(pa.array(present[1]).take(rows),
                      pc.binary_join_element_wise(street.take(rows), street2.take(rows), ", "),
                      street.take(rows))
    line = pc.ascii_upper(pc.replace_substring(line, ".", ""))
    problem = _flags(pc.struct_field(states, "problem").take(rows))
    fast, line1, line2 = _fast_rows(line, problem, tables)
    chosen = candidates[fast]
    n = len(street)
    mask = np.zeros(n, bool)
    mask[chosen] = True
    return mask, {
        "street": _spread(line1.filter(pa.array(fast)), chosen, n),
        "street2": _spread(line2.filter(pa.array(fast)), chosen, n),
        "city": map_distinct(pc.if_else(pa.array(mask), city, _NULL), _city, pa.string()),
        "state": pc.struct_field(states, "state"),
    }


def normalize_addresses(
    street: pa.Array, street2: pa.Array, city: pa.Array, state: pa.Array, zip5: pa.Array
) -> pa.Table:
    """Normalize address parts to Publication 28 abbreviations and upper case.

    Returns:
        A table with `street`, `street2`, `city`, `state` and `error`
        (`missing_street`, or `unparsed_address` when the fallback was used).
    """
    parts = [pc.fill_null(as_array(a), "") for a in (street, street2, city, state, zip5)]
    mask, fast_columns = fast_path(*parts)
    fast = pa.array(mask)
    packed = pc.binary_join_element_wise(*parts, _SEP)
    slow = map_distinct(pc.if_else(fast, _NULL, packed), normalize_one, _RESULT)
    columns = {f: pc.if_else(fast, fast_columns[f], pc.struct_field(slow, f)) for f in FIELDS}
    columns["error"] = pc.if_else(fast, _NULL, pc.struct_field(slow, "error"))
    return pa.table(columns)
