"""`/v1/rewrite/{format}/{provider URL}`: a forward call whose client speaks another API shape
than the provider (`docs/forward-proxy.md#rewrite`).

The call is a forward call in every other way: the request is translated into the provider's
shape and handed to the forward proxy (`proxy.routes.ForwardProxy`) with the provider URL as its
`u`, so the token, the provider key, the hold, the relay, the usage read from the provider's own
answer and the settlement are the forward proxy's, done once. Only the answer's bytes are
translated on their way to the client. Errors pass unchanged: ours are in the API's error shape,
the provider's keep their status (both clients raise on the status).
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

import orjson
from starlette.types import Message, Receive, Scope, Send

from lava_server.api.context import read_body, replaying
from lava_server.errors import (
    ApiError,
    InvalidRequest,
    MethodNotAllowed,
    UpstreamError,
    error_response,
    note_failed_auth,
)
from lava_server.proxy.credentials import find_token
from lava_server.proxy.rewrite.request import (
    JSON,
    Translated,
    anthropic_to_openai,
    openai_to_anthropic,
)
from lava_server.proxy.rewrite.response import (
    anthropic_message_to_openai,
    openai_completion_to_anthropic,
)
from lava_server.proxy.rewrite.stream import AnthropicToOpenAIStream, OpenAIToAnthropicStream
from lava_server.proxy.rewrite.target import RewriteTarget, parse_rewrite_path
from lava_server.proxy.routes import FORWARD_PATH, AbortConnection, ForwardProxy
from lava_server.proxy.upstream import UpstreamURLError, split_forward_query
from lava_server.untrusted import UntrustedJSONError, parse_json

REWRITE_PATH: Final = "/v1/rewrite"
_PREFIX: Final = len(REWRITE_PATH) + 1  # and its "/"
ANTHROPIC_VERSION: Final = b"2023-06-01"
_DROP_HEADERS: Final = frozenset({b"content-length", b"content-type"})
# The other shape's protocol headers are not sent to a provider that does not speak it.
_SHAPE_HEADERS: Final = {
    "openai": frozenset({b"anthropic-version", b"anthropic-beta"}),
    "anthropic": frozenset({b"openai-beta"}),
}


class RewriteProxy:
    """The `/v1/rewrite/` endpoint, on top of the forward proxy of the same process."""

    def __init__(self, forward: ForwardProxy) -> None:
        self.forward = forward

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._rewrite(scope, receive, send)
        except ApiError as error:
            note_failed_auth(scope, error)
            response = error_response(
                error.status, error.code, error.message, error.param, error.headers
            )
            await response(scope, receive, send)

    async def _rewrite(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            raise MethodNotAllowed(
                "Only POST is allowed on rewrite/{format}/{url}.", headers={"allow": "POST"}
            )
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        target = parse_rewrite_path(raw_path[_PREFIX:].decode("latin-1"))
        require_credential(scope)
        body = await read_body(receive)
        if body is None:
            return  # the client left before sending its request
        await self.relay(scope, receive, send, target, body)

    async def relay(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        target: RewriteTarget,
        body: bytes,
        value: JSON | None = None,
    ) -> None:
        """Hand the call to the forward proxy with `target.url` as its `u`, translated both ways
        when the client's shape is not the provider's. `body`: the client's request, already
        read; `value`: that body parsed, when the caller has done so. The client's headers
        (its credential among them) and query go on as they came. Shared by the rewrite and
        gateway doors."""
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        query: bytes = scope["query_string"]
        out: Send = send
        translating: _TranslatingSend | None = None
        if target.translated:
            translated = _translate_request(target, body, value)
            body = orjson.dumps(translated.body)
            headers = _provider_headers(headers, target)
            translating = _TranslatingSend(send, target, translated)
            out = translating.send
        forward_query = b"u=" + quote(target.url, safe="").encode()
        if query:
            forward_query += b"&" + query
        forward_scope = {
            **scope,
            "path": FORWARD_PATH,
            "raw_path": FORWARD_PATH.encode(),
            "query_string": forward_query,
            "headers": headers,
        }
        try:
            await self.forward(forward_scope, replaying(body, receive), out)
        except AbortConnection:
            if translating is None or translating.started:
                raise  # the client has part of the answer: its connection is dropped
            # A whole answer is translated once complete, so nothing has reached the client.
            raise UpstreamError(
                "The provider's answer broke off before it was complete; the call was billed "
                "for its input (see its request)."
            ) from None


def require_credential(scope: Scope) -> str:
    """The credential the call carries (header or `key=`); 401 when it carries none, before its
    body is read. It is checked by the forward proxy."""
    query: bytes = scope["query_string"]
    try:
        query_key = split_forward_query(query.decode("latin-1")).key
    except UpstreamURLError as error:
        raise InvalidRequest(error.message, param=error.param) from None
    return find_token(dict(scope["headers"]), query_key)


def _translate_request(target: RewriteTarget, body: bytes, value: JSON | None) -> Translated:
    if value is None:
        value = parse_body(body)
    if not isinstance(value, dict):
        raise InvalidRequest("The request body must be a JSON object.", param="body")
    if target.client == "openai":
        return openai_to_anthropic(value)
    return anthropic_to_openai(value, provider=target.provider_name)


def parse_body(body: bytes) -> JSON | None:
    """The client's body as a JSON object (with the untrusted-input limits), else None."""
    try:
        value = parse_json(body) if body.strip() else None
    except (UntrustedJSONError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _provider_headers(
    headers: list[tuple[bytes, bytes]], target: RewriteTarget
) -> list[tuple[bytes, bytes]]:
    drop = _DROP_HEADERS | _SHAPE_HEADERS[target.provider]
    out = [(name, value) for name, value in headers if name not in drop]
    out.append((b"content-type", b"application/json"))
    if target.provider == "anthropic" and not any(n == b"anthropic-version" for n, _ in out):
        out.append((b"anthropic-version", ANTHROPIC_VERSION))
    return out


class _TranslatingSend:
    """The forward proxy's `send`, translating a 2xx answer into the client's shape: a stream
    event by event, a whole body once complete (with its new length). Anything else (our errors,
    the provider's refusals) passes as it is."""

    def __init__(self, send: Send, target: RewriteTarget, request: Translated) -> None:
        self._send = send
        self._target = target
        self._request = request
        self._mode = "pass"
        self._start: Message | None = None
        self._body: list[bytes] = []
        self._stream: AnthropicToOpenAIStream | OpenAIToAnthropicStream | None = None
        self.started = False  # the client has the start of the answer

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            await self._start_answer(message)
            return
        if message["type"] != "http.response.body" or self._mode == "pass":
            await self._downstream(message)
            return
        chunk: bytes = message.get("body", b"")
        more: bool = message.get("more_body", False)
        if self._stream is not None:
            out = self._stream.feed(chunk) if chunk else b""
            if not more:
                out += self._stream.close()
            if out or not more:
                piece = {"type": "http.response.body", "body": out, "more_body": more}
                await self._downstream(piece)
            return
        if chunk:
            self._body.append(chunk)
        if not more:
            await self._send_whole(b"".join(self._body))

    async def _downstream(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)

    async def _start_answer(self, message: Message) -> None:
        status: int = message["status"]
        raw_headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
        content_type = next((v for n, v in raw_headers if n == b"content-type"), b"")
        if status >= 300:
            self._mode = "pass"
        elif content_type.startswith(b"text/event-stream"):
            self._mode = "stream"
            self._stream = (
                AnthropicToOpenAIStream(include_usage=self._request.include_usage)
                if self._target.client == "openai"
                else OpenAIToAnthropicStream()
            )
            headers = [(n, v) for n, v in raw_headers if n != b"content-length"]
            message = {**message, "headers": headers}
        else:
            self._mode = "whole"
            self._start = message
            return
        await self._downstream(message)

    async def _send_whole(self, body: bytes) -> None:
        assert self._start is not None
        start = self._start
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError:
            answer = None
        if isinstance(answer, dict):
            translated: JSON = (
                anthropic_message_to_openai(answer)
                if self._target.client == "openai"
                else openai_completion_to_anthropic(answer)
            )
            body = orjson.dumps(translated)
        headers = [(n, v) for n, v in start.get("headers", []) if n not in (b"content-length",)]
        headers.append((b"content-length", str(len(body)).encode()))
        await self._downstream({**start, "headers": headers})
        await self._downstream({"type": "http.response.body", "body": body, "more_body": False})
