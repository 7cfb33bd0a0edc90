"""A person's lineage as the seed's section E4 shows it: where every value came from."""

from __future__ import annotations

import psycopg

from db.queries import sql
from leadpipe.errors import UserError


def person_lineage(conn: psycopg.Connection, person_id: int) -> dict[str, object]:
    """The lineage document of one person.

    Raises:
        UserError: there is no such person.
    """
    person = conn.execute("SELECT is_original, golden_id FROM persons WHERE id = %s",
                          (person_id,)).fetchone()
    if person is None:
        raise UserError(f"no person {person_id}")
    entries = []
    for batch, source, at, action, fields, reason, row, key, related in conn.execute(
            sql("person_lineage"), {"person_id": person_id}).fetchall():
        entry: dict[str, object] = {"import_id": batch, "source_file": source,
                                    "imported_at": at.isoformat(), "action": action}
        entry["fields_imported" if action == "insert" else "fields_updated"] = list(fields)
        if reason:
            entry["merge_reason"] = reason
        if row is not None:
            entry["source_row_number"] = row
        if key is not None:
            entry["source_key"] = key
        if related is not None:
            entry["related_person_id"] = related
        entries.append(entry)
    merged = conn.execute(
        "SELECT duplicate_id FROM person_duplicates WHERE original_id = %s ORDER BY 1",
        (person_id,)).fetchall()
    is_original, golden = person
    return {
        "person_id": person_id,
        "lineage": entries,
        "merged_from": [m[0] for m in merged],
        "current_status": "golden_record" if is_original else f"duplicate_of:{golden}",
    }
