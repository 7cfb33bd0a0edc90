"""Operator changes to golden records (override, unmerge) and explanations of a pair.

Both changes go through the same incremental run as a daily batch, in its transaction: the
operator's mark is written first, then the affected people are re-resolved by the core and
written back with the operator as actor. So what an operator sees afterwards is exactly
what any later run keeps, and every change is audited.

- override: the person gets ``manual_override`` (the first golden rule) and the rest of
  its cluster loses it; audited ``override`` (and lineage ``override``) plus the run's
  ``golden_change``/``merge`` rows.
- unmerge: the pair table ``dedup_exclusions`` keeps the person apart from everyone of its
  matching component, which every later run honours (the core drops excluded pairs before
  clustering, and the chain guard never keeps an excluded pair as golden record and
  duplicate); the run then separates it, audited ``unmerge`` with lineage ``unmerged``.
  A new record that matches both sides can still bring them under a new golden record;
  that is a merge with its own audit row, never a silent one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
from psycopg.types.json import Jsonb

from db import connection
from db.queries import sql
from dedup_ray.database import read_people, stored_settings
from dedup_ray.engine import Progress, conform
from dedup_ray.normalize import normalize
from dedup_ray.runs import RunSummary, run_dedup
from dedup_ray.scoring import score_pairs, scoring_frame
from dedup_ray.settings import DedupSettings
from dedup_ray.writeback import RunIds
from leadpipe.errors import UserError

#: Score parts in the order `explain` reports them, with what each one is.
PARTS: dict[str, str] = {
    "name": "name points (0-40: first name 20, 12 within edits; last name 20 less 7 an edit)",
    "email": "email points (20 equal, 5 same non-free domain)",
    "phone": "phone points (20 equal, 14 same last 7 digits)",
    "address": "address points (street + ZIP similarity / 5, or 5 for the ZIP alone)",
    "first_name": "first-name rule (exact, nickname, edits, none)",
    "name_distance": "full-name edit distance (nicknames count as equal)",
    "name_similarity": "full-name similarity (0-100)",
    "address_similarity": "street + ZIP similarity (0-100)",
}
PART_NAMES = tuple(PARTS)
#: Fields of the two records `explain` shows side by side.
RECORD_FIELDS = ("first_name", "middle_name", "last_name", "email", "phone_e164", "street",
                 "city", "state", "zip5", "source_updated_at")


def override(
    person_id: int,
    *,
    actor: str,
    url: str | None = None,
    use_ray: bool | None = False,
    progress: Progress | None = None,
) -> RunSummary:
    """Make a person the golden record of its cluster, by hand.

    Raises:
        UserError: no such person.
    """

    def prepare(conn: psycopg.Connection, ids: RunIds) -> None:
        cluster = conn.execute(sql("dedup_cluster_of"), {"person_id": person_id}).fetchall()
        if not cluster:
            raise UserError(f"no person {person_id}")
        members = [row[0] for row in cluster]
        previous = next((row[0] for row in cluster if row[1] is None), person_id)
        changed = conn.execute(
            sql("dedup_override_flags"), {"person_id": person_id, "members": members}
        ).fetchall()
        if not changed:
            conn.execute(sql("dedup_enqueue"), {"person_id": person_id})
        details = {
            "previous_golden": previous,
            "cluster": members,
            "manual_override_cleared": sorted(pid for pid, flag in changed if not flag),
        }
        other = previous if previous != person_id else None
        conn.execute(
            sql("dedup_override_audit"),
            {"job_id": ids.job_id, "person_id": person_id, "previous_golden": other,
             "details": Jsonb(details), "actor": actor},
        )
        conn.execute(
            sql("dedup_override_lineage"),
            {"person_id": person_id, "previous_golden": other, "run_id": ids.run_id},
        )

    return run_dedup(
        url, "incremental", use_ray=use_ray, actor=actor, progress=progress, prepare=prepare
    )


def unmerge(
    person_id: int,
    *,
    actor: str,
    url: str | None = None,
    use_ray: bool | None = False,
    progress: Progress | None = None,
) -> RunSummary:
    """Separate a merged duplicate: it becomes its own golden record, for good.

    Raises:
        UserError: no such person, or the person is not a merged duplicate.
    """

    def prepare(conn: psycopg.Connection, ids: RunIds) -> None:
        found = conn.execute(sql("dedup_golden_of"), {"ids": [person_id]}).fetchone()
        if found is None:
            raise UserError(f"no person {person_id}")
        if found[2]:
            raise UserError(
                f"person {person_id} is a golden record, not a merged duplicate: "
                "unmerge takes the duplicate's id"
            )
        conn.execute(sql("dedup_exclusions_add"), {"person_id": person_id, "actor": actor})
        conn.execute(sql("dedup_enqueue"), {"person_id": person_id})

    return run_dedup(
        url, "incremental", use_ray=use_ray, actor=actor, progress=progress, prepare=prepare
    )


def explain(first: int, second: int, url: str | None = None) -> dict[str, Any]:
    """Why two people are (or are not) one: tier, reason, score and per-field parts.

    From the stored comparison when one is the other's duplicate, else scored now with the
    settings of the last run.

    Returns:
        ``source`` (``stored`` or ``computed``), ``ids``, ``golden_ids``, ``same_cluster``,
        ``records`` (the two people's fields), ``tier``, ``reason``, ``confidence``,
        ``score`` and ``parts``.

    Raises:
        UserError: the same id twice, or an unknown person.
    """
    if first == second:
        raise UserError("explain needs two different people")
    with psycopg.connect(url or connection.database_url()) as conn:
        golden = conn.execute(sql("dedup_golden_of"), {"ids": [first, second]}).fetchall()
        known = {row[0]: row[1] for row in golden}
        missing = [pid for pid in (first, second) if pid not in known]
        if missing:
            raise UserError(f"no person {missing[0]}")
        people = read_people(conn, np.array([first, second], dtype=np.int64))
        rows = {r["id"]: r for r in people.to_pylist()}
        out: dict[str, Any] = {
            "ids": [first, second],
            "golden_ids": [known[first], known[second]],
            "same_cluster": known[first] == known[second],
            "records": [{k: rows[pid][k] for k in RECORD_FIELDS} for pid in (first, second)],
        }
        stored = conn.execute(sql("dedup_pair_stored"), {"a": first, "b": second}).fetchone()
        if stored is not None:
            parts = dict(stored[4] or {})
            return {
                **out,
                "source": "stored",
                "duplicate_id": stored[0],
                "original_id": stored[1],
                "tier": parts.get("tier"),
                "reason": stored[3],
                "confidence": parts.get("confidence"),
                "score": float(stored[2]),
                "golden_rule": parts.get("golden_rule"),
                "parts": {k: parts.get(k) for k in PART_NAMES},
                "dedup_run_id": stored[5],
            }
        settings = stored_settings(conn) or DedupSettings()
    return {**out, "source": "computed", **score_one(people, first, second, settings)}


def score_one(
    people: pa.Table, first: int, second: int, settings: DedupSettings
) -> dict[str, Any]:
    """Score one pair of people rows with the core's scoring (tier 0: no match)."""
    norm = normalize(conform(people))
    ids = norm.column("id").to_numpy().tolist()
    frame = scoring_frame(norm, settings)
    left = np.array([ids.index(first)], dtype=np.int64)
    right = np.array([ids.index(second)], dtype=np.int64)
    row = score_pairs(frame, left, right, settings).to_pylist()[0]
    return {
        "tier": row["tier"],
        "reason": row["reason"],
        "confidence": row["confidence"],
        "score": row["score"],
        "parts": {k: row["parts"][k] for k in PART_NAMES},
    }


def example_merge(url: str | None = None) -> tuple[int, int] | None:
    """A stored merge worth explaining (the weakest tier first): (duplicate, golden)."""
    with psycopg.connect(url or connection.database_url()) as conn:
        row = conn.execute(sql("dedup_example_merge")).fetchone()
    return (int(row[0]), int(row[1])) if row else None
