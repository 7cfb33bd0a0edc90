"""SFTP transport against a real SSH server on loopback: host keys checked, keys only."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import asyncssh
import pytest
from servers.retry import RecordedRetry
from servers.sftp import USER, ClientKey, SFTPServer

from leadpipe.tenant import Channel
from tasks.transports import TerminalTransportError, Transport, transport_for
from tasks.transports.sftp import load_private_key

pytest_plugins = ["servers.sftp", "servers.retry"]

KEY_ENV = "TEST_SUMMIT_SFTP_KEY"


@pytest.fixture
def sftp(sftp_server: SFTPServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SFTPServer:
    sftp_server.reset()
    monkeypatch.setenv(KEY_ENV, sftp_server.keys["ed25519-openssh"].private_text)
    monkeypatch.setenv("LEADPIPE_HOME", str(tmp_path / "home"))
    return sftp_server


def write_known_hosts(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "home" / "ssh" / "known_hosts"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def channel(server: SFTPServer, *, user: str = USER) -> Channel:
    # known_hosts is relative, so it is looked up under LEADPIPE_HOME as in the demo tenant.
    return Channel(
        kind="sftp", host=server.host, port=server.port, folder="/drop", username=user,
        private_key={"env": KEY_ENV}, known_hosts="ssh/known_hosts",
    )


def transport(server: SFTPServer, tmp_path: Path, retry: RecordedRetry) -> Transport:
    return transport_for(channel(server), "summit_sftp", tmp_path / "state", retry=retry.policy)


def put(server: SFTPServer, name: str, data: bytes, mtime: int) -> None:
    path = server.drop / name
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


def test_list_fetch_and_mark_processed_round_trip(
    sftp: SFTPServer, tmp_path: Path, recorded_retry: RecordedRetry
) -> None:
    write_known_hosts(tmp_path, sftp.known_hosts_line)
    put(sftp, "SUMMIT_MORTGAGE_112126.csv", b"REC_NO\n2\n", 1_795_000_000)
    put(sftp, "summit_deliv_20261120.zip", os.urandom(300_000), 1_794_900_000)
    (sftp.drop / "subfolder").mkdir()
    link = transport(sftp, tmp_path, recorded_retry)

    files = link.list_new()

    assert [(f.name, f.size) for f in files] == [
        ("summit_deliv_20261120.zip", 300_000), ("SUMMIT_MORTGAGE_112126.csv", 9),
    ]
    assert files[0].modified is not None and files[0].modified.timestamp() == 1_794_900_000
    assert link.fetch(files[0]) == (sftp.drop / "summit_deliv_20261120.zip").read_bytes()
    assert link.fetch(files[1]) == b"REC_NO\n2\n"
    for file in files:
        link.mark_processed(file)
    assert sorted(p.name for p in (sftp.drop / "processed").iterdir()) == sorted(
        f.name for f in files)
    assert link.list_new() == []
    assert recorded_retry.waits == []


@pytest.mark.parametrize(
    "label", ["ed25519-openssh", "rsa-pkcs1-pem", "rsa-openssh", "ecdsa-pkcs8-pem"]
)
def test_every_key_type_and_form_authenticates(
    sftp: SFTPServer, tmp_path: Path, recorded_retry: RecordedRetry,
    monkeypatch: pytest.MonkeyPatch, label: str,
) -> None:
    write_known_hosts(tmp_path, sftp.known_hosts_line)
    monkeypatch.setenv(KEY_ENV, sftp.keys[label].private_text)
    put(sftp, "dispositions_20261120.csv", b"call_id\n", 1_794_900_000)

    [file] = transport(sftp, tmp_path, recorded_retry).list_new()

    assert file.name == "dispositions_20261120.csv"


def test_a_key_kept_with_escaped_newlines_still_loads(
    sftp_client_keys: dict[str, ClientKey],
) -> None:
    text = sftp_client_keys["rsa-pkcs1-pem"].private_text
    assert load_private_key(text.replace("\n", "\\n")).get_name() == "ssh-rsa"


def test_an_unknown_host_key_is_refused_and_known_hosts_left_alone(
    sftp: SFTPServer, tmp_path: Path, recorded_retry: RecordedRetry
) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode()
    before = f"other.example.com {' '.join(other.split()[:2])}\n"
    path = write_known_hosts(tmp_path, before)

    with pytest.raises(TerminalTransportError, match="not in known_hosts"):
        transport(sftp, tmp_path, recorded_retry).list_new()

    assert path.read_text() == before
    assert recorded_retry.waits == []


def test_a_changed_host_key_is_refused(
    sftp: SFTPServer, tmp_path: Path, recorded_retry: RecordedRetry
) -> None:
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode()
    write_known_hosts(tmp_path, f"[{sftp.host}]:{sftp.port} {' '.join(impostor.split()[:2])}\n")

    with pytest.raises(TerminalTransportError, match="does not match known_hosts"):
        transport(sftp, tmp_path, recorded_retry).list_new()


def test_an_unauthorized_key_is_terminal_and_never_logged(
    sftp: SFTPServer, tmp_path: Path, recorded_retry: RecordedRetry,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    write_known_hosts(tmp_path, sftp.known_hosts_line)
    stranger = asyncssh.generate_private_key("ssh-ed25519").export_private_key("openssh").decode()
    monkeypatch.setenv(KEY_ENV, stranger)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(TerminalTransportError, match="authentication refused") as raised:
        transport(sftp, tmp_path, recorded_retry).list_new()

    body = "".join(stranger.splitlines()[1:-1])
    for secret_part in (stranger, body, body[20:60]):
        assert secret_part not in caplog.text
        assert secret_part not in str(raised.value)
    assert raised.value.__cause__ is None and recorded_retry.waits == []


def test_a_read_only_account_remembers_processed_files_in_state(
    sftp: SFTPServer, tmp_path: Path, recorded_retry: RecordedRetry
) -> None:
    write_known_hosts(tmp_path, sftp.known_hosts_line)
    put(sftp, "SUMMIT_MORTGAGE_112026.csv", b"x\n", 1_794_900_000)
    sftp.read_only = True
    link = transport(sftp, tmp_path, recorded_retry)

    [file] = link.list_new()
    link.mark_processed(file)

    assert (sftp.drop / "SUMMIT_MORTGAGE_112026.csv").exists()
    assert transport(sftp, tmp_path, recorded_retry).list_new() == []


def test_a_missing_folder_is_terminal(
    sftp: SFTPServer, tmp_path: Path, recorded_retry: RecordedRetry
) -> None:
    write_known_hosts(tmp_path, sftp.known_hosts_line)
    (sftp.drop).rmdir()

    with pytest.raises(TerminalTransportError, match="list on"):
        transport(sftp, tmp_path, recorded_retry).list_new()
    assert recorded_retry.waits == []
