"""A retry policy that waits no real time and remembers the waits it was asked for."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tasks.transports.retry import RetryPolicy


@dataclass
class RecordedRetry:
    """The policy to hand a transport, and every wait it asked for, in order."""

    waits: list[float] = field(default_factory=list)

    @property
    def policy(self) -> RetryPolicy:
        return RetryPolicy(base_delay=0.01, factor=2.0, sleep=self.waits.append)


@pytest.fixture
def recorded_retry() -> RecordedRetry:
    """The standard three retries with exponential steps, but no real waiting."""
    return RecordedRetry()
