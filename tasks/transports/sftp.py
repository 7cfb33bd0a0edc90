"""SFTP with paramiko: host key checked against known_hosts, key authentication.

The server's host key must already be in the tenant's `known_hosts` file
(relative paths are under LEADPIPE_HOME); an unknown key is refused and never
added, and the file is only ever read. The private key is the text of the
channel's secret: Ed25519, ECDSA or RSA, in OpenSSH, PKCS#1 or PKCS#8 PEM
form, unencrypted. Processed files move to `<folder>/processed/` when the
account may rename and create folders; otherwise they are remembered.
"""

from __future__ import annotations

import io
import logging
import socket
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tasks.transports.base import PROCESSED, FolderTransport, MoveRefused, RemoteFile, home_path
from tasks.transports.errors import (
    RetryableTransportError,
    TerminalTransportError,
    TransportError,
    from_network_error,
)

log = logging.getLogger(__name__)

TIMEOUT_S = 30.0
# Any other OSError is an SFTP status (no such file, permission denied): terminal.
_NETWORK_ERRORS = (
    ConnectionError, TimeoutError, socket.gaierror, paramiko.ssh_exception.NoValidConnectionsError
)


class _RefuseUnknownHost(paramiko.RejectPolicy):
    """RejectPolicy that says, as a terminal error, which key was offered."""

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        raise TerminalTransportError(
            f"host key of {hostname} ({key.get_name()} {key.fingerprint}) is not in known_hosts; "
            "add it only after checking the fingerprint with the server's owner"
        )


def load_private_key(text: str) -> paramiko.PKey:
    """A paramiko key from private key text in any common form.

    The key is parsed by `cryptography` and handed to paramiko in the OpenSSH
    form that every paramiko key class reads. Errors never quote the key.

    Raises:
        TerminalTransportError: the text is not an unencrypted private key of a
            supported type.
    """
    data = text.replace("\\n", "\n").strip().encode() + b"\n"
    try:
        try:
            key = serialization.load_ssh_private_key(data, password=None)
        except ValueError:
            key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, serialization.UnsupportedAlgorithm) as error:
        reason = "it is encrypted" if "encrypted" in str(error) else "unreadable"
        raise TerminalTransportError(f"private key: {reason}") from None
    classes: list[tuple[type, type[paramiko.PKey]]] = [
        (ed25519.Ed25519PrivateKey, paramiko.Ed25519Key),
        (rsa.RSAPrivateKey, paramiko.RSAKey),
        (ec.EllipticCurvePrivateKey, paramiko.ECDSAKey),
    ]
    for crypto_class, key_class in classes:
        if isinstance(key, crypto_class):
            openssh = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            ).decode()
            return key_class.from_private_key(io.StringIO(openssh))
    raise TerminalTransportError(f"private key: unsupported type {type(key).__name__}")


class SFTPTransport(FolderTransport):
    """A folder on an SFTP server (the summit partner's and the call center's channels)."""

    @contextmanager
    def _session(self, what: str) -> Iterator[paramiko.SFTPClient]:
        """An authenticated SFTP session; every failure becomes a transport error."""
        host, port = self.channel.host or "", self.channel.port or 22
        where = f"{self.name}: {what} on {host}:{port}"
        assert self.channel.known_hosts and self.channel.private_key, "checked at tenant load"
        known_hosts = home_path(self.channel.known_hosts)
        client = paramiko.SSHClient()
        try:
            # Loaded as data, not through load_host_keys(): the client then has no
            # file name it could ever write newly seen keys back to.
            client.get_host_keys().load(str(known_hosts))
        except OSError as error:
            raise TerminalTransportError(
                f"{where}: cannot read known_hosts {known_hosts}: {error.strerror}"
            ) from None
        client.set_missing_host_key_policy(_RefuseUnknownHost())
        try:
            client.connect(
                host,
                port,
                username=self.channel.username,
                pkey=load_private_key(self.channel.private_key.resolve()),
                look_for_keys=False,
                allow_agent=False,
                timeout=TIMEOUT_S,
                banner_timeout=TIMEOUT_S,
                auth_timeout=TIMEOUT_S,
            )
            sftp = client.open_sftp()
            sftp.get_channel().settimeout(TIMEOUT_S)
            yield sftp
        except TransportError as error:
            raise type(error)(f"{where}: {error}") from None
        except paramiko.BadHostKeyException as error:
            raise TerminalTransportError(
                f"{where}: host key does not match known_hosts (offered "
                f"{error.key.get_name()} {error.key.fingerprint}); possible impostor"
            ) from None
        except paramiko.AuthenticationException:
            raise TerminalTransportError(
                f"{where}: key authentication refused for user {self.channel.username!r}"
            ) from None
        except (paramiko.SSHException, EOFError) as error:
            raise RetryableTransportError(f"{where}: SSH failure: {error}") from None
        except OSError as error:
            if isinstance(error, _NETWORK_ERRORS):
                raise from_network_error(error, where) from None
            raise TerminalTransportError(f"{where}: {error.strerror or error}") from None
        finally:
            client.close()

    def _path(self, name: str) -> str:
        return f"{self.folder}/{name}"

    def _list(self) -> list[RemoteFile]:
        with self._session("list") as sftp:
            return [
                RemoteFile(
                    name=entry.filename,
                    size=entry.st_size,
                    ref=self._path(entry.filename),
                    modified=datetime.fromtimestamp(entry.st_mtime or 0, UTC),
                )
                for entry in sftp.listdir_attr(self.folder or ".")
                if entry.st_mode is not None and stat.S_ISREG(entry.st_mode)
            ]

    def _read(self, file: RemoteFile) -> bytes:
        buffer = io.BytesIO()
        with self._session(f"fetch {file.name}") as sftp:
            sftp.getfo(file.ref, buffer)
        return buffer.getvalue()

    def _move_to_processed(self, file: RemoteFile) -> None:
        with self._session(f"move {file.name}") as sftp:
            target = self._path(PROCESSED)
            # Refused when it exists already or we may not create it; the rename tells which.
            with suppress(OSError):
                sftp.mkdir(target)
            try:
                sftp.posix_rename(file.ref, f"{target}/{file.name}")
            except OSError as refused:
                raise MoveRefused(refused.strerror or str(refused)) from None
