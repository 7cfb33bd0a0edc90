"""An HTTPS stand-in for Entra ID's token endpoint and the Microsoft Graph mail calls.

It answers what the Graph documentation shows for the calls the transport
makes, in the documented shapes (`value`, `@odata.nextLink`, `@odata.type`,
the `{"error": {"code", "message"}}` body):

- `GET /{tenant}/v2.0/.well-known/openid-configuration` and
  `POST /{tenant}/oauth2/v2.0/token` (client credentials; a wrong secret is
  401 `invalid_client`, as Entra ID answers);
- `GET /v1.0/users/{mailbox}/mailFolders` and `.../mailFolders/{id}/childFolders`
  with `$filter=displayName eq '...'`;
- `GET /v1.0/users/{mailbox}/mailFolders/{id}/messages` with `$filter`
  (`and`-ed comparisons), `$orderby` (which must lead the `$filter`, else 400
  InefficientFilter), `$select`, `$top` and `$skip`; pages hold at most
  `page_size` messages, so clients must follow `@odata.nextLink`;
- `GET /v1.0/users/{mailbox}/messages/{id}/attachments[/{attachment id}]`;
- `POST /v1.0/users/{mailbox}/messages/{id}/move` (201 with the moved
  message under a new id, as Graph does).

Every `/v1.0` call without a bearer token it issued is 401
InvalidAuthenticationToken. `fail_next()` queues error answers (503 with
Retry-After, 429) for throttling tests; `calls` records every request.
"""

from __future__ import annotations

import base64
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from servers.tls import HOST, ServerCertificate

TENANT_ID = "00000000-0000-0000-0000-000000000000"
CLIENT_ID = "11111111-1111-1111-1111-111111111111"
CLIENT_SECRET = "graph-client-secret-for-tests-only"
MAILBOX = "partners@leadpipe.example"
FILE_ATTACHMENT = "#microsoft.graph.fileAttachment"
ITEM_ATTACHMENT = "#microsoft.graph.itemAttachment"


def _new_id() -> str:
    # Graph ids are URL-safe base64 and often end in '='; keep that, it needs quoting.
    return "AAMk" + secrets.token_urlsafe(24) + "="


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"code": code, "message": message,
                      "innerError": {"request-id": secrets.token_hex(8)}}}
    return JSONResponse(body, status_code=status, headers=headers)


@dataclass
class Attachment:
    """A file or item attachment of a message."""

    name: str
    content: bytes = b""
    kind: str = FILE_ATTACHMENT
    id: str = field(default_factory=_new_id)

    def json(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "@odata.type": self.kind, "id": self.id, "name": self.name,
            "lastModifiedDateTime": "2026-11-20T07:00:00Z", "isInline": False,
            "size": len(self.content) + 312,  # the stored size carries MIME overhead
        }
        if self.kind == FILE_ATTACHMENT:
            item |= {"contentType": "application/octet-stream", "contentId": None,
                     "contentLocation": None,
                     "contentBytes": base64.b64encode(self.content).decode()}
        return item


@dataclass
class Message:
    """A message in some folder of the mailbox."""

    received: str
    attachments: list[Attachment]
    folder_id: str
    subject: str = "Daily files"
    id: str = field(default_factory=_new_id)

    def json(self) -> dict[str, Any]:
        return {
            "@odata.etag": f'W/"{secrets.token_hex(6)}"', "id": self.id,
            "subject": self.subject, "receivedDateTime": self.received,
            "hasAttachments": bool(self.attachments), "parentFolderId": self.folder_id,
            "isRead": False,
        }


@dataclass
class GraphStandIn:
    """The stand-in's mailbox and controls; `base_url` is its origin."""

    base_url: str = ""
    page_size: int = 2
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, Message] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    calls: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    _failures: list[tuple[str, int, dict[str, str]]] = field(default_factory=list)

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/v1.0"

    def reset(self, processed_under_inbox: bool = False) -> None:
        """An Inbox and a Processed folder (at the top level or under Inbox), no mail."""
        self.messages.clear()
        self.tokens.clear()
        self.calls.clear()
        self._failures.clear()
        self.folders = {"inbox": {"id": _new_id(), "displayName": "Inbox", "parent": "root"}}
        inbox = self.folders["inbox"]["id"]
        self.folders["processed"] = {"id": _new_id(), "displayName": "Processed",
                                     "parent": inbox if processed_under_inbox else "root"}

    def folder_id(self, key: str) -> str:
        return str(self.folders[key]["id"])

    def deliver(self, received: str, *attachments: Attachment, subject: str = "Daily files",
                folder: str = "inbox") -> Message:
        """Put a message into a folder (the Inbox by default)."""
        message = Message(received, list(attachments), self.folder_id(folder), subject)
        self.messages[message.id] = message
        return message

    def in_folder(self, key: str) -> list[Message]:
        return [m for m in self.messages.values() if m.folder_id == self.folder_id(key)]

    def fail_next(self, path_part: str, status: int, retry_after: str | None = None) -> None:
        """Answer the next request whose path contains `path_part` with an error."""
        headers = {"Retry-After": retry_after} if retry_after else {}
        self._failures.append((path_part, status, headers))

    # ------------------------------------------------------------------ app

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/{tenant}/v2.0/.well-known/openid-configuration", self._openid),
            Route("/{tenant}/oauth2/v2.0/token", self._token, methods=["POST"]),
            Route("/v1.0/users/{user}/mailFolders", self._folders),
            Route("/v1.0/users/{user}/mailFolders/{folder}/childFolders", self._folders),
            Route("/v1.0/users/{user}/mailFolders/{folder}/messages", self._list_messages),
            Route("/v1.0/users/{user}/messages/{message}/attachments", self._attachments),
            Route("/v1.0/users/{user}/messages/{message}/attachments/{attachment}",
                  self._attachments),
            Route("/v1.0/users/{user}/messages/{message}/move", self._move, methods=["POST"]),
        ])

    async def _openid(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if tenant != TENANT_ID:
            return JSONResponse({"error": "invalid_tenant"}, status_code=400)
        root = f"{self.base_url}/{tenant}"
        return JSONResponse({
            "issuer": f"{root}/v2.0", "token_endpoint": f"{root}/oauth2/v2.0/token",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "token_endpoint_auth_methods_supported": ["client_secret_post",
                                                      "client_secret_basic"],
        })

    async def _token(self, request: Request) -> Response:
        self.calls.append(("POST", request.url.path, {}))
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode()).items()}
        if request.path_params["tenant"] != TENANT_ID:
            return JSONResponse({"error": "invalid_tenant"}, status_code=400)
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return JSONResponse({
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the "
                                     "secret being sent in the request is the client secret "
                                     "value, not the client secret ID.",
                "error_codes": [7000215],
            }, status_code=401)
        if form.get("scope") != f"{self.base_url}/.default":
            return JSONResponse({"error": "invalid_scope"}, status_code=400)
        token = secrets.token_urlsafe(32)
        self.tokens.add(token)
        return JSONResponse({"token_type": "Bearer", "expires_in": 3599,
                             "ext_expires_in": 3599, "access_token": token})

    def _guard(self, request: Request) -> Response | None:
        """401 without a token we issued; a queued failure; else None."""
        self.calls.append((request.method, request.url.path, dict(request.query_params)))
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or header[7:] not in self.tokens:
            message = "Access token is empty." if not header else "Access token validation failure."
            return _error(401, "InvalidAuthenticationToken", message)
        if request.path_params.get("user") != MAILBOX:
            return _error(404, "ErrorInvalidUser", "The requested user is invalid.")
        for index, (path_part, status, headers) in enumerate(self._failures):
            if path_part in request.url.path:
                del self._failures[index]
                code = "TooManyRequests" if status == 429 else "ServiceUnavailable"
                return _error(status, code, "Try again later.", headers)
        return None

    def _resolve_folder(self, name: str) -> str | None:
        if name.lower() in self.folders:
            return self.folder_id(name.lower())
        known = {f["id"] for f in self.folders.values()}
        return name if name in known else None

    async def _folders(self, request: Request) -> Response:
        if (refused := self._guard(request)) is not None:
            return refused
        parent = "root"
        if "folder" in request.path_params:
            parent_id = self._resolve_folder(request.path_params["folder"])
            if parent_id is None:
                return _error(404, "ErrorItemNotFound", "The specified object was not found.")
            parent = parent_id
        clauses = _parse_filter(request.query_params.get("$filter", ""))
        found = [
            {"id": f["id"], "displayName": f["displayName"], "parentFolderId": f["parent"],
             "childFolderCount": 0, "unreadItemCount": 0, "totalItemCount": 0,
             "isHidden": False}
            for f in self.folders.values()
            if f["parent"] == parent and _matches(
                {"displayName": f["displayName"]}, clauses)
        ]
        return JSONResponse({"@odata.context": f"{self.graph_url}/$metadata#mailFolders",
                             "value": found})

    async def _list_messages(self, request: Request) -> Response:
        if (refused := self._guard(request)) is not None:
            return refused
        folder_id = self._resolve_folder(request.path_params["folder"])
        if folder_id is None:
            return _error(404, "ErrorItemNotFound", "The specified object was not found.")
        query = request.query_params
        clauses = _parse_filter(query.get("$filter", ""))
        order = query.get("$orderby", "")
        order_field, _, direction = order.partition(" ")
        if order and clauses and clauses[0][0] != order_field:
            return _error(400, "InefficientFilter",
                          "The restriction or sort order is too complex for this operation.")
        found = [
            m.json() for m in self.messages.values()
            if m.folder_id == folder_id and _matches(m.json(), clauses)
        ]
        if order_field:
            found.sort(key=lambda m: m[order_field], reverse=direction.lower() == "desc")
        skip, top = int(query.get("$skip", "0")), int(query.get("$top", "10"))
        page = found[skip:skip + min(top, self.page_size)]
        if "$select" in query:
            chosen = {"id", "@odata.etag", *query["$select"].split(",")}
            page = [{k: v for k, v in m.items() if k in chosen} for m in page]
        body: dict[str, Any] = {"@odata.context": f"{self.graph_url}/$metadata#messages",
                                "value": page}
        if skip + len(page) < len(found):
            rest = {k: v for k, v in query.items() if k != "$skip"}
            rest["$skip"] = str(skip + len(page))
            body["@odata.nextLink"] = (
                f"{self.base_url}{request.url.path}?"
                f"{urlencode(rest, quote_via=quote, safe='$,')}"
            )
        return JSONResponse(body)

    async def _attachments(self, request: Request) -> Response:
        if (refused := self._guard(request)) is not None:
            return refused
        message = self.messages.get(request.path_params["message"])
        if message is None:
            return _error(404, "ErrorItemNotFound", "The specified object was not found.")
        wanted = request.path_params.get("attachment")
        if wanted is None:
            return JSONResponse({"@odata.context": f"{self.graph_url}/$metadata#attachments",
                                 "value": [a.json() for a in message.attachments]})
        for attachment in message.attachments:
            if attachment.id == wanted:
                return JSONResponse(attachment.json())
        return _error(404, "ErrorItemNotFound", "The specified object was not found.")

    async def _move(self, request: Request) -> Response:
        if (refused := self._guard(request)) is not None:
            return refused
        message = self.messages.pop(request.path_params["message"], None)
        if message is None:
            return _error(404, "ErrorItemNotFound", "The specified object was not found.")
        destination = self._resolve_folder(str((await request.json()).get("destinationId", "")))
        if destination is None:
            self.messages[message.id] = message
            return _error(400, "ErrorInvalidIdMalformed", "Id is malformed.")
        message.folder_id, message.id = destination, _new_id()
        self.messages[message.id] = message
        return JSONResponse(message.json(), status_code=201)


_CLAUSE = re.compile(r"^\s*(\w+)\s+(eq|ne|ge|gt|le|lt)\s+(.+?)\s*$")


def _literal(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("''", "'")
    return datetime.fromisoformat(text)


def _parse_filter(text: str) -> list[tuple[str, str, Any]]:
    """`a eq 1 and b ge 2` as [(a, eq, 1), (b, ge, 2)]; only what the transport sends."""
    if not text:
        return []
    clauses = []
    for part in re.split(r"\s+and\s+", text):
        match = _CLAUSE.match(part)
        if match is None:
            raise ValueError(f"unsupported $filter clause {part!r}")
        clauses.append((match[1], match[2], _literal(match[3])))
    return clauses


def _matches(item: dict[str, Any], clauses: list[tuple[str, str, Any]]) -> bool:
    for name, op, wanted in clauses:
        value = item.get(name)
        if isinstance(wanted, datetime):
            value = datetime.fromisoformat(str(value))
        compare = {"eq": value == wanted, "ne": value != wanted}.get(op)
        if compare is None:
            compare = {"ge": value >= wanted, "gt": value > wanted,
                       "le": value <= wanted, "lt": value < wanted}[op]
        if not compare:
            return False
    return True


@contextmanager
def serve_graph(cert: ServerCertificate) -> Iterator[GraphStandIn]:
    """Run the stand-in over HTTPS on a free loopback port until the block ends."""
    standin = GraphStandIn()
    standin.reset()
    sock = socket.socket()
    sock.bind((HOST, 0))
    standin.base_url = f"https://{HOST}:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        standin.app(), ssl_certfile=str(cert.cert_file), ssl_keyfile=str(cert.key_file),
        log_level="warning", lifespan="off", timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="graph-standin", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the Graph stand-in did not start")
        time.sleep(0.02)
    try:
        yield standin
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def graph_server(server_certificate: ServerCertificate) -> Iterator[GraphStandIn]:
    """The Graph stand-in for the module; each test calls `reset()` for an empty mailbox."""
    with serve_graph(server_certificate) as standin:
        yield standin
