"""Clusters from accepted pairs: connected components, then the chain guard.

Connected components alone over-merge along chains (A matches B by email, B matches C by
phone, C is someone else). So every member of a cluster of three or more must also hold up
against the cluster's golden record; members that do not are split off and re-clustered
among themselves, and the sub-clusters are checked the same way, until nothing moves.

Labels are the smallest row of each cluster, which makes them independent of the order in
which pairs arrive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dedup_ray.arrays import sorted_unique, unique_inverse

I64 = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
#: (rows, their cluster labels) -> row of each row's golden record.
GoldenOf = Callable[[I64, I64], I64]
#: (golden rows, member rows) -> whether each member stays with its golden record.
Keep = Callable[[I64, I64], BoolArray]


def connected_components(n: int, left: I64, right: I64) -> I64:
    """Component label (smallest row in the component) of each of `n` rows.

    Vectorized hook-and-compress: each round points the larger root of every edge at the
    smaller one (``np.minimum.at``) and then jumps pointers until every row points at a root;
    rounds grow logarithmically with component diameter in practice.
    """
    label = np.arange(n, dtype=np.int64)
    if len(left) == 0:
        return label
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    while True:
        a, b = label[left], label[right]
        differ = a != b
        if not differ.any():
            return label
        left, right = left[differ], right[differ]
        a, b = a[differ], b[differ]
        np.minimum.at(label, np.maximum(a, b), np.minimum(a, b))
        while True:
            jumped = label[label]
            if np.array_equal(jumped, label):
                break
            label = jumped


def canonical_labels(groups: I64) -> I64:
    """Relabel arbitrary group ids as the smallest row of each group."""
    uniq, inverse = unique_inverse(groups)
    smallest = np.full(len(uniq), len(groups), dtype=np.int64)
    np.minimum.at(smallest, inverse, np.arange(len(groups), dtype=np.int64))
    return smallest[inverse]


def cluster_sizes(labels: I64) -> I64:
    """Size of each row's cluster."""
    return np.bincount(labels, minlength=len(labels))[labels]


@dataclass(frozen=True)
class ChainReport:
    """What the chain guard did.

    Attributes:
        rounds: split rounds run.
        clusters_split: clusters that lost at least one member (per round).
        members_detached: member moves (a row split off twice counts twice).
    """

    rounds: int
    clusters_split: int
    members_detached: int


def split_chains(
    labels: I64,
    left: I64,
    right: I64,
    golden_of: GoldenOf,
    keep: Keep,
    max_rounds: int,
) -> tuple[I64, ChainReport]:
    """Split clusters whose members do not all hold up against their golden record.

    Args:
        labels: `connected_components` labels of the accepted pairs `left`/`right`.
        left: one row of each accepted pair.
        right: the other row.
        golden_of: picks the golden row of the clusters of the given rows.
        keep: decides for (golden, member) row pairs whether the member stays.
        max_rounds: upper bound on rounds.

    Returns:
        New labels (smallest row per cluster) and a report. Two-member clusters are never
        checked: their one pair is itself an accepted match.
    """
    labels = labels.copy()
    sizes = cluster_sizes(labels)
    check = np.flatnonzero(sizes >= 3)
    split = 0
    detached = 0
    rounds = 0
    while check.size and rounds < max_rounds:
        rounds += 1
        golden = golden_of(check, labels[check])
        members = check[golden != check]
        stays = keep(golden[golden != check], members)
        failed = members[~stays]
        if failed.size == 0:
            break
        detached += failed.size
        split += int(sorted_unique(labels[failed]).size)
        is_failed = np.zeros(len(labels), dtype=np.bool_)
        is_failed[failed] = True
        inner = is_failed[left] & is_failed[right] & (labels[left] == labels[right])
        sub = connected_components(len(labels), left[inner], right[inner])
        groups = labels.copy()
        groups[failed] = sub[failed] + len(labels)
        labels = canonical_labels(groups)
        new_sizes = cluster_sizes(labels)
        check = failed[new_sizes[failed] >= 3]
        check = (
            np.flatnonzero(np.isin(labels, sorted_unique(labels[check]))) if check.size else check
        )
    return labels, ChainReport(rounds, split, int(detached))
