"""Small vectorized helpers on integer arrays, shared by blocking, scoring and clustering.

``np.unique`` without ``return_inverse`` is about ten times slower than a plain sort on
large int64 arrays in numpy 2.4 (22 s against 2 s for 25M values here), so distinct
values are found by sorting and comparing neighbours.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]


def sorted_unique(values: npt.NDArray[np.integer]) -> npt.NDArray[np.integer]:
    """The distinct values, ascending."""
    if values.size == 0:
        return values.copy()
    s = np.sort(values)
    return s[np.r_[True, s[1:] != s[:-1]]]


def unique_inverse(
    values: npt.NDArray[np.integer],
) -> tuple[npt.NDArray[np.integer], I64]:
    """The distinct values (ascending) and each value's index among them."""
    if values.size == 0:
        return values.copy(), np.zeros(0, dtype=np.int64)
    order = np.argsort(values)
    s = values[order]
    first = np.r_[True, s[1:] != s[:-1]]
    inverse = np.empty(values.size, dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return s[first], inverse


def runs(sorted_values: npt.NDArray[np.integer]) -> tuple[I64, I64]:
    """Start and length of each run of equal values in a sorted array."""
    if sorted_values.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    return starts, np.diff(np.r_[starts, sorted_values.size])


def ranks_within(sizes: I64) -> I64:
    """0, 1, ..., size - 1 for each group, concatenated."""
    total = int(sizes.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    ends = np.cumsum(sizes)
    return np.arange(total, dtype=np.int64) - np.repeat(ends - sizes, sizes)
