"""`leadpipe replay`: full and errors-only re-processing change nothing when nothing is new."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from test_ingest import _harbor_file

STATE = {
    "pieces": "SELECT count(*), max(id) FROM mail_pieces",
    "persons": "SELECT count(*), max(id) FROM persons",
    "events": "SELECT count(*) FROM mail_piece_events",
    "errors": "SELECT row_number, severity, error_type, field_name FROM import_errors "
              "ORDER BY 1, 3",
    "batch": "SELECT status, row_count, success_count, error_count, warning_count "
             "FROM import_batches",
}


def _state(url: str) -> dict[str, list]:
    with psycopg.connect(url) as conn:
        return {k: conn.execute(q).fetchall() for k, q in STATE.items()}


def test_replay_full_and_errors_only(db_url: str, tmp_path: Path, cli: Any) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "HARBOR_CLOSINGS_20261120.xlsx").write_bytes(_harbor_file()[0])
    env = {"DATABASE_URL": db_url, "LEADPIPE_HOME": str(tmp_path / "home")}
    first = cli("ingest", str(inbox), env=env)
    assert first.returncode == 0, first.stderr
    assert "COMPLETE_WITH_ERRORS" in first.stdout
    before = _state(db_url)
    assert before["batch"] == [("COMPLETE_WITH_ERRORS", 5, 2, 3, 3)]

    for mode in ("full", "errors-only"):
        again = cli("replay", "--import-id", "1", "--mode", mode, env=env)
        assert again.returncode == 0, again.stderr
        assert _state(db_url) == before, mode

    missing = cli("replay", "--import-id", "99", env=env)
    assert missing.returncode == 2
    assert "no import batch 99" in missing.stderr
