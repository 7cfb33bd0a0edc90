"""The `dedup` flow under a real (ephemeral) Prefect API, in-process (Ray is slow to start)."""

from __future__ import annotations

import psycopg
import pytest
from prefect.artifacts import Artifact

from dedup_ray.database import load_people
from dedup_ray.synthetic import synthetic_people
from flows.dedup import ARTIFACT_KEY, dedup


def test_flow_runs_full_then_incremental_and_publishes_a_summary(
    prefect_harness: None, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    people, _ = synthetic_people(2000, seed=6)
    with psycopg.connect(db_url) as conn:
        load_people(conn, people)

    full = dedup(mode="full", use_ray=False)
    assert full["mode"] == "full" and full["counts"]["rows"] == 2000
    golden = full["golden"]
    assert golden["golden_records"] + golden["duplicates"] == 2000
    assert full["counts"]["merges"] == golden["duplicates"] > 0

    daily = dedup(use_ray=False)
    assert daily["mode"] == "incremental" and daily["counts"]["rows"] == 0
    assert daily["golden"] == golden

    artifact = Artifact.get(ARTIFACT_KEY)
    assert artifact is not None
    text = str(artifact.data)
    assert f"dedup run {daily['run_id']} (incremental)" in text
    assert f"{golden['golden_records']:,}" in text and "Capped buckets" in text
