"""Graph mailbox transport against an HTTPS stand-in that speaks the documented Graph API."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from servers.graph import (
    CLIENT_ID,
    CLIENT_SECRET,
    ITEM_ATTACHMENT,
    MAILBOX,
    TENANT_ID,
    Attachment,
    GraphStandIn,
)
from servers.retry import RecordedRetry
from servers.tls import ServerCertificate

from leadpipe.tenant import Channel
from tasks.transports import RetryableTransportError, TerminalTransportError
from tasks.transports.graph import GraphTransport
from tasks.transports.state import ChannelState

pytest_plugins = ["servers.tls", "servers.graph", "servers.retry"]

SECRET_ENV = "TEST_GRAPH_CLIENT_SECRET"


@pytest.fixture
def graph(graph_server: GraphStandIn, monkeypatch: pytest.MonkeyPatch) -> GraphStandIn:
    graph_server.reset()
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    return graph_server


OpenMailbox = Callable[..., GraphTransport]


@pytest.fixture
def mailbox(
    graph: GraphStandIn, server_certificate: ServerCertificate, tmp_path: Path,
    recorded_retry: RecordedRetry,
) -> Iterator[OpenMailbox]:
    """Opens transports on the stand-in's mailbox; closes them after the test."""
    opened: list[GraphTransport] = []

    def open_mailbox(ca_file: Path | None = None) -> GraphTransport:
        channel = Channel(
            kind="graph", authority_tenant_id=TENANT_ID, client_id=CLIENT_ID,
            client_secret={"env": SECRET_ENV}, mailbox=MAILBOX, processed_folder="Processed",
            graph_url=graph.graph_url, authority_host=graph.base_url,
            ca_file=str(ca_file or server_certificate.ca_file),
        )
        state = ChannelState.for_channel("partner_mailbox", tmp_path / "state")
        opened.append(GraphTransport(channel, "partner_mailbox", state, recorded_retry.policy))
        return opened[-1]

    yield open_mailbox
    for transport in opened:
        transport.close()


def saved_state(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "state" / "partner_mailbox.json").read_text())


def test_attachments_round_trip_across_pages_and_the_watermark_persists(
    graph: GraphStandIn, mailbox: OpenMailbox, tmp_path: Path,
    recorded_retry: RecordedRetry,
) -> None:
    graph.deliver("2026-11-20T07:01:00Z", Attachment("keystone-mtg-2026-11-20.csv", b"a,b\n"))
    graph.deliver("2026-11-20T07:03:00Z",
                  Attachment("pinecrest_daily_20261120.csv", b"id\n1\n"),
                  Attachment("PINECREST-CONFIRM-20261120.xlsx", b"PK\x03\x04binary"),
                  Attachment("forwarded note", kind=ITEM_ATTACHMENT))
    graph.deliver("2026-11-20T07:02:00Z", Attachment("Keystone Delivered 20261120.xlsx", b"PK"))
    link = mailbox()

    files = link.list_new()

    assert [f.name for f in files] == [
        "keystone-mtg-2026-11-20.csv", "Keystone Delivered 20261120.xlsx",
        "pinecrest_daily_20261120.csv", "PINECREST-CONFIRM-20261120.xlsx",
    ]
    assert files[0].modified is not None and files[0].modified.isoformat() == (
        "2026-11-20T07:01:00+00:00")
    pages = [q for m, p, q in graph.calls if p.endswith("/mailFolders/inbox/messages")]
    assert len(pages) == 2 and pages[1]["$skip"] == "2"  # the nextLink was followed
    assert pages[0]["$filter"] == (
        "receivedDateTime ge 1900-01-01T00:00:00Z and hasAttachments eq true")
    assert [link.fetch(f) for f in files] == [b"a,b\n", b"PK", b"id\n1\n", b"PK\x03\x04binary"]

    for file in files:
        link.mark_processed(file)

    assert graph.in_folder("inbox") == [] and len(graph.in_folder("processed")) == 3
    assert saved_state(tmp_path)["watermark"] == "2026-11-20T07:03:00Z"
    assert link.list_new() == []
    # A new run (a new transport over the same state) asks only from the watermark on,
    # so an old message put back in the Inbox is not offered again.
    graph.deliver("2026-11-19T09:00:00Z", Attachment("keystone-mtg-2026-11-19.csv", b"old"))
    graph.deliver("2026-11-21T07:00:00Z", Attachment("keystone-mtg-2026-11-21.csv", b"new"))
    again = mailbox()
    assert [f.name for f in again.list_new()] == ["keystone-mtg-2026-11-21.csv"]
    last = [q for m, p, q in graph.calls if p.endswith("/messages")][-1]
    assert last["$filter"].startswith("receivedDateTime ge 2026-11-20T07:03:00Z")
    assert recorded_retry.waits == []


def test_a_message_moves_only_when_all_its_files_are_processed(
    graph: GraphStandIn, mailbox: OpenMailbox, tmp_path: Path,
    recorded_retry: RecordedRetry,
) -> None:
    graph.deliver("2026-11-20T07:00:00Z", Attachment("a.csv", b"a"), Attachment("b.csv", b"b"))
    link = mailbox()
    first, second = link.list_new()

    link.mark_processed(first)

    assert len(graph.in_folder("inbox")) == 1
    assert [f.name for f in mailbox()
            .list_new()] == ["b.csv"]
    link.mark_processed(second)
    assert graph.in_folder("inbox") == [] and len(graph.in_folder("processed")) == 1


def test_a_file_that_failed_is_offered_again_though_a_later_one_succeeded(
    graph: GraphStandIn, mailbox: OpenMailbox, tmp_path: Path,
    recorded_retry: RecordedRetry,
) -> None:
    graph.deliver("2026-11-20T07:00:00Z", Attachment("failed.csv", b"1"))
    graph.deliver("2026-11-20T08:00:00Z", Attachment("fine.csv", b"2"))
    link = mailbox()
    _failed, fine = link.list_new()

    link.mark_processed(fine)

    assert saved_state(tmp_path)["watermark"] == "2026-11-20T07:00:00Z"
    assert [f.name for f in mailbox()
            .list_new()] == ["failed.csv"]


def test_a_processed_folder_under_the_inbox_is_found(
    graph: GraphStandIn, mailbox: OpenMailbox, tmp_path: Path,
    recorded_retry: RecordedRetry,
) -> None:
    graph.reset(processed_under_inbox=True)
    graph.deliver("2026-11-20T07:00:00Z", Attachment("a.csv", b"a"))
    link = mailbox()

    link.mark_processed(*link.list_new())

    assert len(graph.in_folder("processed")) == 1


def test_a_missing_processed_folder_is_terminal_but_the_file_is_not_offered_twice(
    graph: GraphStandIn, mailbox: OpenMailbox, tmp_path: Path,
    recorded_retry: RecordedRetry,
) -> None:
    del graph.folders["processed"]
    graph.deliver("2026-11-20T07:00:00Z", Attachment("a.csv", b"a"))
    link = mailbox()
    [file] = link.list_new()

    with pytest.raises(TerminalTransportError, match="'Processed' not found"):
        link.mark_processed(file)

    assert len(graph.in_folder("inbox")) == 1
    assert link.list_new() == []


def test_a_503_with_retry_after_is_retried_after_the_wait_the_server_asked_for(
    graph: GraphStandIn, mailbox: OpenMailbox, tmp_path: Path,
    recorded_retry: RecordedRetry,
) -> None:
    graph.deliver("2026-11-20T07:00:00Z", Attachment("a.csv", b"a"))
    graph.fail_next("/mailFolders/inbox/messages", 503, retry_after="7")
    link = mailbox()

    [file] = link.list_new()

    assert file.name == "a.csv"
    assert recorded_retry.waits == [7.0]


def test_throttling_that_outlasts_three_retries_is_raised_as_retryable(
    graph: GraphStandIn, mailbox: OpenMailbox, tmp_path: Path,
    recorded_retry: RecordedRetry,
) -> None:
    graph.deliver("2026-11-20T07:00:00Z", Attachment("a.csv", b"a"))
    for _ in range(4):
        graph.fail_next("/attachments", 429)
    link = mailbox()

    with pytest.raises(RetryableTransportError, match="HTTP 429") as raised:
        link.list_new()

    assert raised.value.status == 429
    assert recorded_retry.waits == [0.01, 0.02, 0.04]


def test_a_wrong_client_secret_is_terminal_and_never_logged(
    graph: GraphStandIn, mailbox: OpenMailbox, tmp_path: Path,
    recorded_retry: RecordedRetry, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "wrong-graph-secret-that-must-not-leak"
    monkeypatch.setenv(SECRET_ENV, wrong)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(TerminalTransportError, match="invalid_client") as raised:
        mailbox().list_new()

    assert recorded_retry.waits == []
    for secret in (wrong, CLIENT_SECRET):
        assert secret not in caplog.text and secret not in str(raised.value)


def test_a_graph_401_is_terminal_and_the_token_never_logged(
    graph: GraphStandIn, mailbox: OpenMailbox, tmp_path: Path,
    recorded_retry: RecordedRetry, caplog: pytest.LogCaptureFixture,
) -> None:
    graph.deliver("2026-11-20T07:00:00Z", Attachment("a.csv", b"a"))
    link = mailbox()
    [file] = link.list_new()
    [token] = graph.tokens
    graph.tokens.clear()  # revoked: msal still holds it, Graph no longer accepts it
    caplog.set_level(logging.DEBUG)

    with pytest.raises(TerminalTransportError, match="HTTP 401 InvalidAuthenticationToken"):
        link.fetch(file)

    assert recorded_retry.waits == []
    assert token not in caplog.text


def test_an_untrusted_certificate_is_terminal(
    graph: GraphStandIn, mailbox: OpenMailbox, tmp_path: Path,
    recorded_retry: RecordedRetry, untrusted_ca_file: Path,
) -> None:
    link = mailbox(ca_file=untrusted_ca_file)

    with pytest.raises(TerminalTransportError, match="certificate not trusted"):
        link.list_new()
    assert recorded_retry.waits == []
