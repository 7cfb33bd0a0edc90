"""COPY from Arrow keeps nulls, empty strings, quotes, newlines and JSON intact."""

from __future__ import annotations

import psycopg
import pyarrow as pa

from tasks.copy import copy_arrow


def test_copy_arrow_round_trips_awkward_values(db_url: str) -> None:
    data = pa.table({
        "batch_id": pa.array([1, 1, 1], pa.int64()),
        "row_number": pa.array([1, 2, 3], pa.int64()),
        "error_type": ["A", "B", "C"],
        "severity": ["ERROR", "WARN", "ERROR"],
        "field_value": ["", None, 'say "hi",\nthen go\\'],
        "error_message": ["m1", "m2", "m3"],
        "raw_row": ['{"k": "v"}', None, "é ü 中"],
    })
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "INSERT INTO import_batches (id, filename, source_type, sha256) "
            "VALUES (1, 'f', 'unknown', repeat('a', 64))"
        )
        assert copy_arrow(conn, "import_errors", data) == 3
        rows = conn.execute(
            "SELECT row_number, field_value, raw_row FROM import_errors ORDER BY row_number"
        ).fetchall()
    assert rows == [(1, "", '{"k": "v"}'), (2, None, None), (3, 'say "hi",\nthen go\\', "é ü 中")]
