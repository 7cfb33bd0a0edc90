"""Column-wise standardisation of people before blocking and scoring (seed E1).

Every step is a pyarrow.compute kernel over a whole column: accents folded to ASCII, lower
case, punctuation to single spaces, street words to USPS abbreviations, generational
suffixes dropped from surnames, first names mapped to a nickname-equivalence key (``bob`` and
``robert`` share ``robert``). Empty results become null, so "missing" has one spelling.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

#: Input columns of `dedup_ray.run` (see the package docstring for their meaning).
INPUT_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("first_name", pa.string()),
        ("middle_name", pa.string()),
        ("last_name", pa.string()),
        ("email", pa.string()),
        ("phone_e164", pa.string()),
        ("street", pa.string()),
        ("city", pa.string()),
        ("state", pa.string()),
        ("zip5", pa.string()),
        ("source_updated_at", pa.timestamp("us", tz="UTC")),
        ("manual_override", pa.bool_()),
        ("email_verified", pa.bool_()),
        ("phone_verified", pa.bool_()),
        ("is_original", pa.bool_()),
    ]
)

#: Fields whose presence counts toward "most complete" and that survivorship merges.
PERSON_FIELDS: tuple[str, ...] = (
    "first_name",
    "middle_name",
    "last_name",
    "email",
    "phone_e164",
    "street",
    "city",
    "state",
    "zip5",
)

_STREET_WORDS = {
    "street": "st",
    "str": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "drive": "dr",
    "lane": "ln",
    "court": "ct",
    "boulevard": "blvd",
    "place": "pl",
    "terrace": "ter",
    "circle": "cir",
    "highway": "hwy",
    "parkway": "pkwy",
    "square": "sq",
    "trail": "trl",
    "way": "way",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
    "apartment": "apt",
    "suite": "ste",
    "unit": "unit",
    "number": "",
    "no": "",
}
_SURNAME_SUFFIXES = {"jr": "", "sr": "", "ii": "", "iii": "", "iv": "", "md": "", "phd": ""}


def _nulls_for_empty(arr: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def _fold(arr: pa.Array) -> pa.Array:
    """ASCII-fold (NFKD, drop what is left outside ASCII) and lower-case.

    Columns that are ASCII already (the common case) skip the two Unicode passes.
    """
    arr = arr.cast(pa.string())
    if pc.all(pc.string_is_ascii(arr)).as_py() is not False:
        return pc.ascii_lower(arr)
    arr = pc.utf8_normalize(arr, form="NFKD")
    arr = pc.replace_substring_regex(arr, r"[^\x00-\x7f]+", "")
    return pc.ascii_lower(arr)


def _words(arr: pa.Array, keep: str = "a-z0-9") -> pa.Array:
    """Drop apostrophes and dots (o'brien -> obrien), other punctuation to one space."""
    arr = pc.replace_substring_regex(_fold(arr), r"['.`]", "")
    arr = pc.replace_substring_regex(arr, f"[^{keep}]+", " ")
    return _nulls_for_empty(pc.utf8_trim_whitespace(arr))


def map_words(arr: pa.Array, mapping: dict[str, str]) -> pa.Array:
    """Replace whole words through `mapping` (a word mapped to "" is dropped), vectorized.

    Splits into a list column, maps the flattened words with one ``index_in`` and joins back.
    """
    lists = pc.utf8_split_whitespace(arr)
    flat = pc.list_flatten(lists)
    keys = pa.array(list(mapping), pa.string())
    values = pa.array(list(mapping.values()), pa.string())
    found = pc.index_in(flat, value_set=keys)
    mapped = pc.if_else(pc.is_null(found), flat, pc.take(values, pc.fill_null(found, 0)))
    rebuilt = pa.ListArray.from_arrays(
        lists.offsets, mapped, mask=pc.is_null(lists) if lists.null_count else None
    )
    joined = pc.binary_join(rebuilt, " ")
    joined = pc.replace_substring_regex(joined, "  +", " ")
    return _nulls_for_empty(pc.utf8_trim_whitespace(joined))


@lru_cache(maxsize=1)
def nickname_table() -> tuple[dict[str, str], pa.Table]:
    """The name -> equivalence key map and the symmetric (name, name) nickname relation.

    The package's relation is a graph, not a tree (``bob`` has nickname ``robert`` as well as
    the reverse), so a key is chosen one hop out: of a name and the names directly related to
    it, the one with most nicknames (ties: alphabetical). ``bob``, ``bobby`` and ``rob`` get
    ``robert``; ``liz`` gets ``elizabeth``. The key only steers blocking; scoring accepts any
    directly related pair.
    """
    from nicknames import name_triplets

    related: dict[str, set[str]] = {}
    degree: dict[str, int] = {}
    left, right = [], []
    for triplet in name_triplets():
        formal, nick = triplet.name1.lower(), triplet.name2.lower()
        related.setdefault(nick, set()).add(formal)
        related.setdefault(formal, set()).add(nick)
        degree[formal] = degree.get(formal, 0) + 1
        left += [formal, nick]
        right += [nick, formal]
    canonical = {
        name: min(others | {name}, key=lambda x: (-degree.get(x, 0), x))
        for name, others in related.items()
    }
    relation = pa.table({"a": pa.array(left, pa.string()), "b": pa.array(right, pa.string())})
    return canonical, relation


def first_name_key(first: pa.Array) -> pa.Array:
    """Nickname-equivalence key of a normalised first name (its first word, canonicalised)."""
    first_word = pc.replace_substring_regex(first, " .*$", "")
    canonical, _ = nickname_table()
    return map_words(first_word, canonical)


def _digits(arr: pa.Array) -> pa.Array:
    return _nulls_for_empty(pc.replace_substring_regex(arr.cast(pa.string()), "[^0-9]+", ""))


def _email(arr: pa.Array) -> pa.Array:
    arr = pc.ascii_lower(pc.utf8_trim_whitespace(arr.cast(pa.string())))
    valid = pc.match_substring_regex(arr, r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
    return pc.if_else(pc.fill_null(valid, False), arr, pa.scalar(None, pa.string()))


def _zip5(arr: pa.Array) -> pa.Array:
    digits = _digits(arr)
    length = pc.utf8_length(digits)
    five = pc.utf8_slice_codeunits(pc.utf8_lpad(digits, width=5, padding="0"), 0, 5)
    return pc.if_else(pc.greater_equal(length, 3), five, pa.scalar(None, pa.string()))


def _join(*cols: pa.Array) -> pa.Array:
    """Space-join non-null parts; null when all are null.

    ``null_handling="skip"`` would be the direct spelling, but pyarrow 26 drops the rows whose
    parts are all null (the output comes back shorter), so nulls are joined as "" and the
    doubled spaces removed.
    """
    filled = [pc.fill_null(c, "") for c in cols]
    joined = pc.binary_join_element_wise(*filled, " ")
    joined = pc.replace_substring_regex(joined, "  +", " ")
    return _nulls_for_empty(pc.utf8_trim_whitespace(joined))


def _column(people: pa.Table, name: str, typ: pa.DataType) -> pa.Array:
    if name in people.column_names:
        col = people.column(name).combine_chunks()
        return col if col.type == typ else col.cast(typ)
    return pa.nulls(people.num_rows, typ)


def completeness(norm: pa.Table) -> npt.NDArray[np.int8]:
    """Number of non-null person fields per record ("most complete" rule)."""
    cols = ["first", "middle", "last", "email", "phone", "street", "city", "state", "zip5"]
    total = np.zeros(norm.num_rows, dtype=np.int8)
    for c in cols:
        total += np.asarray(norm.column(c).is_valid(), dtype=np.int8)
    return total


def normalize(people: pa.Table) -> pa.Table:
    """Standardise an input table (`INPUT_SCHEMA`; missing optional columns are null).

    Args:
        people: one row per person record.

    Returns:
        A table with one row per input row, in the same order: ``id``, the normalised
        fields (``first``, ``first_key``, ``middle_initial``, ``last``, ``email``,
        ``email_domain``, ``phone`` (digits), ``phone7``, ``street``, ``city``, ``state``,
        ``zip5``), the derived comparison strings ``name`` (first key + last) and
        ``address`` (street + ZIP), the blocking ``text`` (name + street + ZIP), the golden-rule
        inputs and ``completeness``.

    Raises:
        ValueError: when ``id`` is missing, null or repeated.
    """
    if "id" not in people.column_names:
        raise ValueError("people table has no 'id' column")
    ids = _column(people, "id", pa.int64())
    if ids.null_count:
        raise ValueError("people table has null ids")
    if len(pc.unique(ids)) != len(ids):
        raise ValueError("people table has repeated ids")

    # Matching compares the first word: "Mary Ann" and "Mary" are one first name.
    first = pc.replace_substring_regex(
        _words(_column(people, "first_name", pa.string()), "a-z "), " .*$", ""
    )
    middle = _words(_column(people, "middle_name", pa.string()), "a-z ")
    last = map_words(_words(_column(people, "last_name", pa.string()), "a-z "), _SURNAME_SUFFIXES)
    first_key = first_name_key(first)
    email = _email(_column(people, "email", pa.string()))
    domain = pc.replace_substring_regex(email, "^.*@", "")
    phone = _digits(_column(people, "phone_e164", pa.string()))
    phone = pc.if_else(
        pc.greater_equal(pc.utf8_length(phone), 7), phone, pa.scalar(None, pa.string())
    )
    phone7 = pc.utf8_slice_codeunits(phone, -7)
    street = map_words(_words(_column(people, "street", pa.string())), _STREET_WORDS)
    city = _words(_column(people, "city", pa.string()))
    state = _words(_column(people, "state", pa.string()), "a-z")
    zip5 = _zip5(_column(people, "zip5", pa.string()))
    name = _join(first_key, last)
    address = _join(street, zip5)

    def flag(col: str) -> pa.Array:
        return pc.fill_null(_column(people, col, pa.bool_()), False)

    norm = pa.table(
        {
            "id": ids,
            "first": first,
            "first_key": first_key,
            "middle_initial": pc.utf8_slice_codeunits(middle, 0, 1),
            "middle": middle,
            "last": last,
            "email": email,
            "email_domain": domain,
            "phone": phone,
            "phone7": phone7,
            "street": street,
            "city": city,
            "state": state,
            "zip5": zip5,
            "name": name,
            "address": address,
            "text": _join(name, address),
            "source_updated_at": _column(people, "source_updated_at", pa.timestamp("us", tz="UTC")),
            "manual_override": flag("manual_override"),
            "email_verified": flag("email_verified"),
            "phone_verified": flag("phone_verified"),
            "is_original": flag("is_original"),
        }
    )
    return norm.append_column("completeness", pa.array(completeness(norm)))
