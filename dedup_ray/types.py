"""Type aliases and the fixed band numbers shared by every dedup module.

A *row* is a position in the Arrow table a stage works on (``np.intp``); a *person id* is the
``persons.id`` it carries. Stages pass rows (cheap to index with numpy); results carry ids.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

PersonId: TypeAlias = int
#: A bucket key: a 64-bit hash (band number mixed in), as stored in ``bucket_hash bigint``.
BlockKey: TypeAlias = int
Rows: TypeAlias = npt.NDArray[np.int64]
Keys: TypeAlias = npt.NDArray[np.int64]
#: One accepted pair as a reader sees it: ids, tier reason, score and score parts.
ScoredPair: TypeAlias = dict[str, Any]
#: MinHash signatures, one row per record (uint32 for affine32, else uint64).
Signatures: TypeAlias = npt.NDArray[np.unsignedinteger[Any]]

#: Band numbers of the exact-key "bands" (LSH bands are 0 .. bands - 1).
BAND_EMAIL = 100
BAND_PHONE = 101
BAND_NAME_ZIP = 102
BAND_NAME_PHONE7 = 103
#: First initial + last name + ZIP: catches nickname pairs whose name keys differ.
BAND_INITIAL_ZIP = 104
EXACT_BANDS: tuple[int, ...] = (
    BAND_EMAIL,
    BAND_PHONE,
    BAND_NAME_ZIP,
    BAND_NAME_PHONE7,
    BAND_INITIAL_ZIP,
)
#: Pseudo-band: the record's finer sub-key, used inside capped buckets.
BAND_SUBKEY = -2
#: Pseudo-band: the record's matching component (before chain splitting), for incremental runs.
BAND_COMPONENT = -1
#: "No key" (a missing field, or a record with no shingles).
NO_KEY = 0
