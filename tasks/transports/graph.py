"""A shared mailbox through Microsoft Graph: attachments of new messages.

Authentication is the client-credentials flow through msal: the app's
client id and secret (a secret reference in the tenant file) buy a token for
`<graph origin>/.default`, cached by msal until it nears expiry. Calls follow
the Graph documentation:

- `GET /users/{mailbox}/mailFolders/inbox/messages` with
  `$filter=receivedDateTime ge {watermark} and hasAttachments eq true` and
  `$orderby=receivedDateTime` (Graph rejects an `$orderby` property that does
  not lead the `$filter` as InefficientFilter), paged by `@odata.nextLink`;
- `GET /users/{mailbox}/messages/{id}/attachments`, keeping
  `#microsoft.graph.fileAttachment` items; one attachment's `contentBytes`
  (base64) through `GET .../attachments/{attachment id}`;
- `POST /users/{mailbox}/messages/{id}/move` with the `destinationId` of the
  processed folder, found by `displayName` at the top level or under Inbox.

Every file attachment is a `RemoteFile`; a message moves once all its file
attachments are marked processed. The channel state keeps a received-time
watermark that only passes messages that are finished, so a file that failed
is offered again next run, and the attachments already done of a message that
could not be moved, so they are not offered twice.
"""

from __future__ import annotations

import base64
import functools
import logging
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import httpx
import msal
import requests

from leadpipe.tenant import Channel
from tasks.transports.base import RemoteFile, home_path
from tasks.transports.errors import (
    RetryableTransportError,
    TerminalTransportError,
    from_http_status,
)
from tasks.transports.pagination import GRAPH_PAGES
from tasks.transports.retry import RetryPolicy
from tasks.transports.state import ChannelState

log = logging.getLogger(__name__)

LOGIN_HOST = "https://login.microsoftonline.com"
FILE_ATTACHMENT = "#microsoft.graph.fileAttachment"
# Microsoft's own example of a filter that admits every message.
EARLIEST = "1900-01-01T00:00:00Z"
TIMEOUT_S = 30.0
PAGE_SIZE = 50
# Token errors a retry cannot fix (RFC 6749 section 5.2).
_TERMINAL_TOKEN_ERRORS = {
    "invalid_client", "unauthorized_client", "invalid_request", "invalid_scope",
    "invalid_grant", "unsupported_grant_type",
}


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _cert_failure(error: BaseException) -> bool:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


class GraphTransport:
    """File attachments of the messages in a shared mailbox's Inbox."""

    def __init__(
        self,
        channel: Channel,
        name: str,
        state: ChannelState,
        retry: RetryPolicy,
    ) -> None:
        """Set up, without touching the network.

        Args:
            channel: a `graph` channel of the tenant file.
            name: the channel's key; names the state file and log lines.
            state: the channel's state (watermark, pending messages).
            retry: the retry policy for every call, token requests included.
        """
        self.channel = channel
        self.name = name
        self.state = state
        self.retry = retry
        self.graph_url = channel.graph_url.rstrip("/")
        host = channel.authority_host
        self.authority = f"{host.rstrip('/')}/{channel.authority_tenant_id}"
        graph = urlsplit(self.graph_url)
        self.scope = f"{graph.scheme}://{graph.netloc}/.default"
        self.user_url = f"{self.graph_url}/users/{quote(channel.mailbox or '', safe='@')}"
        self.cafile = str(home_path(channel.ca_file)) if channel.ca_file else None
        self._http = httpx.Client(
            verify=ssl.create_default_context(cafile=self.cafile), timeout=TIMEOUT_S
        )
        self._login_session = requests.Session()
        # Per request, because requests lets REQUESTS_CA_BUNDLE override a
        # session-wide `verify`, and the tenant's CA file must win.
        self._login_session.request = functools.partial(  # type: ignore[method-assign]
            self._login_session.request, verify=self.cafile or True, timeout=TIMEOUT_S
        )
        self._app: msal.ConfidentialClientApplication | None = None
        self._folder_id: str | None = None

    def close(self) -> None:
        """Release the HTTP connections (to Graph and to the login host)."""
        self._http.close()
        self._login_session.close()

    # ------------------------------------------------------------------ interface

    def list_new(self) -> list[RemoteFile]:
        """File attachments of Inbox messages from the watermark on, not yet processed."""
        watermark = self.state.get("watermark") or EARLIEST
        done: dict[str, str] = self.state.get("done", {})
        pending: dict[str, dict[str, Any]] = {}
        files: list[RemoteFile] = []
        latest = watermark
        for message in self._messages(watermark):
            received = message["receivedDateTime"]
            latest = max(latest, received, key=_parse)
            refs = self._file_attachments(message["id"])
            todo = [ref for ref in refs if ref not in done]
            if not todo:
                continue
            pending[message["id"]] = {"received": received, "attachments": list(refs)}
            files += [
                RemoteFile(name=refs[ref]["name"], size=refs[ref].get("size"), ref=ref,
                           modified=_parse(received))
                for ref in todo
            ]
        self.state.set("pending", pending)
        self._advance(latest)
        log.info("%s: %d new attachment(s) in %d message(s) since %s",
                 self.name, len(files), len(pending), watermark)
        return files

    def fetch(self, file: RemoteFile) -> bytes:
        """The attachment's bytes, decoded from its `contentBytes`."""
        item = self._call("GET", f"{self.user_url}/{file.ref}", f"fetch {file.name}")
        if item.get("@odata.type") != FILE_ATTACHMENT or "contentBytes" not in item:
            raise TerminalTransportError(f"{self.name}: {file.name} is not a file attachment")
        return base64.b64decode(item["contentBytes"])

    def mark_processed(self, file: RemoteFile) -> None:
        """Record the attachment; once all of a message's are, move it and advance the watermark.

        Raises:
            TerminalTransportError: the processed folder does not exist or the
                app may not move mail; the attachment stays recorded as done.
        """
        message_id = self._message_id(file.ref)
        done: dict[str, str] = self.state.get("done", {})
        received = _iso(file.modified) if file.modified else EARLIEST
        done[file.ref] = received
        self.state.set("done", done)
        pending: dict[str, dict[str, Any]] = self.state.get("pending", {})
        refs = (
            pending[message_id]["attachments"] if message_id in pending
            else list(self._file_attachments(message_id))
        )
        if not all(ref in done for ref in refs):
            return
        self._move(message_id)
        pending.pop(message_id, None)
        self.state.set("pending", pending)
        self.state.set("done", {ref: at for ref, at in done.items() if ref not in refs})
        self._advance(received)

    # ------------------------------------------------------------------ watermark

    def _advance(self, finished: str) -> None:
        """Move the watermark to `finished`, but never past a message still pending."""
        pending: dict[str, dict[str, Any]] = self.state.get("pending", {})
        current = self.state.get("watermark") or EARLIEST
        target = max(current, finished, key=_parse)
        if pending:
            target = min(target, *(p["received"] for p in pending.values()), key=_parse)
        target = max(current, target, key=_parse)
        self.state.set("watermark", _iso(_parse(target)))
        done: dict[str, str] = self.state.get("done", {})
        kept = {ref: at for ref, at in done.items() if _parse(at) >= _parse(target)}
        if kept != done:
            self.state.set("done", kept)

    # ------------------------------------------------------------------ Graph calls

    def _messages(self, watermark: str) -> list[Mapping[str, Any]]:
        query = urlencode({
            "$filter": f"receivedDateTime ge {watermark} and hasAttachments eq true",
            "$orderby": "receivedDateTime",
            "$select": "id,subject,receivedDateTime,hasAttachments",
            "$top": str(PAGE_SIZE),
        }, quote_via=quote, safe="$,'")
        return list(self._records(
            f"{self.user_url}/mailFolders/inbox/messages?{query}", "list messages"
        ))

    def _records(self, url: str, what: str) -> list[Mapping[str, Any]]:
        return list(GRAPH_PAGES.records(lambda cursor: self._call("GET", cursor or url, what)))

    def _file_attachments(self, message_id: str) -> dict[str, Mapping[str, Any]]:
        """A message's file attachments by ref (item and reference attachments left out)."""
        return {
            self._attachment_ref(message_id, attachment["id"]): attachment
            for attachment in self._records(
                f"{self._message_url(message_id)}/attachments", "list attachments"
            )
            if attachment.get("@odata.type") == FILE_ATTACHMENT
        }

    def _move(self, message_id: str) -> None:
        try:
            self._call("POST", f"{self._message_url(message_id)}/move", "move message",
                       json={"destinationId": self._processed_folder_id()})
        except TerminalTransportError as error:
            if error.status != 404:
                raise
            # A retried move whose first try went through; or a person moved it.
            log.info("%s: message already gone from the inbox", self.name)

    def _processed_folder_id(self) -> str:
        if self._folder_id is None:
            wanted = self.channel.processed_folder or ""
            literal = wanted.replace("'", "''")
            query = urlencode(
                {"$filter": f"displayName eq '{literal}'"}, quote_via=quote, safe="$'"
            )
            for parent in ("mailFolders", "mailFolders/inbox/childFolders"):
                found = self._records(f"{self.user_url}/{parent}?{query}", "find folder")
                if found:
                    self._folder_id = str(found[0]["id"])
                    break
            else:
                raise TerminalTransportError(
                    f"{self.name}: mail folder {wanted!r} not found at the top level "
                    f"or under Inbox of {self.channel.mailbox}"
                )
        return self._folder_id

    def _message_url(self, message_id: str) -> str:
        return f"{self.user_url}/messages/{quote(message_id, safe='')}"

    @staticmethod
    def _attachment_ref(message_id: str, attachment_id: str) -> str:
        return f"messages/{quote(message_id, safe='')}/attachments/{quote(attachment_id, safe='')}"

    @staticmethod
    def _message_id(ref: str) -> str:
        return unquote(ref.split("/")[1])

    def _call(self, method: str, url: str, what: str, **kwargs: Any) -> dict[str, Any]:
        """One Graph request under the retry policy; the parsed JSON body."""
        return self.retry.run(
            lambda: self._send(method, url, f"{self.name}: {what}", **kwargs),
            f"{self.name}: {what}",
        )

    def _send(self, method: str, url: str, what: str, **kwargs: Any) -> dict[str, Any]:
        if urlsplit(url).netloc != urlsplit(self.graph_url).netloc:
            raise TerminalTransportError(f"{what}: refusing to send the token to {url}")
        headers = {"Authorization": f"Bearer {self._token()}"}
        try:
            response = self._http.request(method, url, headers=headers, **kwargs)
        except httpx.TransportError as error:
            if _cert_failure(error):
                raise TerminalTransportError(f"{what}: Graph certificate not trusted") from None
            raise RetryableTransportError(f"{what}: {type(error).__name__}: {error}") from None
        if response.status_code >= 400:
            detail = ""
            try:
                body = response.json().get("error", {})
                detail = f"{body.get('code', '')}: {body.get('message', '')}"
            except (ValueError, AttributeError):
                pass
            raise from_http_status(
                response.status_code, what, detail, response.headers.get("Retry-After")
            )
        return response.json() if response.content else {}

    # ------------------------------------------------------------------ token

    def _token(self) -> str:
        """A bearer token for Graph (msal's cached one while it is fresh)."""
        what = f"{self.name}: token from {self.authority}"
        try:
            result = self._client_app().acquire_token_for_client(scopes=[self.scope])
        except requests.exceptions.SSLError:
            raise TerminalTransportError(f"{what}: login host certificate not trusted") from None
        except requests.RequestException as error:
            raise RetryableTransportError(f"{what}: {type(error).__name__}") from None
        if "access_token" in result:
            return str(result["access_token"])
        error = str(result.get("error", "unknown_error"))
        description = str(result.get("error_description", "")).splitlines()[0:1]
        message = f"{what}: {error}" + (f" ({description[0]})" if description else "")
        if error in _TERMINAL_TOKEN_ERRORS:
            raise TerminalTransportError(message)
        raise RetryableTransportError(message)

    def _client_app(self) -> msal.ConfidentialClientApplication:
        """The msal app, made on first use: making it asks the login host for its endpoints."""
        if self._app is None:
            assert self.channel.client_secret is not None, "checked when the tenant file loads"
            try:
                self._app = msal.ConfidentialClientApplication(
                    self.channel.client_id,
                    client_credential=self.channel.client_secret.resolve(),
                    authority=self.authority,
                    # Only Microsoft's own hosts are known to its instance discovery.
                    instance_discovery=None if self.authority.startswith(LOGIN_HOST) else False,
                    http_client=self._login_session,
                )
            except ValueError as error:
                raise TerminalTransportError(
                    f"{self.name}: login host rejected tenant {self.channel.authority_tenant_id}: "
                    f"{str(error).splitlines()[0][:200]}"
                ) from None
        return self._app
