"""Source errors that say whether reading again can help.

A flow decides on the class alone: `RetryableSourceError` (the server went away,
the network dropped) is worth another try, resumed after the last row_number it
received; `SourceError` (unknown format, no recognisable columns, a file too big,
a dump that does not parse) repeats until a person fixes the input. Messages name
the file or `mysql://host/db.table`, never a password.
"""

from __future__ import annotations


class SourceError(ValueError):
    """The source cannot be read as it is: a person has to fix the file or configuration."""

    retryable = False


class RetryableSourceError(Exception):
    """Reading failed for a reason that may pass (network, server restart): try again.

    Attributes:
        resume_after: the last row_number delivered before the failure, if any; pass it as
            `start_after` to continue without duplicates.
    """

    retryable = True

    def __init__(self, message: str, *, resume_after: int | None = None) -> None:
        super().__init__(message)
        self.resume_after = resume_after


def is_retryable(error: BaseException) -> bool:
    """Whether an error is worth another try: what a flow's `retry_condition_fn` asks."""
    return isinstance(error, RetryableSourceError)
