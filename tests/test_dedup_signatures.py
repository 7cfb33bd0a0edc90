"""MinHash signatures over Arrow batches equal datasketch's, value for value."""

from __future__ import annotations

import random
import string

import numpy as np
import pyarrow as pa
import pytest
from datasketch import MinHash

from dedup_ray.blocking import lsh_keys
from dedup_ray.hashing import hash_strings
from dedup_ray.normalize import normalize
from dedup_ray.signatures import empty_rows, minhash_signatures, permutations, shingles
from dedup_ray.synthetic import synthetic_people


def _random_texts(n: int, seed: int) -> list[str | None]:
    rng = random.Random(seed)
    alphabet = string.ascii_lowercase + string.digits + "  -'."
    texts: list[str | None] = [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(n)
    ]
    return [*texts, "", None, "a", "ab", "abc", "é café", "日本語", "x" * 400, "ab" * 150]


def _people_texts(n: int) -> list[str | None]:
    people, _ = synthetic_people(n, seed=11)
    return normalize(people).column("text").to_pylist()


def _reference(texts: list[str | None], num_perm: int, seed: int, scheme: str, k: int):
    out = []
    for text in texts:
        m = MinHash(num_perm=num_perm, seed=seed, scheme=scheme)
        for sh in sorted(shingles(text or "", k)):
            m.update(sh)
        out.append(m.hashvalues)
    return np.array(out)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_random_strings_equal_datasketch_default_scheme(k: int) -> None:
    texts = _random_texts(300, seed=k)
    ours = minhash_signatures(pa.array(texts), num_perm=64, seed=7, shingle_size=k)
    ref = _reference(texts, 64, 7, "affine32", k)
    assert ours.dtype == ref.dtype == np.uint32
    np.testing.assert_array_equal(ours, ref)


def test_people_texts_equal_datasketch_default_settings() -> None:
    texts = _people_texts(400)
    ours = minhash_signatures(pa.array(texts), num_perm=128, seed=1)
    np.testing.assert_array_equal(ours, _reference(texts, 128, 1, "affine32", 3))


@pytest.mark.parametrize("scheme", ["legacy", "affine64"])
def test_other_schemes_equal_datasketch(scheme: str) -> None:
    texts = _random_texts(80, seed=3)
    ours = minhash_signatures(pa.array(texts), num_perm=16, seed=42, scheme=scheme)
    ref = _reference(texts, 16, 42, scheme, 3)
    assert ours.dtype == ref.dtype
    np.testing.assert_array_equal(ours, ref)


def test_permutations_are_datasketchs() -> None:
    for scheme in ("affine32", "legacy"):
        a, b = permutations(32, 5, scheme)
        m = MinHash(num_perm=32, seed=5, scheme=scheme)
        np.testing.assert_array_equal(a, m.permutations[0])
        np.testing.assert_array_equal(b, m.permutations[1])


def test_batch_layout_does_not_matter() -> None:
    texts = _random_texts(100, seed=9)
    whole = minhash_signatures(pa.array(texts), num_perm=32)
    chunked = pa.chunked_array([pa.array(texts[:37]), pa.array(texts[37:])])
    np.testing.assert_array_equal(minhash_signatures(chunked, num_perm=32), whole)
    sliced = pa.array(["padding", *texts]).slice(1)
    np.testing.assert_array_equal(minhash_signatures(sliced, num_perm=32), whole)
    large = pa.array(texts, pa.large_string())
    np.testing.assert_array_equal(minhash_signatures(large, num_perm=32), whole)


def test_texts_without_shingles_keep_initial_values_and_no_band_keys() -> None:
    sig = minhash_signatures(pa.array(["", None, "abc"]), num_perm=8)
    empty = empty_rows(sig, "affine32")
    assert empty.tolist() == [True, True, False]
    keys = lsh_keys(sig, bands=2, rows=4, empty=empty)
    assert (keys[:2] == 0).all()
    assert (keys[2] != 0).all()


def test_band_keys_are_equal_exactly_when_band_values_are() -> None:
    texts = ["john smith 12 oak st 78701", "john smith 12 oak st 78701", "mary jones 4 elm 10001"]
    sig = minhash_signatures(pa.array(texts), num_perm=20)
    keys = lsh_keys(sig, bands=4, rows=5, empty=empty_rows(sig, "affine32"))
    np.testing.assert_array_equal(keys[0], keys[1])
    for band in range(4):
        same_values = np.array_equal(
            sig[0, band * 5 : band * 5 + 5], sig[2, band * 5 : band * 5 + 5]
        )
        assert (keys[0, band] == keys[2, band]) == same_values
    assert len(set(keys[0].tolist())) == 4, "the band number is part of the key"


def test_string_hash_is_stable_and_layout_free() -> None:
    values = ["john@example.com", "", None, "mary@example.com", "john@example.com"]
    h = hash_strings(pa.array(values))
    assert h[0] == h[4] != h[3]
    assert h[1] == h[2] == 0, "empty and null have no key"
    chunked = pa.chunked_array([pa.array(values[:2]), pa.array(values[2:])])
    np.testing.assert_array_equal(hash_strings(chunked), h)
    assert hash_strings(pa.array(["abc"]))[0] == hash_strings(pa.array(["x", "abc"]))[1]
    # Keys are persisted, so the hash must never change silently.
    assert hash_strings(pa.array(["abc"]))[0] == -586104267785577845
