"""Local-folder transport, and the factory that picks a transport by channel kind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from servers.retry import RecordedRetry

from leadpipe.tenant import Channel
from tasks.transports import TerminalTransportError, Transport, transport_for
from tasks.transports.local import LocalTransport
from tasks.transports.s3 import S3Transport

pytest_plugins = ["servers.retry"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LEADPIPE_HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "inbox").mkdir(parents=True)
    return tmp_path / "home"


def put(folder: Path, name: str, data: bytes, mtime: int) -> Path:
    path = folder / name
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def inbox(tmp_path: Path, retry: RecordedRetry) -> Transport:
    channel = Channel(kind="local", folder="inbox")  # relative: under LEADPIPE_HOME
    return transport_for(channel, "inbox", tmp_path / "state", retry=retry.policy)


def test_list_fetch_and_mark_processed_round_trip(
    home: Path, tmp_path: Path, recorded_retry: RecordedRetry
) -> None:
    put(home / "inbox", "pinecrest_daily_20261121.csv", b"id\n2\n", 1_795_000_000)
    put(home / "inbox", "pinecrest_daily_20261120.csv", b"id\n1\n", 1_794_900_000)
    put(home / "inbox", ".keystone-mtg-2026-11-20.csv.swp", b"in progress", 1_794_900_000)
    (home / "inbox" / "archive").mkdir()
    link = inbox(tmp_path, recorded_retry)

    files = link.list_new()

    assert isinstance(link, LocalTransport)
    assert [(f.name, f.size) for f in files] == [
        ("pinecrest_daily_20261120.csv", 5), ("pinecrest_daily_20261121.csv", 5)]
    assert link.fetch(files[0]) == b"id\n1\n"
    for file in files:
        link.mark_processed(file)
    assert sorted(p.name for p in (home / "inbox" / "processed").iterdir()) == [
        "pinecrest_daily_20261120.csv", "pinecrest_daily_20261121.csv"]
    assert link.list_new() == []


def test_a_file_sent_again_under_the_same_name_is_new_again(
    home: Path, tmp_path: Path, recorded_retry: RecordedRetry
) -> None:
    put(home / "inbox", "pinecrest_daily_20261120.csv", b"first", 1_794_900_000)
    link = inbox(tmp_path, recorded_retry)
    link.mark_processed(*link.list_new())
    put(home / "inbox", "pinecrest_daily_20261120.csv", b"second copy", 1_794_990_000)

    [again] = link.list_new()
    link.mark_processed(again)

    assert (home / "inbox" / "processed" / again.name).read_bytes() == b"second copy"


def test_a_missing_folder_is_terminal(tmp_path: Path, recorded_retry: RecordedRetry,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADPIPE_HOME", str(tmp_path / "nowhere"))

    with pytest.raises(TerminalTransportError, match="cannot list"):
        inbox(tmp_path, recorded_retry).list_new()


def test_an_s3_channel_gets_the_s3_transport_without_touching_the_network(
    tmp_path: Path,
) -> None:
    channel = Channel(kind="s3", bucket="partner-drop", folder="summit")

    link = transport_for(channel, "summit_s3", tmp_path / "state")

    assert isinstance(link, S3Transport) and isinstance(link, Transport)
