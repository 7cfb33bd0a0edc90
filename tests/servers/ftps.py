"""An explicit FTPS server on loopback: pyftpdlib's FTP with TLS from the standard library.

pyftpdlib's own `TLS_FTPHandler` needs pyOpenSSL; these handlers add the same
commands (AUTH TLS, PBSZ, PROT) on `ssl.SSLContext`, and require TLS on the
control connection before USER/PASS and on every data connection (PROT P),
as a partner's hardened server would. Two accounts share one root:
`leadpipe` may read, rename and create folders, `reader` may only read.
"""

from __future__ import annotations

import shutil
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.exceptions import _RetryError
from pyftpdlib.handlers import DTPHandler, FTPHandler
from pyftpdlib.ioloop import IOLoop
from pyftpdlib.servers import FTPServer

from servers.tls import HOST, ServerCertificate

USER = "leadpipe"
READER = "reader"
PASSWORD = "harbor-ftps-test-password"
FOLDER = "/outbound"


class _TLSConnection:
    """TLS for a pyftpdlib channel: non-blocking handshake, I/O and close_notify.

    Mirrors pyftpdlib's pyOpenSSL mixin: while the TLS layer waits for the
    peer, the channel listens for the event it needs; closing sends
    close_notify and waits for the peer's, which ftplib's `unwrap()` expects.
    """

    _tls_handshaking = False
    _tls_established = False
    _tls_closing = False
    _want_read = False
    _want_write = False

    socket: Any
    ioloop: Any
    _wanted_io_events: int

    def _secure(self, context: ssl.SSLContext) -> None:
        self.socket = context.wrap_socket(
            self.socket, server_side=True, do_handshake_on_connect=False
        )
        self._tls_handshaking = True

    @property
    def _tls(self) -> bool:
        return isinstance(self.socket, ssl.SSLSocket)

    @contextmanager
    def _tls_events(self) -> Iterator[None]:
        """Listen for whatever the TLS layer is waiting for, then for the usual again."""
        yield
        if self._want_read:
            self.modify_ioloop_events(self._wanted_io_events | self.ioloop.READ)
        elif self._want_write:
            self.modify_ioloop_events(self._wanted_io_events | self.ioloop.WRITE)
        else:
            self.modify_ioloop_events(self._wanted_io_events)

    def _tls_step(self) -> None:
        self._want_read = self._want_write = False
        if self._tls_handshaking:
            try:
                self.socket.do_handshake()
            except ssl.SSLWantReadError:
                self._want_read = True
            except ssl.SSLWantWriteError:
                self._want_write = True
            except OSError:
                self._tls_handshaking = False
                self._abandon()
            else:
                self._tls_handshaking = False
                self._tls_established = True
        elif self._tls_closing:
            try:
                self.socket.unwrap()
            except ssl.SSLWantReadError:
                self._want_read = True
                return
            except ssl.SSLWantWriteError:
                self._want_write = True
                return
            except OSError:
                pass
            self._abandon()

    def _abandon(self) -> None:
        self._tls_established = self._tls_closing = False
        super().close()  # type: ignore[misc]

    def readable(self) -> bool:
        # The I/O loop consults these before dispatching an event: a data
        # channel that only sends must still read while TLS needs it.
        busy = self._tls_handshaking or self._tls_closing or self._want_read
        return busy or super().readable()  # type: ignore[misc]

    def writable(self) -> bool:
        return self._want_write or super().writable()  # type: ignore[misc]

    def handle_read_event(self) -> None:
        if self._tls and (self._tls_handshaking or self._tls_closing):
            with self._tls_events():
                self._tls_step()
        else:
            super().handle_read_event()  # type: ignore[misc]

    def handle_write_event(self) -> None:
        if self._tls and (self._tls_handshaking or self._tls_closing):
            with self._tls_events():
                self._tls_step()
        else:
            super().handle_write_event()  # type: ignore[misc]

    def send(self, data: bytes) -> int:
        try:
            return super().send(data)  # type: ignore[misc]
        except ssl.SSLWantReadError:
            self._want_read = True
        except ssl.SSLWantWriteError:
            self._want_write = True
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            self.handle_close()  # type: ignore[attr-defined]
        return 0

    def recv(self, buffer_size: int) -> bytes:
        try:
            return super().recv(buffer_size)  # type: ignore[misc]
        except ssl.SSLWantReadError:
            self._want_read = True
            raise _RetryError from None
        except ssl.SSLWantWriteError:
            self._want_write = True
            raise _RetryError from None
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            self.handle_close()  # type: ignore[attr-defined]
            return b""

    def close(self) -> None:
        if self._tls and self._tls_established and not self._tls_closing:
            self._tls_closing = True
            with self._tls_events():
                self._tls_step()
        elif not self._tls_closing:
            super().close()  # type: ignore[misc]


class TLSDataHandler(_TLSConnection, DTPHandler):
    """A data connection, TLS when the control connection asked for PROT P."""

    def __init__(self, sock: Any, cmd_channel: TLSFTPHandler) -> None:
        super().__init__(sock, cmd_channel)
        if cmd_channel.protected:
            self._secure(cmd_channel.tls_context)

    def use_sendfile(self) -> bool:
        return False


class TLSFTPHandler(_TLSConnection, FTPHandler):
    """A control connection that speaks RFC 4217 (AUTH TLS, PBSZ, PROT)."""

    tls_context: ssl.SSLContext
    dtp_handler = TLSDataHandler
    use_sendfile = False
    proto_cmds: ClassVar[dict[str, dict[str, Any]]] = {
        **FTPHandler.proto_cmds,
        "AUTH": {"perm": None, "auth": False, "arg": True, "help": "AUTH TLS"},
        "PBSZ": {"perm": None, "auth": False, "arg": True, "help": "PBSZ 0"},
        "PROT": {"perm": None, "auth": False, "arg": True, "help": "PROT C|P"},
    }

    def __init__(self, conn: Any, server: Any, ioloop: Any = None) -> None:
        super().__init__(conn, server, ioloop)
        self._extra_feats = ["AUTH TLS", "PBSZ", "PROT"]
        self.buffer_size_set = False
        self.protected = False

    def process_command(self, cmd: str, *args: Any, **kwargs: Any) -> None:
        if cmd in ("USER", "PASS") and not self._tls_established:
            self.respond("550 SSL/TLS required on the control channel.")
            return
        if cmd in ("PASV", "EPSV", "PORT", "EPRT") and not self.protected:
            self.respond("550 SSL/TLS required on the data channel.")
            return
        super().process_command(cmd, *args, **kwargs)

    def ftp_AUTH(self, line: str) -> None:
        if self._tls:
            self.respond("503 Already using TLS.")
        elif line.upper() in ("TLS", "TLS-C", "SSL"):
            self.respond(f"234 AUTH {line.upper()} successful.")
            self._secure(self.tls_context)
        else:
            self.respond("502 Unrecognized encryption type (use TLS).")

    def ftp_PBSZ(self, line: str) -> None:
        if not self._tls:
            self.respond("503 PBSZ not allowed on insecure control connection.")
        else:
            self.buffer_size_set = True
            self.respond("200 PBSZ=0 successful.")

    def ftp_PROT(self, line: str) -> None:
        if not self.buffer_size_set:
            self.respond("503 You must issue the PBSZ command prior to PROT.")
        elif line.upper() == "P":
            self.protected = True
            self.respond("200 Protection set to Private")
        elif line.upper() == "C":
            self.protected = False
            self.respond("200 Protection set to Clear")
        else:
            self.respond("536 PROT level not supported.")


class NoMLSDHandler(TLSFTPHandler):
    """A server without MLSD, like vsftpd: clients must list with NLST, SIZE and MDTM."""

    proto_cmds: ClassVar[dict[str, dict[str, Any]]] = {
        k: v for k, v in TLSFTPHandler.proto_cmds.items() if k not in ("MLSD", "MLST")
    }


@dataclass
class FTPSServer:
    """A running FTPS server; `root` is the served folder, `FOLDER` inside it is the drop."""

    port: int
    root: Path
    ca_file: Path
    password: str = PASSWORD
    host: str = HOST
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def outbound(self) -> Path:
        return self.root / FOLDER.strip("/")

    def reset(self) -> None:
        """An empty drop folder and nothing else."""
        shutil.rmtree(self.root, ignore_errors=True)
        self.outbound.mkdir(parents=True)


@contextmanager
def serve_ftps(
    root: Path, cert: ServerCertificate, handler: type[TLSFTPHandler] = TLSFTPHandler
) -> Iterator[FTPSServer]:
    """Run an FTPS server for `root` in a background thread until the block ends."""
    root.mkdir(parents=True, exist_ok=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert.cert_file, cert.key_file)
    authorizer = DummyAuthorizer()
    authorizer.add_user(USER, PASSWORD, str(root), perm="elradfmw")
    authorizer.add_user(READER, PASSWORD, str(root), perm="elr")
    handler_class = type(handler.__name__, (handler,), {
        "tls_context": context, "authorizer": authorizer, "auth_failed_timeout": 0.1,
    })
    server = FTPServer((HOST, 0), handler_class, ioloop=IOLoop())
    running = FTPSServer(port=server.address[1], root=root, ca_file=cert.ca_file)
    running.reset()

    def loop() -> None:
        while not running._stop.is_set():
            server.ioloop.loop(timeout=0.05, blocking=False)
        server.close_all()

    thread = threading.Thread(target=loop, name="ftps-server", daemon=True)
    thread.start()
    try:
        yield running
    finally:
        running._stop.set()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def ftps_server(
    tmp_path_factory: pytest.TempPathFactory, server_certificate: ServerCertificate
) -> Iterator[FTPSServer]:
    """An FTPS server for the module; each test calls `reset()` for a clean drop folder."""
    with serve_ftps(tmp_path_factory.mktemp("ftps-root"), server_certificate) as server:
        yield server


@pytest.fixture(scope="module")
def ftps_server_without_mlsd(
    tmp_path_factory: pytest.TempPathFactory, server_certificate: ServerCertificate
) -> Iterator[FTPSServer]:
    """An FTPS server that lists only with NLST (as vsftpd does)."""
    root = tmp_path_factory.mktemp("ftps-nomlsd-root")
    with serve_ftps(root, server_certificate, NoMLSDHandler) as server:
        yield server
