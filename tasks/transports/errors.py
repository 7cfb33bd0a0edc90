"""Transport errors that say whether trying again can help.

Every transport raises only these, so the retry policy and the flows (through
Prefect's `retry_condition_fn`) decide on the class alone: a timeout, a reset
connection, HTTP 429 or 5xx is worth another try; a refused login, an unknown
host key, an untrusted certificate or a missing folder is not. Messages name
the channel, host and user but never a password, token or key.
"""

from __future__ import annotations

import email.utils
import ssl
from datetime import UTC, datetime


class TransportError(Exception):
    """A transport operation failed.

    Attributes:
        status: the HTTP status behind the failure, for HTTP transports.
    """

    retryable = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RetryableTransportError(TransportError):
    """A failure that another try may not meet (network, throttling, server busy).

    Attributes:
        retry_after: seconds the server asked us to wait, when it said so.
    """

    retryable = True

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class TerminalTransportError(TransportError):
    """A failure that repeats until a person fixes something (credentials, trust, paths)."""


def is_retryable(error: BaseException) -> bool:
    """Whether an error is worth another try: what a flow's `retry_condition_fn` asks."""
    return isinstance(error, RetryableTransportError)


def from_network_error(error: OSError, what: str) -> TransportError:
    """The transport error for a socket-level failure while doing `what`.

    An untrusted or mismatched certificate is terminal; timeouts, refused or
    reset connections, name-resolution and other TLS failures are retryable.
    """
    if isinstance(error, ssl.SSLCertVerificationError):
        return TerminalTransportError(
            f"{what}: server certificate not trusted ({error.verify_message})"
        )
    if isinstance(error, TimeoutError):
        return RetryableTransportError(f"{what}: timed out")
    return RetryableTransportError(f"{what}: {type(error).__name__}: {error}")


def from_http_status(
    status: int, what: str, detail: str = "", retry_after: str | None = None
) -> TransportError:
    """The transport error for an HTTP error status.

    429 and 5xx are retryable and carry the server's Retry-After; 401, 403,
    404 and every other 4xx are terminal.
    """
    message = f"{what}: HTTP {status}" + (f" {detail}" if detail else "")
    if status == 429 or status >= 500:
        return RetryableTransportError(
            message, retry_after=parse_retry_after(retry_after), status=status
        )
    return TerminalTransportError(message, status=status)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
