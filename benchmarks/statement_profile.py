"""Seconds per statement of upsert_persons over the migration benchmark's run.

Usage::

    .venv/bin/python benchmarks/statement_profile.py [--rows 1000000] [--json PATH]
        (and the other options of benchmarks/migration_bench.py)

Runs `benchmarks/migration_bench.py`'s migration with an instrumented copy of
`db/functions/upsert_persons.sql` in the scratch database: before each statement of the
function's body, a call adds the time since the previous call to the previous statement
(`lp_prof`, an unlogged table of the scratch database). The figures are each statement's
wall seconds summed over every call and pass, with how often it ran; "(between calls)" is
the time from one call's end to the next one's start, when the server waited for the
client. The embedded server has neither auto_explain nor pg_stat_statements, hence this
clock; it adds one row write per statement (a few seconds in a million-row run).
Prints the statements, most expensive first, and writes them as JSON (default
``benchmarks/results/statement_profile.json``, one entry per row count).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.migration_bench import ROOT, arguments, bench, report, save
from db.migrate import FUNCTIONS_DIR
from leadpipe import settings as env

DEFAULT_JSON = ROOT / "benchmarks" / "results" / "statement_profile.json"
FUNCTION = FUNCTIONS_DIR / "upsert_persons.sql"
BETWEEN = "(between calls)"
# What a statement of the body starts with; a statement starts after one has ended.
STARTS = ("CREATE TEMP TABLE", "INSERT INTO", "UPDATE ", "DELETE FROM", "WITH ", "ANALYZE",
          "SELECT ", "PERFORM 1 FROM", "DROP TABLE", "TRUNCATE")
ENDS = (";", "THEN", "LOOP", "BEGIN", "ELSE")

CLOCK = """
CREATE UNLOGGED TABLE lp_prof (label text PRIMARY KEY, seconds float8 NOT NULL,
                               calls bigint NOT NULL);
CREATE FUNCTION lp_prof_mark(p_label text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_label text := current_setting('lp_prof.label', true);
BEGIN
    IF coalesce(v_label, '') <> '' THEN
        INSERT INTO lp_prof VALUES (v_label, extract(epoch FROM clock_timestamp()
                                    - current_setting('lp_prof.at')::timestamptz), 1)
        ON CONFLICT (label) DO UPDATE
        SET seconds = lp_prof.seconds + excluded.seconds, calls = lp_prof.calls + 1;
    END IF;
    PERFORM set_config('lp_prof.label', p_label, false),
            set_config('lp_prof.at', clock_timestamp()::text, false);
END
$$;
"""


def instrumented(text: str) -> str:
    """The function's definition with a clock mark before every statement of its body.

    Statements are found by how a line starts (`STARTS`) after a line that ended one
    (`ENDS`); labels are the statement's number and first words.
    """
    out: list[str] = []
    body, previous, count = False, "", 0
    for line in text.splitlines():
        stripped = line.strip()
        if not body:
            body = stripped == "BEGIN"
        elif (stripped.startswith((*STARTS, "RETURN QUERY")) and previous.endswith(ENDS)):
            count += 1
            label = BETWEEN if stripped.startswith("RETURN QUERY") else \
                f"{count:02d} {re.sub(r'[^A-Za-z0-9_ ,.()]', '', stripped)[:58]}"
            indent = line[:len(line) - len(line.lstrip())]
            out.append(f"{indent}PERFORM lp_prof_mark('{label}');")
        out.append(line)
        if stripped and not stripped.startswith("--"):
            previous = stripped
    return "\n".join(out)


def install(url: str) -> None:
    """The clock and the instrumented function, in the scratch database."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(CLOCK)
        conn.execute(instrumented(FUNCTION.read_text(encoding="utf-8")))


def collect(url: str) -> list[dict[str, Any]]:
    """Seconds and calls per statement, most expensive first."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT label, round(seconds::numeric, 2)::float8, calls FROM lp_prof "
            "ORDER BY seconds DESC").fetchall()
    return [{"statement": label, "seconds": seconds, "calls": calls}
            for label, seconds, calls in rows]


def main() -> None:
    args = arguments(__doc__.splitlines()[0], DEFAULT_JSON).parse_args()
    args.chunked = True  # the statements clocked are upsert_persons'
    env.apply_quiet_defaults()
    out = bench(args, prepare=install, inspect=collect)
    report(out)
    statements = [s for s in out["inspected"] if s["statement"] != BETWEEN]
    print(f"upsert_persons: {sum(s['seconds'] for s in statements):.1f} s in statements")
    for s in out["inspected"]:
        print(f"{s['seconds']:9.2f} s {s['calls']:6d}  {s['statement']}")
    save(out, args.json, args.rows)


if __name__ == "__main__":
    main()
