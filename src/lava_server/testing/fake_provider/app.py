"""The fake provider's app: recording, credentials and controls, then the family's handler."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lava_server.testing.fake_provider import anthropic, elevenlabs, gemini, openai
from lava_server.testing.fake_provider.controls import parse_controls
from lava_server.testing.fake_provider.recording import RequestLog
from lava_server.testing.fake_provider.routes import MISSING_KEY_MESSAGES, find_key, resolve
from lava_server.testing.fake_provider.wire import JSON, Sender, install_log_filter, json_response

_ERRORS: dict[str, Callable[[int, str | None], Response]] = {
    "openai": openai.error,
    "anthropic": anthropic.error,
    "gemini": gemini.error,
    "elevenlabs": elevenlabs.error,
}
_MODEL_LISTS: dict[str, Callable[[], Response]] = {
    "openai": openai.models,
    "anthropic": anthropic.models,
    "gemini": gemini.models,
}


class FakeProvider:
    """The fake provider's configuration, recorded requests and handlers.

    ``create_fake_provider_app`` builds one and exposes it as ``app.state.fake_provider``, so
    in-process tests can read :attr:`requests` without going through ``GET /_fake/requests``.
    """

    def __init__(
        self, *, latency_ms: float = 0, chunk_delay_ms: float = 0, max_recorded: int = 1000
    ) -> None:
        self.latency = max(0.0, latency_ms) / 1000
        self._send = Sender(max(0.0, chunk_delay_ms) / 1000)
        self._log = RequestLog(max_recorded)

    @property
    def chunk_delay(self) -> float:
        return self._send.chunk_delay

    @property
    def requests(self) -> list[JSON]:
        """The recorded requests, oldest first."""
        return self._log.requests

    def clear(self) -> None:
        self._log.clear()

    async def list_requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.clear()
            return Response(status_code=204)
        return json_response(200, {"object": "list", "data": self.requests})

    async def health(self, request: Request) -> Response:
        return json_response(200, {"ok": True})

    async def dispatch(self, request: Request) -> Response:
        scope = request.scope
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path: str = scope["path"]
        query: str = scope["query_string"].decode("latin-1")
        endpoint = resolve(request.method, path, headers)
        raw = await request.body()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        key = find_key(endpoint.family, headers, request) if endpoint else None
        self._log.record(request.method, path, query, headers, raw, body, endpoint, key)

        if endpoint is None:
            return json_response(
                404, openai.error_body(404, f"Unknown route {request.method} {path}")
            )

        text = raw.decode("utf-8", "replace") if b"fake-" in raw else ""
        controls = parse_controls(text, path, query)
        delay = self.latency + controls.slow_seconds
        if delay > 0:
            await asyncio.sleep(delay)

        family = endpoint.family
        error = _ERRORS[family]
        if key is None:
            return error(401, MISSING_KEY_MESSAGES[family])
        if controls.error_status is not None:
            return error(controls.error_status, None)
        if endpoint.kind == "models":
            return _MODEL_LISTS[family]()
        if not isinstance(body, dict):
            return error(400, "The request body must be a JSON object.")

        if endpoint.kind == "chat":
            return openai.chat(body, controls, self._send)
        if endpoint.kind == "responses":
            return openai.responses(body, controls, self._send)
        if endpoint.kind == "embeddings":
            return openai.embeddings(body, controls)
        if endpoint.kind == "speech":
            return openai.speech(body)
        if endpoint.kind == "messages":
            return anthropic.messages(body, controls, self._send)
        if endpoint.kind == "tts":
            return elevenlabs.text_to_speech(body)
        model = endpoint.model or ""
        sse = request.query_params.get("alt") == "sse"
        return gemini.generate_content(
            model, body, controls, self._send, stream=endpoint.kind != "generateContent", sse=sse
        )


def create_fake_provider_app(
    latency_ms: float = 0, *, chunk_delay_ms: float = 0, max_recorded: int = 1000
) -> Starlette:
    """The fake provider as an ASGI app (see the package docstring for routes and controls).

    ``latency_ms`` is slept before the first byte of each provider answer, ``chunk_delay_ms``
    between stream chunks; the last ``max_recorded`` requests are kept for
    ``GET /_fake/requests``. The :class:`FakeProvider` is ``app.state.fake_provider``.
    """
    install_log_filter()
    provider = FakeProvider(
        latency_ms=latency_ms, chunk_delay_ms=chunk_delay_ms, max_recorded=max_recorded
    )
    app = Starlette(
        routes=[
            Route("/_fake/requests", provider.list_requests, methods=["GET", "DELETE"]),
            Route("/_fake/health", provider.health, methods=["GET"]),
            Route("/{path:path}", provider.dispatch, methods=["GET", "POST"]),
        ]
    )
    app.state.fake_provider = provider
    return app


def run(
    host: str = "127.0.0.1",
    port: int = 9100,
    latency_ms: float = 0,
    *,
    chunk_delay_ms: float = 0,
    log_level: str = "warning",
) -> None:
    """Serve the fake provider with uvicorn until interrupted."""
    import uvicorn

    app = create_fake_provider_app(latency_ms, chunk_delay_ms=chunk_delay_ms)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
