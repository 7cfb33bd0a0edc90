"""The one exception the codec raises for bad input, with a machine-readable reason."""

from __future__ import annotations

from typing import Literal, get_args

Reason = Literal["length", "characters", "barcode_id", "crc", "codeword", "character"]
"""Why a value was rejected.

* ``length``: wrong number of digits or bars (tracking 20; routing 0/5/9/11; bars 65).
* ``characters``: a symbol that does not belong (a non-ASCII-digit, or a bar letter other
  than A/D/F/T).
* ``barcode_id``: the second barcode-identifier digit is not 0-4 (it is encoded in base 5).
* ``crc``: the bars decode but the frame check sequence does not match.
* ``codeword``: a codeword is out of range (including an odd J codeword, which is what bars
  read upside down give, and a routing value beyond the largest 11-digit ZIP).
* ``character``: a 13-bit character is not a valid 2-of-13/5-of-13 value or complement.
"""

REASONS: frozenset[str] = frozenset(get_args(Reason))

_SHOWN_CHARS = 40


def show(value: str) -> str:
    """``repr`` of ``value`` for an error message, cut short so a huge cell stays one line.

    ``repr`` escapes newlines and other invisible characters, which keeps CLI errors on one
    line and makes look-alike characters (fullwidth digits, NBSP) visible.
    """
    if len(value) <= _SHOWN_CHARS:
        return repr(value)
    return f"{value[:_SHOWN_CHARS]!r}... ({len(value)} characters)"


class ImbError(ValueError):
    """Bad input to the Intelligent Mail barcode codec.

    Subclasses ``ValueError`` so callers that already treat bad values generically keep
    working, while ingestion code can branch on :attr:`reason` instead of parsing text.

    Attributes:
        reason: One of :data:`REASONS`; stable, meant for counting and routing errors.
    """

    reason: Reason

    def __init__(self, reason: Reason, message: str) -> None:
        """Create the error.

        Args:
            reason: The machine-readable category.
            message: A one-line human explanation naming the offending value or position.
        """
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple[type[ImbError], tuple[Reason, str]]:
        """Pickle with both arguments, so the error survives process pools (Ray, Prefect)."""
        return (type(self), (self.reason, str(self)))
