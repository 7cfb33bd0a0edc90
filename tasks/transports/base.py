"""One interface for every inbound channel: list new files, fetch bytes, mark processed.

A flow asks `transport_for(channel, name)` for the channel's transport and
never needs to know whether the bytes come from FTPS, SFTP, a Graph mailbox,
S3 or a local folder. "New" means "not yet marked processed": folder-like
channels move a processed file into a `processed/` folder beside it, and where
the server does not permit that (a read-only account), the file's name, size
and time are remembered in the channel's state file instead; the Graph mailbox
moves the message to the tenant's processed folder and keeps a watermark.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from leadpipe import settings
from leadpipe.tenant import Channel
from tasks.transports.retry import RetryPolicy
from tasks.transports.state import ChannelState

log = logging.getLogger(__name__)

PROCESSED = "processed"
_EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RemoteFile:
    """A file waiting on a channel.

    Attributes:
        name: the file name it arrived under (the attachment name for mail).
        size: bytes, when the server says.
        ref: where the transport finds it again (a path, an S3 key, the
            attachment's Graph path under the mailbox); opaque to callers.
        modified: last modified, or received for mail; timezone-aware UTC.
    """

    name: str
    size: int | None
    ref: str
    modified: datetime | None = None

    @property
    def identity(self) -> str:
        """Name, size and time: the same name re-sent with other bytes is new again."""
        stamp = self.modified.isoformat() if self.modified else ""
        return f"{self.name}|{self.size}|{stamp}"


@runtime_checkable
class Transport(Protocol):
    """What every channel offers a flow."""

    def list_new(self) -> list[RemoteFile]:
        """Files not yet marked processed, oldest first."""
        ...

    def fetch(self, file: RemoteFile) -> bytes:
        """The whole content of a listed file."""
        ...

    def mark_processed(self, file: RemoteFile) -> None:
        """Make sure the file is not listed again."""
        ...


class MoveRefused(Exception):
    """The server would not let us move a file into `processed/`."""


class FolderTransport:
    """A channel that is a folder of files: FTPS, SFTP, S3 and local.

    Subclasses say how to list, read and move one file; this class adds the
    retry policy and remembers the files the server would not let us move.
    Each operation opens its own connection, so a retry starts clean.
    """

    def __init__(
        self, channel: Channel, name: str, state: ChannelState, retry: RetryPolicy
    ) -> None:
        self.channel = channel
        self.name = name
        self.state = state
        self.retry = retry
        self.folder = (channel.folder or "").rstrip("/")

    def list_new(self) -> list[RemoteFile]:
        """Files in the folder (not in `processed/`, not remembered), oldest first."""
        files = self.retry.run(self._list, f"{self.name}: list {self.folder or '/'}")
        unmovable = set(self.state.get("processed_in_place", []))
        fresh = [f for f in files if f.identity not in unmovable]
        return sorted(fresh, key=lambda f: (f.modified or _EPOCH, f.name))

    def fetch(self, file: RemoteFile) -> bytes:
        """The file's bytes."""
        return self.retry.run(lambda: self._read(file), f"{self.name}: fetch {file.name}")

    def mark_processed(self, file: RemoteFile) -> None:
        """Move the file into `processed/`, or remember it when the server refuses."""
        try:
            self.retry.run(
                lambda: self._move_to_processed(file), f"{self.name}: move {file.name}"
            )
        except MoveRefused as refused:
            log.info(
                "%s: cannot move %s to %s/ (%s); remembering it as processed",
                self.name, file.name, PROCESSED, refused,
            )
            done = self.state.get("processed_in_place", [])
            self.state.set("processed_in_place", [*done, file.identity])

    def _list(self) -> list[RemoteFile]:
        raise NotImplementedError

    def _read(self, file: RemoteFile) -> bytes:
        raise NotImplementedError

    def _move_to_processed(self, file: RemoteFile) -> None:
        raise NotImplementedError


def home_path(value: str) -> Path:
    """A tenant-file path: relative ones are under LEADPIPE_HOME."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else settings.home() / path


def transport_for(
    channel: Channel,
    name: str,
    state_dir: Path | None = None,
    *,
    retry: RetryPolicy | None = None,
) -> Transport:
    """The transport for a tenant channel.

    Args:
        channel: the channel's settings from the tenant file.
        name: the channel's key in the tenant file; names its state file.
        state_dir: where channel state lives (`<LEADPIPE_HOME>/state` by default).
        retry: the retry policy (the standard one by default).
    """
    state = ChannelState.for_channel(name, state_dir)
    policy = retry or RetryPolicy()
    # Imported here so that a flow loads only its own channel's client library.
    if channel.kind == "ftps":
        from tasks.transports.ftps import FTPSTransport

        return FTPSTransport(channel, name, state, policy)
    if channel.kind == "sftp":
        from tasks.transports.sftp import SFTPTransport

        return SFTPTransport(channel, name, state, policy)
    if channel.kind == "graph":
        from tasks.transports.graph import GraphTransport

        return GraphTransport(channel, name, state, policy)
    if channel.kind == "s3":
        from tasks.transports.s3 import S3Transport

        return S3Transport(channel, name, state, policy)
    from tasks.transports.local import LocalTransport

    return LocalTransport(channel, name, state, policy)
