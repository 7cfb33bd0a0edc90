"""The one retry policy every transport uses: three retries, exponential backoff.

Only `RetryableTransportError` is retried; a terminal error goes straight up.
When the server named a wait (HTTP Retry-After), that wait is used instead of
the backoff step, capped so that a hostile or confused server cannot park a
flow for hours.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tasks.transports.errors import RetryableTransportError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before trying a failed network call again.

    Attributes:
        retries: tries after the first one.
        base_delay: seconds before the first retry.
        factor: each further wait is this many times the one before.
        max_delay: no wait, computed or asked for by the server, is longer.
        sleep: how to wait (tests pass a recorder).
    """

    retries: int = 3
    base_delay: float = 2.0
    factor: float = 2.0
    max_delay: float = 120.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, retry: int, error: RetryableTransportError) -> float:
        """Seconds to wait before retry number `retry` (1-based) after `error`."""
        if error.retry_after is not None:
            return min(error.retry_after, self.max_delay)
        return min(self.base_delay * self.factor ** (retry - 1), self.max_delay)

    def run(self, operation: Callable[[], T], what: str) -> T:
        """Run `operation`, retrying it on retryable transport errors.

        Args:
            operation: the network call; it must be safe to repeat.
            what: a short description for the log (never a secret).

        Returns:
            What `operation` returned.

        Raises:
            RetryableTransportError: the last failure, once the retries are spent.
            TerminalTransportError: at once, without retrying.
        """
        retry = 0
        while True:
            try:
                return operation()
            except RetryableTransportError as error:
                retry += 1
                if retry > self.retries:
                    log.error("%s failed after %d retries: %s", what, self.retries, error)
                    raise
                wait = self.delay(retry, error)
                log.warning(
                    "%s failed (%s); retry %d of %d in %.2fs",
                    what, error, retry, self.retries, wait,
                )
                self.sleep(wait)
