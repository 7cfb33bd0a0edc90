"""benchmarks/statement_profile.py: the instrumented upsert_persons does what the real one does
and clocks every statement of its body."""

from __future__ import annotations

import psycopg
from test_person_upsert import lineage, load, row

from benchmarks.statement_profile import BETWEEN, FUNCTION, collect, install, instrumented


def test_the_instrumented_function_clocks_each_statement_and_changes_nothing_else(
        db_url: str, empty_db: str) -> None:
    from db import migrate

    migrate.upgrade(empty_db)
    install(empty_db)
    rows = [row(email="a@x.com", phone="+16175550101", first_name="Ann", street="1 Main St",
                zip5="02134", ts=1),
            row(email="a@x.com", phone="+16175550102", ts=2),
            row(first_name="Bo", last_name="Li", zip5="02135", ts=1)]
    people = ("SELECT first_name, middle_name, last_name, primary_email, primary_phone_e164, "
              "zip5, source_updated_at FROM persons ORDER BY id")
    states = []
    for url in (db_url, empty_db):
        with psycopg.connect(url, autocommit=True) as conn:
            first, counts = load(conn, rows)
            second, again = load(conn, rows, filename="again.csv")
            states.append((counts, again, conn.execute(people).fetchall(),
                           [r[:1] + r[2:] for r in lineage(conn, first) + lineage(conn, second)]))
    assert states[1] == states[0]
    assert states[0][:2] == ((2, 1, 0, 0), (0, 0, 0, 3))
    marks = instrumented(FUNCTION.read_text()).count("PERFORM lp_prof_mark(")
    profile = collect(empty_db)
    statements = {p["statement"] for p in profile}
    assert marks > 50 and len(statements) >= marks - 8
    assert any(s.endswith("INSERT INTO persons (id, first_name, middle_name, last_nam")
               for s in statements)
    assert BETWEEN in statements
    assert all(p["seconds"] >= 0 and p["calls"] >= 1 for p in profile)
