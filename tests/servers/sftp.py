"""An SSH server with its SFTP subsystem on loopback (asyncssh, in a background thread).

The server has a freshly generated Ed25519 host key; `known_hosts_line` is what
an operator would add after checking it. Only user `leadpipe` may log in, with
one of the client keys this module generates (Ed25519, RSA and ECDSA, in the
OpenSSH, PKCS#1 and PKCS#8 forms partners hand out). With `read_only` set the
server refuses mkdir and rename, as a download-only partner account does.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from servers.tls import HOST

USER = "leadpipe"
FOLDER = "/drop"


@dataclass(frozen=True)
class ClientKey:
    """A client key pair: the private key text a tenant secret holds, and the public line."""

    label: str
    private_text: str
    public_line: str


def make_client_keys() -> dict[str, ClientKey]:
    """One key per supported type and form, by label."""
    forms = {
        "ed25519-openssh": ("ssh-ed25519", "openssh"),
        "rsa-pkcs1-pem": ("ssh-rsa", "pkcs1-pem"),
        "rsa-openssh": ("ssh-rsa", "openssh"),
        "ecdsa-pkcs8-pem": ("ecdsa-sha2-nistp256", "pkcs8-pem"),
    }
    keys = {}
    for label, (algorithm, form) in forms.items():
        key = asyncssh.generate_private_key(algorithm)
        keys[label] = ClientKey(
            label=label,
            private_text=key.export_private_key(form).decode(),
            public_line=key.export_public_key("openssh").decode().strip(),
        )
    return keys


class _Server(asyncssh.SSHServer):
    """Key authentication for one user only."""

    def __init__(
        self, authorized: asyncssh.SSHAuthorizedKeys, open_connections: set[Any]
    ) -> None:
        self._authorized = authorized
        self._open = open_connections
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._open.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        self._open.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        if username == USER and self._conn is not None:
            self._conn.set_authorized_keys(self._authorized)
        return True

    def public_key_auth_supported(self) -> bool:
        return True


@dataclass
class SFTPServer:
    """A running SFTP server; `root` is what the client sees as `/`."""

    port: int
    root: Path
    host_key: asyncssh.SSHKey
    keys: dict[str, ClientKey]
    read_only: bool = False
    host: str = HOST

    @property
    def drop(self) -> Path:
        return self.root / FOLDER.strip("/")

    @property
    def known_hosts_line(self) -> str:
        public = self.host_key.export_public_key("openssh").decode().split()
        return f"[{self.host}]:{self.port} {public[0]} {public[1]}\n"

    def reset(self) -> None:
        """An empty drop folder, writable again."""
        shutil.rmtree(self.root, ignore_errors=True)
        self.drop.mkdir(parents=True)
        self.read_only = False


def _sftp_factory(server: SFTPServer) -> Any:
    class _SFTP(asyncssh.SFTPServer):
        def __init__(self, chan: asyncssh.SSHServerChannel) -> None:
            super().__init__(chan, chroot=str(server.root).encode())

        def _refuse_when_read_only(self) -> None:
            if server.read_only:
                raise asyncssh.SFTPPermissionDenied("read-only account")

        def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
            self._refuse_when_read_only()
            super().mkdir(path, attrs)

        def rename(self, oldpath: bytes, newpath: bytes) -> None:
            self._refuse_when_read_only()
            super().rename(oldpath, newpath)

        def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
            self._refuse_when_read_only()
            super().posix_rename(oldpath, newpath)

    return _SFTP


@contextmanager
def serve_sftp(root: Path, keys: dict[str, ClientKey]) -> Iterator[SFTPServer]:
    """Run an SFTP server for `root` on its own event loop thread until the block ends."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sftp-server", daemon=True)
    thread.start()
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    authorized = asyncssh.import_authorized_keys(
        "".join(f"{key.public_line}\n" for key in keys.values())
    )
    running = SFTPServer(port=0, root=root, host_key=host_key, keys=keys)
    connections: set[Any] = set()
    running.reset()

    async def start() -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            HOST, 0,
            server_factory=lambda: _Server(authorized, connections),
            server_host_keys=[host_key],
            sftp_factory=_sftp_factory(running),
            allow_scp=False,
        )

    listener = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
    running.port = listener.get_port()

    async def stop() -> None:
        listener.close()
        await listener.wait_closed()
        for conn in list(connections):
            conn.close()
            await conn.wait_closed()
        # Sessions the clients just left may still be winding down; end them here.
        rest = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    try:
        yield running
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@pytest.fixture(scope="session")
def sftp_client_keys() -> dict[str, ClientKey]:
    """The client keys the SFTP server accepts."""
    return make_client_keys()


@pytest.fixture(scope="module")
def sftp_server(
    tmp_path_factory: pytest.TempPathFactory, sftp_client_keys: dict[str, ClientKey]
) -> Iterator[SFTPServer]:
    """An SFTP server for the module; each test calls `reset()` for a clean drop folder."""
    with serve_sftp(tmp_path_factory.mktemp("sftp-root"), sftp_client_keys) as server:
        yield server
