"""Anthropic: messages, streaming and not, and the model list."""

from __future__ import annotations

from starlette.responses import Response

from lava_server.testing.fake_provider.controls import Controls
from lava_server.testing.fake_provider.plans import as_int, plan_answer
from lava_server.testing.fake_provider.tokens import count_input
from lava_server.testing.fake_provider.wire import JSON, Sender, json_response, new_id, sse_event

_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use this resource."),
    404: ("not_found_error", "Not found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of requests has exceeded your rate limit."),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


def error_body(status: int, message: str | None = None) -> JSON:
    kind, default = _ERRORS.get(
        status, ("api_error" if status >= 500 else "invalid_request_error", "Error.")
    )
    return {
        "type": "error",
        "error": {"type": kind, "message": message or default},
        "request_id": new_id("req_"),
    }


def request_headers() -> dict[str, str]:
    return {"request-id": new_id("req_")}


def error(status: int, message: str | None = None) -> Response:
    return json_response(status, error_body(status, message), request_headers())


_MODELS = ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-5")


def models() -> Response:
    data: list[JSON] = [
        {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
        for m in _MODELS
    ]
    body: JSON = {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"],
        "last_id": data[-1]["id"],
    }
    return json_response(200, body, request_headers())


def messages(body: JSON, controls: Controls, send: Sender) -> Response:
    model = body.get("model")
    messages = body.get("messages")
    cap = as_int(body.get("max_tokens"))
    if not isinstance(model, str) or not model:
        return error(400, "model: Field required")
    if not isinstance(messages, list) or not messages:
        return error(400, "messages: Field required")
    if cap is None:
        return error(400, "max_tokens: Field required")
    plan = plan_answer(
        count_input(messages) + count_input(body.get("system")),
        cap,
        controls,
        reasoning_model=False,
    )
    stop_reason = "max_tokens" if plan.truncated else "end_turn"
    ident = new_id("msg_01")
    uncached = plan.input_tokens - plan.cache_read - plan.cache_write

    def usage(output_tokens: int) -> JSON:
        return {
            "input_tokens": uncached,
            "cache_creation_input_tokens": plan.cache_write,
            "cache_read_input_tokens": plan.cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": plan.cache_write,
                "ephemeral_1h_input_tokens": 0,
            },
            "output_tokens": output_tokens,
            "service_tier": "standard",
        }

    def message(content: list[JSON], stop: str | None, output_tokens: int) -> JSON:
        result: JSON = {
            "id": ident,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
        }
        if not controls.no_usage:
            result["usage"] = usage(output_tokens)
        return result

    if body.get("stream") is not True:
        content = [{"type": "text", "text": plan.text}]
        return send.json(
            request_headers(), message(content, stop_reason, plan.output_tokens), controls
        )

    delta_usage: JSON = {
        "input_tokens": uncached,
        "cache_creation_input_tokens": plan.cache_write,
        "cache_read_input_tokens": plan.cache_read,
        "output_tokens": plan.output_tokens,
    }
    final: JSON = {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
    }
    if not controls.no_usage:
        final["usage"] = delta_usage
    frames = [
        sse_event("message_start", {"type": "message_start", "message": message([], None, 1)}),
        sse_event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        _PING,
    ]
    frames.extend(
        sse_event(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": piece},
            },
        )
        for piece in plan.pieces
    )
    frames.append(sse_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    frames.append(sse_event("message_delta", final))
    frames.append(sse_event("message_stop", {"type": "message_stop"}))
    return send.stream(request_headers(), frames, controls, _STREAM_ERROR)


_PING = sse_event("ping", {"type": "ping"})
_STREAM_ERROR = sse_event(
    "error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
)
