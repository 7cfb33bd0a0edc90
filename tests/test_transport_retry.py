"""The one retry policy, the retryable/terminal split, and the shared cursor paginator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from servers.retry import RecordedRetry

from tasks.transports import (
    RetryableTransportError,
    RetryPolicy,
    TerminalTransportError,
    is_retryable,
)
from tasks.transports.errors import from_http_status, parse_retry_after
from tasks.transports.pagination import GRAPH_PAGES, PIPEDRIVE_PAGES, CursorPaginator

pytest_plugins = ["servers.retry"]


class Flaky:
    """An operation that fails with the given errors, in order, then returns 'done'."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def test_retries_three_times_with_exponential_waits_then_raises_the_last_error(
    recorded_retry: RecordedRetry,
) -> None:
    errors = [RetryableTransportError(f"reset {n}") for n in range(5)]
    operation = Flaky(*errors)

    with pytest.raises(RetryableTransportError, match="reset 3"):
        recorded_retry.policy.run(operation, "list")

    assert operation.calls == 4
    assert recorded_retry.waits == [0.01, 0.02, 0.04]


def test_a_call_that_recovers_returns_its_result(recorded_retry: RecordedRetry) -> None:
    operation = Flaky(RetryableTransportError("timed out"), RetryableTransportError("reset"))

    assert recorded_retry.policy.run(operation, "fetch") == "done"
    assert operation.calls == 3 and recorded_retry.waits == [0.01, 0.02]


def test_terminal_and_unexpected_errors_are_not_retried(recorded_retry: RecordedRetry) -> None:
    terminal = Flaky(TerminalTransportError("401"))
    with pytest.raises(TerminalTransportError):
        recorded_retry.policy.run(terminal, "list")
    bug = Flaky(KeyError("a bug, not the network"))
    with pytest.raises(KeyError):
        recorded_retry.policy.run(bug, "list")

    assert (terminal.calls, bug.calls) == (1, 1)
    assert recorded_retry.waits == []


def test_the_servers_retry_after_replaces_the_backoff_step_but_is_capped() -> None:
    waits: list[float] = []
    policy = RetryPolicy(base_delay=0.01, max_delay=30.0, sleep=waits.append)
    operation = Flaky(RetryableTransportError("503", retry_after=5.0),
                      RetryableTransportError("429", retry_after=3600.0))

    assert policy.run(operation, "list") == "done"
    assert waits == [5.0, 30.0]


def test_the_default_policy_is_three_retries_with_exponential_backoff() -> None:
    policy = RetryPolicy()
    error = RetryableTransportError("reset")

    assert policy.retries == 3
    assert [policy.delay(n, error) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]


@pytest.mark.parametrize(("status", "retryable"), [
    (400, False), (401, False), (403, False), (404, False),
    (429, True), (500, True), (502, True), (503, True), (504, True),
])
def test_http_statuses_map_to_retryable_or_terminal(status: int, retryable: bool) -> None:
    error = from_http_status(status, "list messages", "Code: message", retry_after="12")

    assert is_retryable(error) is retryable
    assert error.status == status
    assert isinstance(error, RetryableTransportError if retryable else TerminalTransportError)
    if retryable:
        assert error.retry_after == 12.0


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)

    assert parse_retry_after("120") == 120.0
    assert 85.0 < (parse_retry_after(soon) or 0) <= 90.0
    assert parse_retry_after("soon-ish") is None
    assert parse_retry_after(None) is None


def pages(*contents: dict[str, Any]) -> tuple[list[str | None], Any]:
    """A fake server's pages by cursor, and the cursors it was asked for."""
    asked: list[str | None] = []
    by_cursor = {None: contents[0], **{f"c{n}": page for n, page in enumerate(contents[1:], 1)}}

    def fetch(cursor: str | None) -> dict[str, Any]:
        asked.append(cursor)
        return by_cursor[cursor]

    return asked, fetch


def test_graph_pages_are_followed_through_odata_next_link() -> None:
    asked, fetch = pages(
        {"value": [1, 2], "@odata.nextLink": "c1"},
        {"value": [3], "@odata.nextLink": "c2"},
        {"value": []},
    )

    assert list(GRAPH_PAGES.records(fetch)) == [1, 2, 3]
    assert asked == [None, "c1", "c2"]


def test_pipedrive_pages_are_followed_through_next_cursor() -> None:
    asked, fetch = pages(
        {"data": [{"id": 1}], "additional_data": {"next_cursor": "c1"}},
        {"data": [{"id": 2}], "additional_data": {"next_cursor": None}},
    )

    assert [r["id"] for r in PIPEDRIVE_PAGES.records(fetch)] == [1, 2]
    assert asked == [None, "c1"]


def test_a_repeated_cursor_or_too_many_pages_stop_the_loop() -> None:
    _, looping = pages({"value": [1], "@odata.nextLink": "c1"},
                       {"value": [2], "@odata.nextLink": "c1"})
    with pytest.raises(TerminalTransportError, match="repeated"):
        list(GRAPH_PAGES.records(looping))

    _, endless = pages({"value": [1], "@odata.nextLink": "c1"},
                       {"value": [2], "@odata.nextLink": "c2"},
                       {"value": [3], "@odata.nextLink": "c3"})
    short = CursorPaginator(("@odata.nextLink",), ("value",), max_pages=2)
    with pytest.raises(TerminalTransportError, match="more than 2 pages"):
        list(short.records(endless))
