"""One frozen, serialisable description of a dedup run.

Everything that changes which pairs match lives here, so a run can be saved with its results
(``dedup_runs.parameters``), diffed against another and replayed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

Scheme = Literal["affine32", "affine64", "legacy"]

#: Free-mail domains: sharing one says nothing about being the same person, so the
#: "same email domain + similar name" tier ignores them.
FREE_EMAIL_DOMAINS: tuple[str, ...] = (
    "aol.com",
    "att.net",
    "comcast.net",
    "gmail.com",
    "hotmail.com",
    "icloud.com",
    "live.com",
    "mail.com",
    "me.com",
    "msn.com",
    "outlook.com",
    "protonmail.com",
    "verizon.net",
    "yahoo.com",
    "ymail.com",
)


@dataclass(frozen=True)
class DedupSettings:
    """Parameters of blocking, matching, clustering and execution.

    Attributes:
        num_perm: MinHash permutations per record (``bands * rows`` of them are used).
        bands: LSH bands; records sharing one band's bucket become candidates.
        rows: signature rows per band. Candidate probability for Jaccard ``j`` is
            ``1 - (1 - j**rows) ** bands``.
        seed: MinHash seed, as for ``datasketch.MinHash(seed=...)``.
        scheme: datasketch permutation scheme (2.0's default is ``affine32``).
        shingle_size: bytes per shingle of the normalised name + street + ZIP text.
        bucket_cap: buckets (LSH or exact-key) with more members are not paired all-to-all;
            their members are re-blocked on a finer sub-key and the bucket is reported.
        window: sorted-neighbourhood window for sub-buckets still above the cap.
        first_name_max_edits: edits (optimal string alignment: a swap of neighbours is one)
            at which two first names of 4+ letters still agree.
        long_first_name: first names at least this long are allowed one edit more.
        name_max_edits: fuzzy tier, full-name Levenshtein distance at most this.
        address_min_similarity: fuzzy tier, address similarity (0-100) at least this.
        domain_name_min_similarity: email-domain tier, name similarity (0-100) at least this.
        free_email_domains: domains that do not count as a shared email domain.
        max_conflicts: the name-based tiers (2 and 3) are vetoed when more than this many of
            street, email and phone are present on both records and disagree (different
            people who share a name and a ZIP); exact email or phone (tier 1) is never vetoed.
        address_conflict_below: street + ZIP similarity below which two addresses disagree.
        chain_min_score: a cluster member that is not itself a match of its golden record
            must score at least this against it, or it is split off.
        chain_max_rounds: bound on split rounds (each round removes at least one member).
        chunk_rows: records per signature/scoring task.
        partitions: bucket partitions (0: two per available CPU under Ray, one per 250k rows
            in-process, where partitions bound the memory of blocking).
        workers: rapidfuzz threads per task (1 under Ray, where tasks are the parallelism).
    """

    num_perm: int = 60
    bands: int = 12
    rows: int = 5
    seed: int = 1
    scheme: Scheme = "affine32"
    shingle_size: int = 3
    bucket_cap: int = 50
    window: int = 6
    first_name_max_edits: int = 1
    long_first_name: int = 8
    name_max_edits: int = 2
    address_min_similarity: float = 80.0
    domain_name_min_similarity: float = 85.0
    free_email_domains: tuple[str, ...] = field(default=FREE_EMAIL_DOMAINS)
    max_conflicts: int = 1
    address_conflict_below: float = 60.0
    chain_min_score: float = 45.0
    chain_max_rounds: int = 10
    chunk_rows: int = 50_000
    partitions: int = 0
    workers: int = 1

    def __post_init__(self) -> None:
        if self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"bands * rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}"
            )
        if min(self.bands, self.rows, self.num_perm) < 1:
            raise ValueError("num_perm, bands and rows must be positive")
        if not 1 <= self.shingle_size <= 8:
            raise ValueError("shingle_size must be between 1 and 8 bytes")
        if self.scheme not in ("affine32", "affine64", "legacy"):
            raise ValueError(f"unknown MinHash scheme {self.scheme!r}")
        if self.bucket_cap < 2 or self.window < 1:
            raise ValueError("bucket_cap must be at least 2 and window at least 1")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; `from_dict` turns it back into equal settings."""
        out = dataclasses.asdict(self)
        out["free_email_domains"] = list(self.free_email_domains)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DedupSettings:
        """Settings from `to_dict` output; unknown keys are an error, missing keys default.

        Raises:
            ValueError: on an unknown key or an invalid combination.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown dedup setting(s): {', '.join(unknown)}")
        values = dict(data)
        if "free_email_domains" in values:
            values["free_email_domains"] = tuple(values["free_email_domains"])
        return cls(**values)

    def replace(self, **changes: Any) -> DedupSettings:
        """A copy with some fields changed (validated like a new instance)."""
        return dataclasses.replace(self, **changes)
