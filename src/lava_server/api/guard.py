"""The rules of `lava_server.untrusted`, applied to every request before routing.

- A NUL character in the path: 404 (no object has such an id).
- A NUL character in a query parameter: 400 naming the parameter.
- The JSON body of an API route (`/v1/`, the forward proxy apart: it checks what it reads of a
  provider call itself) nested too deeply or holding a NUL: 400 naming the field.

Ordinary bodies pass a byte screen and are never parsed here.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from lava_server.api.context import read_body, replaying
from lava_server.errors import BodyTooLarge, PayloadTooLarge, send_error
from lava_server.untrusted import NUL, UntrustedJSONError, may_break_rules, parse_json

_WITH_BODY = frozenset(("POST", "PUT", "PATCH", "DELETE"))


class InputGuard:
    def __init__(self, app: ASGIApp, *, skip_body_prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.skip_body_prefixes = skip_body_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if NUL in path:
            await send_error(send, 404, "not_found", "No such object.")
            return
        query: bytes = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
                if NUL in name or NUL in value:
                    param = name.replace(NUL, "\\u0000")
                    await send_error(
                        send,
                        400,
                        "invalid_request",
                        f"{param} must not contain NUL characters (%00).",
                        param,
                    )
                    return
        if (
            scope["method"] not in _WITH_BODY
            or not path.startswith("/v1/")
            or path.startswith(self.skip_body_prefixes)
        ):
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive)
        except BodyTooLarge:
            await send_error(send, 413, PayloadTooLarge.code, "The request body is too large.")
            return
        if body is None:
            return  # the client left before sending its request
        if may_break_rules(body):
            try:
                parse_json(body)
            except UntrustedJSONError as problem:
                message = f"{problem.path}: {problem.problem}." if problem.path else None
                await send_error(
                    send,
                    400,
                    "invalid_request",
                    message or f"The request body {problem.problem}.",
                    problem.path or None,
                )
                return
            except ValueError:
                pass  # malformed JSON: the route says so in its own words
        await self.app(scope, replaying(body, receive), send)
