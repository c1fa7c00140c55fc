"""OpenAI: chat completions, the Responses API, embeddings, text to speech and the model list.

The same routes serve the OpenAI-compatible providers (Groq, Fireworks, Gemini's compatible API...).
"""

from __future__ import annotations

import base64
import math
import re
import struct
import time
from functools import lru_cache
from typing import Any

from starlette.responses import Response

from lava_server.testing.fake_provider.controls import MIDSTREAM_AFTER_CHUNKS, Controls
from lava_server.testing.fake_provider.plans import Plan, as_int, fake_audio, plan_answer
from lava_server.testing.fake_provider.tokens import count_input
from lava_server.testing.fake_provider.wire import (
    JSON,
    Sender,
    compact,
    json_response,
    new_id,
    sse,
    sse_event,
)

_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("permission_denied", None, "You are not allowed to sample from this model."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests. Please try again in 1s.",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def error_body(status: int, message: str | None = None) -> JSON:
    kind, code, default = _ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, "Error.")
    )
    return {"error": {"message": message or default, "type": kind, "param": None, "code": code}}


def request_headers() -> dict[str, str]:
    return {"x-request-id": new_id("req_"), "openai-processing-ms": "1"}


def error(status: int, message: str | None = None) -> Response:
    return json_response(status, error_body(status, message), request_headers())


_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "o4-mini", "text-embedding-3-small", "tts-1")


def models() -> Response:
    now = 1_700_000_000
    body = {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": now, "owned_by": "system"} for m in _MODELS
        ],
    }
    return json_response(200, body, request_headers())


_REASONING_RE = re.compile(r"(?:^|/)(?:o\d|gpt-5)")


def _reasoning_model(model: str) -> bool:
    return _REASONING_RE.search(model) is not None


def chat(body: JSON, controls: Controls, send: Sender) -> Response:
    model = body.get("model")
    messages = body.get("messages")
    if not isinstance(model, str) or not model:
        return error(400, "you must provide a model parameter")
    if not isinstance(messages, list) or not messages:
        return error(400, "'messages' must be a non-empty array")
    cap = as_int(body.get("max_completion_tokens"))
    if cap is None:
        cap = as_int(body.get("max_tokens"))
    plan = plan_answer(
        count_input(messages), cap, controls, reasoning_model=_reasoning_model(model)
    )
    finish = "length" if plan.truncated else "stop"
    usage = None if controls.no_usage else _chat_usage(plan)
    ident = new_id("chatcmpl-")
    created = int(time.time())

    if body.get("stream") is not True:
        result: JSON = {
            "id": ident,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": plan.text,
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": finish,
                }
            ],
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }
        if usage is not None:
            result["usage"] = usage
        return send.json(request_headers(), result, controls)

    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    on_last = controls.usage_on_last_chunk

    def chunk(delta: JSON, finish_reason: str | None, last: bool = False) -> bytes:
        obj: JSON = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if last and on_last and usage is not None:
            obj["usage"] = usage
        elif include_usage:
            obj["usage"] = None
        return sse(obj)

    frames = [chunk({"role": "assistant", "content": "", "refusal": None}, None)]
    frames.extend(chunk({"content": piece}, None) for piece in plan.pieces)
    frames.append(chunk({}, finish, last=True))
    if include_usage and not on_last and usage is not None:
        frames.append(
            sse(
                {
                    "id": ident,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "service_tier": "default",
                    "system_fingerprint": "fp_fake",
                    "choices": [],
                    "usage": usage,
                }
            )
        )
    frames.append(b"data: [DONE]\n\n")
    error_frame = sse(error_body(500)) if controls.error_midstream else None
    return send.stream(request_headers(), frames, controls, error_frame)


def responses(body: JSON, controls: Controls, send: Sender) -> Response:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return error(400, "Missing required parameter: 'model'.")
    if "input" not in body and "instructions" not in body:
        return error(400, "Missing required parameter: 'input'.")
    plan = plan_answer(
        count_input(body.get("input")) + count_input(body.get("instructions")),
        as_int(body.get("max_output_tokens")),
        controls,
        reasoning_model=_reasoning_model(model),
    )
    usage = None if controls.no_usage else _responses_usage(plan)
    ident = new_id("resp_")
    message_id = new_id("msg_")
    reasoning_item: JSON | None = (
        {"id": new_id("rs_"), "type": "reasoning", "summary": []} if plan.reasoning else None
    )
    status = "incomplete" if plan.truncated else "completed"
    text_part: JSON = {
        "type": "output_text",
        "text": plan.text,
        "annotations": [],
        "logprobs": [],
    }
    message: JSON = {
        "id": message_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [text_part],
    }
    output = [message] if reasoning_item is None else [reasoning_item, message]
    created = int(time.time())

    def response(state: str, items: list[JSON], with_usage: JSON | None) -> JSON:
        return {
            "id": ident,
            "object": "response",
            "created_at": created,
            "status": state,
            "background": False,
            "error": None,
            "incomplete_details": (
                {"reason": "max_output_tokens"} if state == "incomplete" else None
            ),
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": model,
            "output": items,
            "parallel_tool_calls": True,
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},
            "service_tier": "default",
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": body.get("top_p", 1.0),
            "truncation": "disabled",
            "usage": with_usage,
            "user": None,
            "metadata": body.get("metadata") or {},
        }

    if body.get("stream") is not True:
        return send.json(request_headers(), response(status, output, usage), controls)

    sequence = 0

    def event(kind: str, payload: JSON) -> bytes:
        nonlocal sequence
        payload = {"type": kind, "sequence_number": sequence, **payload}
        sequence += 1
        return sse_event(kind, payload)

    frames = [
        event("response.created", {"response": response("in_progress", [], None)}),
        event("response.in_progress", {"response": response("in_progress", [], None)}),
    ]
    index = 0
    if reasoning_item is not None:
        frames.append(
            event("response.output_item.added", {"output_index": 0, "item": reasoning_item})
        )
        frames.append(
            event("response.output_item.done", {"output_index": 0, "item": reasoning_item})
        )
        index = 1
    where = {"item_id": message_id, "output_index": index, "content_index": 0}
    frames.append(
        event(
            "response.output_item.added",
            {
                "output_index": index,
                "item": {**message, "status": "in_progress", "content": []},
            },
        )
    )
    frames.append(
        event("response.content_part.added", {**where, "part": {**text_part, "text": ""}})
    )
    frames.extend(
        event("response.output_text.delta", {**where, "delta": piece, "logprobs": []})
        for piece in plan.pieces
    )
    frames.append(event("response.output_text.done", {**where, "text": plan.text, "logprobs": []}))
    frames.append(event("response.content_part.done", {**where, "part": text_part}))
    frames.append(event("response.output_item.done", {"output_index": index, "item": message}))
    frames.append(event(f"response.{status}", {"response": response(status, output, usage)}))

    error_frame = None
    if controls.error_midstream:
        failed = response("failed", [], usage)
        failed["error"] = {"code": "server_error", "message": "The model failed to respond."}
        at = min(MIDSTREAM_AFTER_CHUNKS, len(frames) - 1)  # where the Sender puts it
        error_frame = sse_event(
            "response.failed",
            {"type": "response.failed", "sequence_number": at, "response": failed},
        )
    return send.stream(request_headers(), frames, controls, error_frame)


def embeddings(body: JSON, controls: Controls) -> Response:
    model = body.get("model")
    inputs = body.get("input")
    if not isinstance(model, str) or not model:
        return error(400, "you must provide a model parameter")
    if isinstance(inputs, str) or (isinstance(inputs, list) and inputs and type(inputs[0]) is int):
        items: list[Any] = [inputs]
    elif isinstance(inputs, list) and inputs:
        items = inputs
    else:
        return error(400, "'input' must be a string or a non-empty array")
    tokens = max(1, count_input(items))
    dims = as_int(body.get("dimensions")) or (3072 if "large" in model else 1536)
    dims = min(max(dims, 1), 8192)
    fmt = "base64" if body.get("encoding_format") == "base64" else "float"
    vector = _embedding_json(dims, fmt)
    data = ",".join(
        f'{{"object":"embedding","index":{i},"embedding":{vector}}}' for i in range(len(items))
    )
    tail = (
        ""
        if controls.no_usage
        else f',"usage":{{"prompt_tokens":{tokens},"total_tokens":{tokens}}}'
    )
    payload = f'{{"object":"list","data":[{data}],"model":{compact(model)}{tail}}}'
    return Response(payload.encode(), 200, request_headers(), "application/json")


def speech(body: JSON) -> Response:
    text = body.get("input")
    if not isinstance(text, str) or not text:
        return error(400, "Missing required parameter: 'input'.")
    fmt = body.get("response_format", "mp3")
    media = _AUDIO_TYPES.get(fmt if isinstance(fmt, str) else "mp3", "audio/mpeg")
    return Response(fake_audio(len(text)), 200, request_headers(), media)


def _chat_usage(plan: Plan) -> JSON:
    output = plan.output_tokens
    if plan.claimed_output_tokens is not None:
        output = plan.claimed_output_tokens
    return {
        "prompt_tokens": plan.input_tokens,
        "completion_tokens": output,
        "total_tokens": plan.input_tokens + output,
        "prompt_tokens_details": {"cached_tokens": plan.cache_read, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": plan.reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _responses_usage(plan: Plan) -> JSON:
    output = plan.output_tokens
    return {
        "input_tokens": plan.input_tokens,
        "input_tokens_details": {"cached_tokens": plan.cache_read},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": plan.reasoning},
        "total_tokens": plan.input_tokens + output,
    }


@lru_cache(maxsize=16)
def _embedding_json(dims: int, fmt: str) -> str:
    """The JSON of the (same, unit-length) embedding returned for every input."""
    raw = [math.sin(i + 1) for i in range(dims)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    values = [round(x / norm, 6) for x in raw]
    if fmt == "base64":
        packed = struct.pack(f"<{dims}f", *values)
        return '"' + base64.b64encode(packed).decode() + '"'
    return compact(values)


_AUDIO_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
