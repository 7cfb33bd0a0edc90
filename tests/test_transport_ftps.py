"""FTPS transport against a real FTPS server on loopback (TLS control and data channels)."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import pytest
from servers.ftps import PASSWORD, READER, USER, FTPSServer
from servers.retry import RecordedRetry

from leadpipe.tenant import Channel
from tasks.transports import (
    RemoteFile,
    RetryableTransportError,
    TerminalTransportError,
    Transport,
    transport_for,
)

pytest_plugins = ["servers.tls", "servers.ftps", "servers.retry"]

SECRET_ENV = "TEST_HARBOR_FTPS_PASSWORD"


def channel(server: FTPSServer, *, user: str = USER, ca_file: Path | None = None,
            port: int | None = None) -> Channel:
    return Channel(
        kind="ftps", host=server.host, port=port or server.port, folder="/outbound",
        username=user, password={"env": SECRET_ENV}, ca_file=str(ca_file or server.ca_file),
    )


def put(server: FTPSServer, name: str, data: bytes, mtime: int) -> None:
    path = server.outbound / name
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


@pytest.fixture
def ftps(ftps_server: FTPSServer, monkeypatch: pytest.MonkeyPatch) -> FTPSServer:
    ftps_server.reset()
    monkeypatch.setenv(SECRET_ENV, PASSWORD)
    return ftps_server


def transport(chan: Channel, tmp_path: Path, retry: RecordedRetry) -> Transport:
    return transport_for(chan, "harbor_ftps", tmp_path / "state", retry=retry.policy)


def test_list_fetch_and_mark_processed_round_trip(
    ftps: FTPSServer, tmp_path: Path, recorded_retry: RecordedRetry
) -> None:
    put(ftps, "HARBOR_DLV_20261121.csv", b"later\r\n", 1_795_000_000)
    put(ftps, "HARBOR_DLV_20261120.csv", b"earlier\r\n", 1_794_900_000)
    big = os.urandom(700_000)  # many TLS records on the protected data channel
    put(ftps, "HARBOR_CLOSINGS_20261120.xlsx", big, 1_794_950_000)
    link = transport(channel(ftps), tmp_path, recorded_retry)

    files = link.list_new()

    assert [f.name for f in files] == [
        "HARBOR_DLV_20261120.csv", "HARBOR_CLOSINGS_20261120.xlsx", "HARBOR_DLV_20261121.csv",
    ]
    assert [f.size for f in files] == [9, len(big), 7]
    assert files[0].modified is not None and files[0].modified.timestamp() == 1_794_900_000
    assert link.fetch(files[0]) == b"earlier\r\n"
    assert link.fetch(files[1]) == big
    for file in files:
        link.mark_processed(file)
    assert sorted(p.name for p in (ftps.outbound / "processed").iterdir()) == sorted(
        f.name for f in files)
    assert link.list_new() == []
    assert recorded_retry.waits == []


def test_a_server_without_mlsd_is_listed_with_nlst(
    ftps_server_without_mlsd: FTPSServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    recorded_retry: RecordedRetry,
) -> None:
    server = ftps_server_without_mlsd
    server.reset()
    monkeypatch.setenv(SECRET_ENV, PASSWORD)
    put(server, "HARBOR_DLV_20261120.csv", b"1,2\n", 1_794_900_000)
    (server.outbound / "processed").mkdir()
    link = transport(channel(server), tmp_path, recorded_retry)

    [file] = link.list_new()

    assert (file.name, file.size) == ("HARBOR_DLV_20261120.csv", 4)
    assert file.modified is not None and file.modified.timestamp() == 1_794_900_000
    assert link.fetch(file) == b"1,2\n"
    link.mark_processed(file)
    assert link.list_new() == []


def test_a_read_only_account_remembers_processed_files_in_state(
    ftps: FTPSServer, tmp_path: Path, recorded_retry: RecordedRetry
) -> None:
    put(ftps, "HARBOR_DLV_20261120.csv", b"first\n", 1_794_900_000)
    link = transport(channel(ftps, user=READER), tmp_path, recorded_retry)

    [file] = link.list_new()
    link.mark_processed(file)

    assert (ftps.outbound / "HARBOR_DLV_20261120.csv").exists()
    assert not (ftps.outbound / "processed").exists()
    assert transport(channel(ftps, user=READER), tmp_path, recorded_retry).list_new() == []
    put(ftps, "HARBOR_DLV_20261120.csv", b"re-sent with other bytes\n", 1_794_990_000)
    [again] = link.list_new()
    assert again.size == 25


def test_an_untrusted_certificate_is_terminal_and_not_retried(
    ftps: FTPSServer, tmp_path: Path, untrusted_ca_file: Path, recorded_retry: RecordedRetry
) -> None:
    link = transport(channel(ftps, ca_file=untrusted_ca_file), tmp_path, recorded_retry)

    with pytest.raises(TerminalTransportError, match="certificate not trusted"):
        link.list_new()
    assert recorded_retry.waits == []


def test_a_wrong_password_is_terminal_and_never_logged(
    ftps: FTPSServer, tmp_path: Path, recorded_retry: RecordedRetry,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "wrong-Pa55word-that-must-not-leak"
    monkeypatch.setenv(SECRET_ENV, wrong)
    caplog.set_level(logging.DEBUG)
    link = transport(channel(ftps), tmp_path, recorded_retry)

    with pytest.raises(TerminalTransportError, match="login refused") as raised:
        link.list_new()

    assert recorded_retry.waits == []
    assert wrong not in caplog.text and PASSWORD not in caplog.text
    assert wrong not in str(raised.value) and raised.value.__cause__ is None


def test_an_unreachable_server_is_retried_three_times_then_raised(
    ftps: FTPSServer, tmp_path: Path, recorded_retry: RecordedRetry
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    link = transport(channel(ftps, port=closed_port), tmp_path, recorded_retry)

    with pytest.raises(RetryableTransportError, match="ConnectionRefusedError"):
        link.list_new()
    assert recorded_retry.waits == [0.01, 0.02, 0.04]


def test_fetching_a_vanished_file_is_terminal(
    ftps: FTPSServer, tmp_path: Path, recorded_retry: RecordedRetry
) -> None:
    link = transport(channel(ftps), tmp_path, recorded_retry)
    gone = RemoteFile(name="gone.csv", size=1, ref="/outbound/gone.csv")

    with pytest.raises(TerminalTransportError, match="550"):
        link.fetch(gone)
