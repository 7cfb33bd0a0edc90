"""Inbound transports: one interface over FTPS, Graph mail, SFTP, S3 and local folders.

A flow gets a channel's transport from `transport_for(channel, name)` and
calls `list_new()`, `fetch(file)` and `mark_processed(file)`; failures are
`RetryableTransportError` or `TerminalTransportError`, already retried by the
one `RetryPolicy`.
"""

from tasks.transports.base import RemoteFile, Transport, transport_for
from tasks.transports.errors import (
    RetryableTransportError,
    TerminalTransportError,
    TransportError,
    is_retryable,
)
from tasks.transports.retry import RetryPolicy

__all__ = [
    "RemoteFile",
    "RetryPolicy",
    "RetryableTransportError",
    "TerminalTransportError",
    "Transport",
    "TransportError",
    "is_retryable",
    "transport_for",
]
