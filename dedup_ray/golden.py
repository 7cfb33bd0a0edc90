"""Golden records: which member of a cluster represents it, and which values survive.

The golden record is chosen by the seed's rules (E3), in priority order: a manual override,
then the most recent ``source_updated_at``, the most complete record (non-null fields), a
verified email, a verified phone. Ties go to the record that is golden already
(``is_original``), so golden ids do not move without a reason, then to the lowest id.

Field-level survivorship then fills the golden view field by field: the golden record's own
value where it has one (``manual_override`` when a person marked it), a verified email or
phone before an unverified one, otherwise the best-ranked member that has the field
(``most_recent``). Each surviving value is reported with the person it came from and the rule
that chose it (``merged_fields``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from dedup_ray.normalize import PERSON_FIELDS

I64 = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Why a golden record won, in rule order (the first rule on which it beats the runner-up).
GOLDEN_RULES: tuple[str, ...] = (
    "manual_override",
    "most_recent",
    "most_complete",
    "email_verified",
    "phone_verified",
    "existing_golden",
    "lowest_id",
    "singleton",
)
#: Normalised column telling whether each input field is present.
_NORMALISED = {
    "first_name": "first",
    "middle_name": "middle",
    "last_name": "last",
    "email": "email",
    "phone_e164": "phone",
    "street": "street",
    "city": "city",
    "state": "state",
    "zip5": "zip5",
}


@dataclass(frozen=True)
class GoldenFrame:
    """The per-record inputs of the golden rules, as numpy arrays (cheap to ship to tasks)."""

    ids: I64
    manual_override: BoolArray
    updated: I64
    completeness: npt.NDArray[np.int8]
    email_verified: BoolArray
    phone_verified: BoolArray
    is_original: BoolArray

    @classmethod
    def from_normalized(cls, norm: pa.Table) -> GoldenFrame:
        """Build from `dedup_ray.normalize.normalize` output (null timestamps rank oldest)."""

        def flag(name: str) -> BoolArray:
            return np.asarray(norm.column(name).to_numpy(zero_copy_only=False), dtype=np.bool_)

        ts = norm.column("source_updated_at").combine_chunks()
        updated = pc.fill_null(ts.cast(pa.int64()), np.iinfo(np.int64).min).to_numpy()
        return cls(
            ids=norm.column("id").to_numpy(),
            manual_override=flag("manual_override"),
            updated=updated,
            completeness=norm.column("completeness").to_numpy(),
            email_verified=flag("email_verified"),
            phone_verified=flag("phone_verified"),
            is_original=flag("is_original"),
        )

    def rule_keys(self, rows: I64) -> list[npt.NDArray[np.integer]]:
        """Sort keys in rule order, ascending = better (for ``np.lexsort``, reversed)."""
        return [
            ~self.manual_override[rows],
            -self.updated[rows].astype(np.float64),
            -self.completeness[rows].astype(np.int16),
            ~self.email_verified[rows],
            ~self.phone_verified[rows],
            ~self.is_original[rows],
            self.ids[rows],
        ]


def rank_within_clusters(frame: GoldenFrame, rows: I64, labels: I64) -> I64:
    """Order of `rows`: by cluster label, then best first by the golden rules."""
    keys = frame.rule_keys(rows)
    return np.lexsort((*reversed(keys), labels))


def golden_rows(frame: GoldenFrame, rows: I64, labels: I64, order: I64 | None = None) -> I64:
    """The golden row of each row's cluster (clusters given by `labels` of `rows`).

    Args:
        frame: golden-rule inputs of the whole table.
        rows: rows to decide for (whole clusters).
        labels: cluster label of each of `rows`.
        order: `rank_within_clusters` of these rows, when already known.
    """
    order = rank_within_clusters(frame, rows, labels) if order is None else order
    sorted_labels = labels[order]
    first = np.r_[True, sorted_labels[1:] != sorted_labels[:-1]]
    head = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    out = np.empty(len(rows), dtype=np.int64)
    out[order] = rows[order][head]
    return out


def golden_reasons(
    frame: GoldenFrame, rows: I64, labels: I64, order: I64 | None = None
) -> npt.NDArray[np.int8]:
    """Index into `GOLDEN_RULES` of why each row's golden record beat its runner-up."""
    order = rank_within_clusters(frame, rows, labels) if order is None else order
    sorted_rows, sorted_labels = rows[order], labels[order]
    first = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    size = np.diff(np.r_[first, len(order)])
    reason = np.full(len(first), GOLDEN_RULES.index("singleton"), dtype=np.int8)
    multi = size > 1
    best, second = sorted_rows[first[multi]], sorted_rows[first[multi] + 1]
    decided = np.zeros(multi.sum(), dtype=np.bool_)
    got = np.zeros(multi.sum(), dtype=np.int8)
    for i, (kb, ks) in enumerate(zip(frame.rule_keys(best), frame.rule_keys(second), strict=True)):
        differs = (kb != ks) & ~decided
        got[differs] = i
        decided |= differs
    reason[multi] = got
    out = np.empty(len(rows), dtype=np.int8)
    out[order] = np.repeat(reason, size)
    return out


def merged_fields(
    people: pa.Table,
    norm: pa.Table,
    frame: GoldenFrame,
    rows: I64,
    labels: I64,
    golden: I64,
    rank: I64 | None = None,
) -> pa.Table:
    """Field-level survivorship for every cluster of two or more rows.

    Args:
        people: the input rows (values are reported as given, not normalised).
        norm: their normalised form (decides which values are usable).
        frame: golden-rule inputs.
        rows: rows in clusters of two or more.
        labels: cluster label of each of `rows`.
        golden: golden row of each of `rows`.
        rank: each row's position in golden-rule order (only the order within a cluster
            matters), when already known.

    Returns:
        One row per (cluster, field with a surviving value): ``golden_id``, ``field``,
        ``value``, ``from_person_id``, ``rule`` (``manual_override``, ``verified``,
        ``golden`` or ``most_recent``).
    """
    if rank is None:
        rank = np.empty(len(rows), dtype=np.int64)
        rank[rank_within_clusters(frame, rows, labels)] = np.arange(len(rows))
    is_golden = rows == golden
    manual = is_golden & frame.manual_override[rows]
    parts = []
    rule_names = pa.array(["manual_override", "verified", "golden", "most_recent"])
    for field in PERSON_FIELDS:
        present = np.asarray(norm.column(_NORMALISED[field]).is_valid(), dtype=np.bool_)[rows]
        if field == "email":
            verified = frame.email_verified[rows]
        elif field == "phone_e164":
            verified = frame.phone_verified[rows]
        else:
            verified = np.zeros(len(rows), dtype=np.bool_)
        priority = np.where(manual, 0, np.where(verified, 1, np.where(is_golden, 2, 3)))
        cand = np.flatnonzero(present)
        order = cand[np.lexsort((rank[cand], priority[cand], labels[cand]))]
        first = order[np.r_[True, labels[order][1:] != labels[order][:-1]]] if order.size else order
        src = rows[first]
        values = people.column(field).combine_chunks().take(pa.array(src))
        parts.append(
            pa.table(
                {
                    "golden_id": frame.ids[golden[first]],
                    "field": pa.array([field] * len(first), pa.string()),
                    "value": values.cast(pa.string()),
                    "from_person_id": frame.ids[src],
                    "rule": pc.take(rule_names, pa.array(priority[first])),
                }
            )
        )
    if not parts:
        return empty_merged_fields()
    out = pa.concat_tables(parts)
    return out.sort_by([("golden_id", "ascending"), ("field", "ascending")])


def empty_merged_fields() -> pa.Table:
    """A `merged_fields` table with no rows."""
    return pa.table(
        {
            "golden_id": pa.array([], pa.int64()),
            "field": pa.array([], pa.string()),
            "value": pa.array([], pa.string()),
            "from_person_id": pa.array([], pa.int64()),
            "rule": pa.array([], pa.string()),
        }
    )
