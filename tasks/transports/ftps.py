"""FTPS (explicit FTP over TLS) with ftplib: certificate verified, data channel protected.

The control connection is upgraded with AUTH TLS before the password is sent;
the server certificate must chain to the tenant's `ca_file` (the system trust
store when none is given) and match the host name or IP; every data
connection is TLS too (PROT P) and resumes the control connection's TLS
session, which vsftpd, FileZilla and other servers insist on. Passive mode.
Listing uses MLSD and falls back to NLST with SIZE and MDTM for servers
without it (vsftpd). Processed files move to `<folder>/processed/` when the
account may rename and create folders; otherwise they are remembered.
"""

from __future__ import annotations

import ftplib
import io
import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime

from tasks.transports.base import PROCESSED, FolderTransport, MoveRefused, RemoteFile, home_path
from tasks.transports.errors import (
    RetryableTransportError,
    TerminalTransportError,
    TransportError,
    from_network_error,
)

log = logging.getLogger(__name__)

TIMEOUT_S = 30.0


class _FTPS(ftplib.FTP_TLS):
    """FTP_TLS whose data connections resume the control connection's TLS session."""

    def ntransfercmd(self, cmd: str, rest: int | str | None = None) -> tuple[ssl.SSLSocket, int]:
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:  # type: ignore[attr-defined]
            conn = self.context.wrap_socket(
                conn, server_hostname=self.host, session=self.sock.session
            )
        return conn, size


def _mlsd_time(value: str) -> datetime | None:
    try:
        return datetime.strptime(value[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


class FTPSTransport(FolderTransport):
    """A folder on an FTPS server (the harbor partner's channel)."""

    def _context(self) -> ssl.SSLContext:
        cafile = str(home_path(self.channel.ca_file)) if self.channel.ca_file else None
        try:
            return ssl.create_default_context(cafile=cafile)
        except (OSError, ssl.SSLError) as error:
            raise TerminalTransportError(
                f"{self.name}: cannot read CA file {cafile}: {error}"
            ) from None

    @contextmanager
    def _session(self, what: str) -> Iterator[_FTPS]:
        """A logged-in, protected FTPS session; every failure becomes a transport error."""
        where = f"{self.name}: {what} on {self.channel.host}:{self.channel.port or 21}"
        ftp = _FTPS(context=self._context(), timeout=TIMEOUT_S)
        try:
            ftp.connect(self.channel.host or "", self.channel.port or 21)
            try:
                assert self.channel.password is not None, "checked when the tenant file loads"
                ftp.login(self.channel.username or "", self.channel.password.resolve())
            except ftplib.error_perm as refused:
                raise TerminalTransportError(
                    f"{where}: login refused for user {self.channel.username!r} ({refused})"
                ) from None
            ftp.prot_p()
            ftp.set_pasv(True)
            yield ftp
            with suppress(OSError, EOFError, ftplib.Error):
                ftp.quit()
        except TransportError:
            raise
        except ftplib.error_temp as busy:
            raise RetryableTransportError(f"{where}: {busy}") from None
        except ftplib.error_perm as refused:
            raise TerminalTransportError(f"{where}: {refused}") from None
        except (ftplib.error_reply, ftplib.error_proto, EOFError) as odd:
            raise RetryableTransportError(f"{where}: unexpected reply {odd!r}") from None
        except OSError as error:
            raise from_network_error(error, where) from None
        finally:
            ftp.close()

    def _path(self, name: str) -> str:
        return f"{self.folder}/{name}"

    def _list(self) -> list[RemoteFile]:
        with self._session("list") as ftp:
            try:
                return self._list_mlsd(ftp)
            except ftplib.error_perm as refused:
                if not str(refused).startswith(("500", "501", "502")):
                    raise
                return self._list_nlst(ftp)

    def _list_mlsd(self, ftp: _FTPS) -> list[RemoteFile]:
        files = []
        for name, facts in ftp.mlsd(self.folder or "/", facts=["type", "size", "modify"]):
            if facts.get("type", "").lower() != "file":
                continue
            size = facts.get("size")
            files.append(RemoteFile(
                name=name,
                size=int(size) if size and size.isdigit() else None,
                ref=self._path(name),
                modified=_mlsd_time(facts.get("modify", "")),
            ))
        return files

    def _list_nlst(self, ftp: _FTPS) -> list[RemoteFile]:
        """Names, then SIZE and MDTM per name; a name without a size is a folder."""
        entries = ftp.nlst(self.folder or "/")
        ftp.voidcmd("TYPE I")  # SIZE is refused in ASCII mode, which NLST left on
        files = []
        for entry in entries:
            name = entry.rsplit("/", 1)[-1]
            try:
                size = ftp.size(self._path(name))
            except ftplib.error_perm:
                continue
            try:
                stamp = _mlsd_time(ftp.voidcmd(f"MDTM {self._path(name)}").split()[-1])
            except ftplib.error_perm:
                stamp = None
            files.append(RemoteFile(name=name, size=size, ref=self._path(name), modified=stamp))
        return files

    def _read(self, file: RemoteFile) -> bytes:
        buffer = io.BytesIO()
        with self._session(f"fetch {file.name}") as ftp:
            ftp.retrbinary(f"RETR {file.ref}", buffer.write)
        return buffer.getvalue()

    def _move_to_processed(self, file: RemoteFile) -> None:
        with self._session(f"move {file.name}") as ftp:
            target = self._path(PROCESSED)
            # Refused when it exists already or we may not create it; RNTO tells which.
            with suppress(ftplib.error_perm):
                ftp.mkd(target)
            try:
                ftp.rename(file.ref, f"{target}/{file.name}")
            except ftplib.error_perm as refused:
                raise MoveRefused(str(refused)) from None
