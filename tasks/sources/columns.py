"""Which source column holds which logical field: the tenant's header synonyms, applied once.

Every source (CSV headers, SQLite and MySQL column names, a dump's CREATE TABLE)
goes through `match_columns`, so a spelling added to `legacy.header_synonyms`
works everywhere. Names are compared trimmed and case-insensitively. A field's
own name (`phone2`, `created_at`) is accepted as its lowest-priority spelling,
the same convention the sample-data generator uses for fields without synonyms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tasks.sources.errors import SourceError
from tasks.sources.schema import IDENTITY_FIELDS, LOGICAL_FIELDS

Synonyms = Mapping[str, Sequence[str]]
"""Logical field -> the spellings a source may use for it, most preferred first."""

_OWN_NAME_RANK = 1_000_000


def normal_name(name: str) -> str:
    """A column name as matching compares it: trimmed and case-folded."""
    return name.strip().casefold()


def match_columns(names: Sequence[str], synonyms: Synonyms) -> dict[str, int]:
    """Map logical fields to the positions of the source columns that hold them.

    Each field takes at most one column and each column serves at most one field.
    Where several claims compete, the spelling earlier in its synonym list wins (then
    the field earlier in `LOGICAL_FIELDS`): with `updated_at = ["updated_at", ...,
    "created_at"]`, a table with both columns keeps `updated_at` as updated_at and
    `created_at` falls to the field of that name, while a CSV that only has
    `created_at` uses it as updated_at. Of duplicate names, the first column counts.

    Args:
        names: the source's column names, in order.
        synonyms: the tenant's `legacy.header_synonyms`.

    Returns:
        Logical field -> 0-based column position, for the fields found.
    """
    position: dict[str, int] = {}
    for index, name in enumerate(names):
        position.setdefault(normal_name(name), index)
    claims: list[tuple[int, int, str, int]] = []
    for field_order, field in enumerate(LOGICAL_FIELDS):
        spellings = [*synonyms.get(field, ())]
        for rank, spelling in enumerate(spellings):
            index = position.get(normal_name(spelling))
            if index is not None:
                claims.append((rank, field_order, field, index))
        own = position.get(field)
        if own is not None:
            claims.append((_OWN_NAME_RANK, field_order, field, own))
    found: dict[str, int] = {}
    used: set[int] = set()
    for _, _, field, index in sorted(claims):
        if field not in found and index not in used:
            found[field] = index
            used.add(index)
    return found


def require_identity(source: str, names: Sequence[str], found: Mapping[str, int]) -> None:
    """Refuse a source none of whose columns could identify a person.

    Raises:
        SourceError: naming the source and the column names it has.
    """
    if any(field in found for field in IDENTITY_FIELDS):
        return
    seen = ", ".join(repr(name) for name in names) or "none"
    raise SourceError(
        f"{source}: no name, email, phone or address column among the columns seen "
        f"({seen}); add the spellings to legacy.header_synonyms"
    )
