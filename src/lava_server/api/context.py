"""Outermost ASGI middleware: a request id on every answer (a 500 too: a bug is answered here and
logged with it), rate-limit headers, body limits."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lava_server.db.engine import database_unavailable
from lava_server.errors import BodyTooLarge, send_error
from lava_server.ids import new_id
from lava_server.logs import REQUEST_ID
from lava_server.metrics import HTTP_DURATION, HTTP_REQUESTS, cached_children

log = logging.getLogger("lava_server")
access = logging.getLogger("lava_server.access")

REQUEST_ID_HEADER = b"x-lava-request-id"
_TOO_LARGE = "The request body is too large."
MERCHANT_KEY = "merchant"  # the authenticated merchant of a request, in its state (`api.auth`)
ROUTE = "route"  # the route template of a request, in its state (set by `app.HotPaths` too)
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
_requests = cached_children(HTTP_REQUESTS)
_durations = cached_children(HTTP_DURATION)


def route_of(scope: Scope) -> str:
    """The route template that answered (`/v1/connections/{connection_id}`), never the path
    itself: a path nobody serves is `unmatched`, so that no client can grow the series."""
    template = state_of(scope).get(ROUTE)
    if template is not None:
        return str(template)
    route = scope.get("route")
    found = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(found) if found else "unmatched"


def state_of(scope: Scope) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    return state


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        forward_prefix: str | tuple[str, ...],
        max_forward_body_bytes: int,
        log_requests: bool = False,
    ) -> None:
        """Bodies of paths under `forward_prefix` (one or several) may reach
        `max_forward_body_bytes`."""
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.forward_prefix = forward_prefix
        self.max_forward_body_bytes = max_forward_body_bytes
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        state = state_of(scope)
        request_id = state.setdefault("request_id", new_id("req", True))
        REQUEST_ID.set(request_id)
        # Provider calls carry images and documents; management calls never need much.
        forward = scope["path"].startswith(self.forward_prefix)
        limit = self.max_forward_body_bytes if forward else self.max_body_bytes

        started = False
        status = 0  # stays 0 when no answer was sent (the client left first)

        async def send_with_headers(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                rate = state.get("rate_limit")
                if rate is not None:
                    headers.extend(
                        (name.lower().encode(), value.encode())
                        for name, value in rate.headers().items()
                    )
                message["headers"] = headers
            await send(message)

        try:
            await self._answer(
                scope, receive, send_with_headers, limit, request_id, lambda: started
            )
        finally:
            route = route_of(scope)
            method: str = scope["method"]
            if method not in _METHODS:
                method = "other"
            took = time.perf_counter() - began
            _requests(route, method, str(status)).inc()
            _durations(route, method).observe(took)
            if self.log_requests:
                milliseconds = round(took * 1000, 2)
                access.info(
                    "%s %s %s %.2f ms",
                    method,
                    route,
                    status,
                    milliseconds,
                    extra={
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": milliseconds,
                        "merchant": state.get(MERCHANT_KEY),
                    },
                )

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send_with_headers: Send,
        limit: int,
        request_id: str,
        started: Callable[[], bool],
    ) -> None:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                if not value.isdigit() or int(value) > limit:
                    await send_error(send_with_headers, 413, "payload_too_large", _TOO_LARGE)
                    return
                break

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except Exception as error:
            if started():
                raise  # the answer has begun: only dropping the connection can say so
            if database_unavailable(error):  # not a bug: nothing was written, a retry may pass
                log.warning(
                    "database unavailable on %s (request %s): %s",
                    route_of(scope),
                    request_id,
                    error,
                )
                await send_error(
                    send_with_headers,
                    503,
                    "database_unavailable",
                    "The database is unavailable; retry shortly.",
                    headers=[(b"retry-after", b"1")],
                )
                return
            # A bug: answered here, so that the 500 carries its request id, which the log names.
            # The route's template, never the path: a checkout page's path holds its secret.
            method, route = scope["method"], route_of(scope)
            log.exception("unhandled error on %s %s (request %s)", method, route, request_id)
            await send_error(send_with_headers, 500, "internal_error", "Internal server error.")


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body (bounded by `RequestContextMiddleware`); None when the client left
    before sending all of it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        if chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the app a body already read, then whatever comes next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
