"""USPS Intelligent Mail barcode (USPS-B-3200) codec.

Pure Python with no dependencies, except :func:`canonical_array`, which needs pyarrow and is
imported on first use so that the scalar codec stays importable without it.

* :func:`encode` / :func:`decode`: tracking + routing digits to 65 bars and back, with
  optional single-bar repair.
* :func:`canonical` / :func:`parse`: accept bars or 20/25/29/31 digits, as partners send them.
* :func:`canonical_array`: the same for a whole column, at ingestion speed.
* :class:`ImbError`: the only exception raised for bad input; ``.reason`` says why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from imb.codec import Barcode, Bars, RoutingCode, TrackingCode, decode, encode
from imb.errors import REASONS, ImbError, Reason
from imb.forms import canonical, parse

if TYPE_CHECKING:
    from imb.batch import canonical_array

__all__ = [
    "REASONS",
    "Barcode",
    "Bars",
    "ImbError",
    "Reason",
    "RoutingCode",
    "TrackingCode",
    "canonical",
    "canonical_array",
    "decode",
    "encode",
    "parse",
]


def __getattr__(name: str) -> Any:
    """Import the pyarrow-backed batch API lazily (PEP 562)."""
    if name == "canonical_array":
        from imb.batch import canonical_array

        return canonical_array
    raise AttributeError(f"module 'imb' has no attribute {name!r}")
