"""The dedup pipeline end to end: accuracy, stability, incremental runs, Ray, files.

The only dedup test module that starts Ray (one session-wide local Ray with 2 CPUs).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from dedup_ray import (
    DedupResult,
    DedupSettings,
    InMemoryKeyStore,
    dedup_file,
    run,
    run_incremental,
)
from dedup_ray.synthetic import synthetic_people, true_pairs
from dedup_ray.types import BAND_COMPONENT, BAND_SUBKEY


@pytest.fixture(scope="session")
def population() -> tuple[pa.Table, np.ndarray]:
    return synthetic_people(6000, seed=21)


@pytest.fixture(scope="session")
def local_result(population: tuple[pa.Table, np.ndarray]) -> DedupResult:
    return run(population[0], DedupSettings(), use_ray=False)


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()


def _cluster_pairs(result: DedupResult, people: pa.Table) -> set[tuple[int, int]]:
    """Row pairs (smaller row first) that share a golden record."""
    golden = dict(
        zip(
            result.assignments.column("person_id").to_pylist(),
            result.assignments.column("golden_id").to_pylist(),
            strict=True,
        )
    )
    labels = np.array([golden[i] for i in people.column("id").to_pylist()])
    left, right = true_pairs(labels)
    return set(zip(left.tolist(), right.tolist(), strict=True))


def test_settings_round_trip_and_validation() -> None:
    s = DedupSettings(bands=10, rows=6, bucket_cap=77)
    assert DedupSettings.from_dict(s.to_dict()) == s
    assert s.to_dict()["free_email_domains"][0] == "aol.com"
    with pytest.raises(ValueError, match="unknown dedup setting"):
        DedupSettings.from_dict({"bandz": 3})
    with pytest.raises(ValueError, match="exceeds num_perm"):
        DedupSettings(num_perm=10, bands=4, rows=4)


def test_synthetic_population_precision_and_recall(
    population: tuple[pa.Table, np.ndarray], local_result: DedupResult
) -> None:
    people, entity = population
    truth_l, truth_r = true_pairs(entity)
    truth = set(zip(truth_l.tolist(), truth_r.tolist(), strict=True))
    found = _cluster_pairs(local_result, people)
    precision = len(found & truth) / len(found)
    recall = len(found & truth) / len(truth)
    assert precision >= 0.98, precision
    assert recall >= 0.93, recall
    counts = local_result.counts
    assert counts["rows"] == 6000
    assert counts["candidate_pairs"] < 3 * counts["rows"]
    assert counts["accepted_pairs"] == local_result.pairs.num_rows
    assert set(local_result.timings) >= {"normalize_and_keys", "blocking", "scoring", "total"}


def test_output_shapes(local_result: DedupResult) -> None:
    a = local_result.assignments
    assert a.column("person_id").to_pylist() == sorted(a.column("person_id").to_pylist())
    golden_ids = set(a.filter(a.column("is_golden")).column("person_id").to_pylist())
    assert set(a.column("golden_id").to_pylist()) == golden_ids
    dups = a.filter(pc.invert(a.column("is_golden")))
    assert dups.column("match_reason").null_count == 0
    assert pc.min(dups.column("match_score")).as_py() >= 0
    assert pc.max(dups.column("match_score")).as_py() <= 100
    pairs = local_result.pairs
    assert pc.all(pc.less(pairs.column("left_id"), pairs.column("right_id"))).as_py()
    assert set(pairs.column("reason").unique().to_pylist()) <= {
        "exact_email",
        "exact_phone",
        "name_zip",
        "name_phone7",
        "fuzzy_name_address",
        "email_domain_name",
    }
    keys = local_result.band_keys()
    bands = set(keys.column("band").unique().to_pylist())
    assert {BAND_SUBKEY, BAND_COMPONENT} <= bands
    assert keys.schema.field("bucket_hash").type == pa.int64()


def _same(a: DedupResult, b: DedupResult) -> None:
    assert a.assignments.equals(b.assignments)
    assert a.pairs.equals(b.pairs)
    assert a.merged_fields.equals(b.merged_fields)
    assert a.capped_buckets.equals(b.capped_buckets)
    assert a.band_keys().equals(b.band_keys())


def test_same_input_gives_identical_output(
    population: tuple[pa.Table, np.ndarray], local_result: DedupResult
) -> None:
    people, _ = population
    _same(run(people, DedupSettings(), use_ray=False), local_result)
    shuffled = people.take(pa.array(np.random.default_rng(3).permutation(people.num_rows)))
    _same(run(shuffled, DedupSettings(chunk_rows=1000), use_ray=False), local_result)
    # Blocking one bucket partition at a time (as big in-process runs do) changes nothing.
    _same(run(shuffled, DedupSettings(chunk_rows=1000, partitions=4), use_ray=False), local_result)


def test_golden_ids_are_stable_after_write_back(
    population: tuple[pa.Table, np.ndarray], local_result: DedupResult
) -> None:
    people, _ = population
    written = InMemoryKeyStore.from_result(people, local_result).all_people()
    again = run(written, DedupSettings(), use_ray=False)
    assert again.assignments.column("golden_id").equals(
        local_result.assignments.column("golden_id")
    )
    assert again.pairs.equals(local_result.pairs)


@pytest.mark.parametrize("bucket_cap", [50, 4])
def test_incremental_equals_full_on_the_same_final_data(bucket_cap: int) -> None:
    settings = DedupSettings(bucket_cap=bucket_cap)
    people, _ = synthetic_people(4000, seed=8)
    rng = np.random.default_rng(2)
    is_new = np.zeros(people.num_rows, dtype=np.bool_)
    is_new[rng.choice(people.num_rows, 300, replace=False)] = True
    before = people.filter(pa.array(~is_new))
    changed = before.take(pa.array(rng.choice(before.num_rows, 40, replace=False)))
    email = changed.schema.get_field_index("email")
    changed = changed.set_column(email, "email", pc.utf8_upper(changed.column("email")))
    phone = changed.schema.get_field_index("phone_e164")
    changed = changed.set_column(phone, "phone_e164", pa.nulls(changed.num_rows, pa.string()))
    batch = pa.concat_tables([people.filter(pa.array(is_new)), changed])

    first = run(before, settings, use_ray=False)
    store = InMemoryKeyStore.from_result(before, first)
    state_before = store.all_people()
    update = run_incremental(batch, store, settings)
    assert update.counts["rows"] < people.num_rows / 2, "cost follows the new rows"
    store.apply(batch, update)

    # The full run sees the same final rows with the golden flags as they were stored.
    kept = pc.invert(pc.is_in(state_before.column("id"), batch.column("id")))
    final = pa.concat_tables([state_before.filter(kept), batch.cast(state_before.schema)])
    full = run(final, settings, use_ray=False)

    affected = update.assignments.column("person_id")
    inside = pc.is_in(full.assignments.column("person_id"), affected)
    assert full.assignments.filter(inside).equals(update.assignments)
    outside = full.assignments.filter(pc.invert(inside))
    stale = first.assignments.filter(
        pc.is_in(first.assignments.column("person_id"), outside["person_id"])
    )
    cols = ["person_id", "golden_id", "component_id", "match_reason", "match_score"]
    assert outside.select(cols).equals(stale.select(cols))
    assert full.pairs.filter(pc.is_in(full.pairs.column("left_id"), affected)).equals(update.pairs)
    assert (
        store.band_keys()
        .sort_by([("person_id", "ascending"), ("band", "ascending")])
        .equals(full.band_keys())
    )


def test_incremental_with_nothing_new(local_result: DedupResult, population) -> None:
    people, _ = population
    store = InMemoryKeyStore.from_result(people, local_result)
    update = run_incremental(people.slice(0, 0), store)
    assert update.counts["rows"] == 0
    assert update.assignments.num_rows == 0


def test_ray_run_equals_in_process_run(
    ray_session: None, population: tuple[pa.Table, np.ndarray], local_result: DedupResult
) -> None:
    people, _ = population
    seen: list[tuple[str, int, int]] = []
    distributed = run(
        people,
        DedupSettings(chunk_rows=1500, partitions=3),
        use_ray=True,
        progress=lambda stage, done, total: seen.append((stage, done, total)),
    )
    _same(distributed, local_result)
    assert ("normalize_and_keys", 4, 4) in seen
    assert ("scoring", 3, 3) in seen


def test_dedup_file_cleans_a_csv_list(tmp_path: Path) -> None:
    source = tmp_path / "list.csv"
    source.write_text(
        "ID,First Name,Surname,email,zip,Phone\n"
        "A7,John,Smith,john@acme.com,02134-1234,(617) 555-0101\n"
        "B2,Jon,Smith,JOHN@acme.com,02134,\n"
        "C3,Mary,Smith,mary@acme.com,02134,617-555-0199\n"
    )
    target = tmp_path / "clean.csv"
    columns = {"first_name": "First Name", "last_name": "Surname", "phone": "Phone"}
    result = dedup_file(source, target, columns=columns, id_column="ID")
    assert result.counts["duplicates"] == 1
    out = pacsv.read_csv(target)
    assert out.column_names == ["record_id", "cluster_id", "is_original", "match_score",
                                "match_reason"]
    assert out.column("record_id").to_pylist() == ["A7", "B2", "C3"]
    assert out.column("cluster_id").to_pylist() == ["A7", "A7", "C3"]
    assert out.column("is_original").to_pylist() == [True, False, True]
    assert out.column("match_reason").to_pylist() == ["", "exact_email", ""]
    numbered = tmp_path / "numbered.parquet"
    dedup_file(source, numbered, columns=columns)
    assert pa.parquet.read_table(numbered).column("cluster_id").to_pylist() == ["1", "1", "3"]
    with pytest.raises(ValueError, match="no column"):
        dedup_file(source, target, columns={"first_name": "Given"})
    with pytest.raises(ValueError, match="not unique record ids"):
        dedup_file(source, target, columns=columns, id_column="Surname")
    with pytest.raises(ValueError, match="not a field"):
        dedup_file(source, target, columns={"surname": "Surname"})


def test_dedup_file_parses_a_full_name_column(tmp_path: Path) -> None:
    source = tmp_path / "names.csv"
    source.write_text(
        "name,street,zip\n"
        '"SMITH, JOHN A",12 Main St,02134\n'
        "John A Smith,12 Main St,02134\n"
        "Mary Jones,9 Elm St,02134\n"
    )
    target = tmp_path / "clean.csv"
    dedup_file(source, target)
    out = pacsv.read_csv(target)
    assert out.column("cluster_id").to_pylist() == [1, 1, 3]
    assert out.column("match_reason").to_pylist()[1] == "name_zip"
