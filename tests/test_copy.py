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


def test_copy_arrow_binary_and_text_paths_load_the_same_values(db_url: str) -> None:
    """Each column type with a binary form (widths cast, JSON into jsonb, lists into text[],
    a naive timestamp read as UTC, blanks padded into char(n)) and a table that needs text
    input (a date held as text) load the same rows."""
    data = pa.table({
        "n": pa.array([1, None, 3], pa.int64()),
        "ok": [True, None, False],
        "code": ["12345", None, ""],
        "doc": ['{"b": [1, 2], "a": "x"}', None, "{}"],
        "tags": pa.array([["a", "b,c"], None, []], pa.list_(pa.string())),
        "at": pa.array([0, None, 86_400], pa.timestamp("s")),
        "day": ["2024-02-29", None, "1999-12-31"],
    })
    expected = [
        (1, True, "12345", {"a": "x", "b": [1, 2]}, ["a", "b,c"], "1970-01-01 00:00:00+00",
         "2024-02-29"),
        (None, None, None, None, None, None, None),
        (3, False, "     ", {}, [], "1970-01-02 00:00:00+00", "1999-12-31"),
    ]
    with psycopg.connect(db_url) as conn:
        for day in ("text", "date"):
            # (a date held as text goes as CSV, which has no lists: that table takes none)
            tags = "tags text[]," if day == "text" else ""
            conn.execute(f"CREATE TEMP TABLE t_{day} (id serial, n int4, ok boolean, "
                         f"code char(5), doc jsonb, {tags} at timestamptz, day {day})")
            rows = data if tags else data.drop_columns(["tags"])
            assert copy_arrow(conn, f"t_{day}", rows) == 3
            got = conn.execute(
                f"SELECT n, ok, code, doc, {tags.split()[0] if tags else 'NULL'}, "
                f"to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS+00'), day::text "
                f"FROM t_{day} ORDER BY id").fetchall()
            assert [tuple(r) for r in got] == [
                (*row[:4], row[4] if tags else None, *row[5:]) for row in expected]
