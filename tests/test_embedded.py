"""The embedded server: a first start applies the bulk-load settings and comes back up."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from db import embedded


def test_a_first_start_is_tuned_and_answers(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADPIPE_HOME", str(tmp_path))
    try:
        url = embedded.start()
        with psycopg.connect(url) as conn:
            for name, value in embedded.TUNING.items():
                assert conn.execute(f"SHOW {name}").fetchone() == (value,), name
            # bytewise text order, letters still folded beyond ASCII (db/databases.py)
            assert conn.execute("SELECT datcollate FROM pg_database "
                                "WHERE datname = current_database()").fetchone() == ("C",)
            assert conn.execute("SELECT lower('ÉLODIE Ünal'), 'b' < 'B', 'Z' < 'a'"
                                ).fetchone() == ("élodie ünal", False, True)
        assert embedded.start() == url, "a second start reuses the running server"
    finally:
        assert embedded.stop()
    assert not embedded.is_running()
