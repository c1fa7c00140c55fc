"""Gemini: generateContent, streamGenerateContent (SSE or a streamed JSON array), the model list."""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.responses import Response

from lava_server.testing.fake_provider.controls import Controls
from lava_server.testing.fake_provider.plans import as_int, plan_answer
from lava_server.testing.fake_provider.tokens import count_input
from lava_server.testing.fake_provider.wire import JSON, Sender, json_response

# Google's JSON puts a space after the colon.
_google = json.JSONEncoder(separators=(",", ": "), ensure_ascii=False).encode


def _sse_frame(obj: Any) -> bytes:
    return b"data: " + _google(obj).encode() + b"\r\n\r\n"


_ERRORS: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: ("UNAUTHENTICATED", "Request is missing a valid API key."),
    403: ("PERMISSION_DENIED", "The caller does not have permission."),
    404: ("NOT_FOUND", "Requested entity was not found."),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    500: ("INTERNAL", "An internal error has occurred."),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    504: ("DEADLINE_EXCEEDED", "The request timed out."),
}


def error_body(status: int, message: str | None = None) -> JSON:
    kind, default = _ERRORS.get(
        status, ("INTERNAL" if status >= 500 else "INVALID_ARGUMENT", "Error.")
    )
    return {"error": {"code": status, "message": message or default, "status": kind}}


def error(status: int, message: str | None = None) -> Response:
    return json_response(status, error_body(status, message), {})


_MODELS = ("gemini-2.0-flash", "gemini-2.5-flash", "gemini-2.5-pro")


def models() -> Response:
    body = {
        "models": [
            {
                "name": f"models/{m}",
                "displayName": m,
                "inputTokenLimit": 1_048_576,
                "outputTokenLimit": 65_536,
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            }
            for m in _MODELS
        ]
    }
    return json_response(200, body, {})


def _thinking_model(model: str) -> bool:
    return "thinking" in model or "2.5" in model


def generate_content(
    model: str, body: JSON, controls: Controls, send: Sender, *, stream: bool, sse: bool
) -> Response:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return error(400, "* GenerateContentRequest.contents: contents is not specified")
    config = body.get("generationConfig") or body.get("generation_config")
    cap = None
    if isinstance(config, dict):
        cap = as_int(config.get("maxOutputTokens"))
        if cap is None:
            cap = as_int(config.get("max_output_tokens"))
    system = body.get("systemInstruction") or body.get("system_instruction")
    plan = plan_answer(
        count_input(contents) + count_input(system),
        cap,
        controls,
        reasoning_model=_thinking_model(model),
    )
    finish = "MAX_TOKENS" if plan.truncated else "STOP"
    response_id = uuid.uuid4().hex[:22]

    def usage(candidates: int) -> JSON:
        meta: JSON = {
            "promptTokenCount": plan.input_tokens,
            "candidatesTokenCount": candidates,
            "totalTokenCount": plan.input_tokens + candidates + plan.reasoning,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": plan.input_tokens}],
        }
        if plan.cache_read:
            meta["cachedContentTokenCount"] = plan.cache_read
        if plan.reasoning:
            meta["thoughtsTokenCount"] = plan.reasoning
        return meta

    def chunk(text: str, finish_reason: str | None, candidates: int) -> JSON:
        candidate: JSON = {"content": {"parts": [{"text": text}], "role": "model"}}
        if finish_reason is not None:
            candidate["finishReason"] = finish_reason
        candidate["index"] = 0
        result: JSON = {"candidates": [candidate]}
        if not controls.no_usage:
            result["usageMetadata"] = usage(candidates)
        result["modelVersion"] = model
        result["responseId"] = response_id
        return result

    if not stream:
        return send.json({}, chunk(plan.text, finish, len(plan.pieces)), controls)

    pieces = plan.pieces or ("",)
    last = len(pieces) - 1
    objects = [
        chunk(piece, finish if i == last else None, min(i + 1, len(plan.pieces)))
        for i, piece in enumerate(pieces)
    ]
    if sse:
        frames = [_sse_frame(obj) for obj in objects]
        error_frame = _STREAM_ERROR_SSE if controls.error_midstream else None
        return send.stream({}, frames, controls, error_frame, "text/event-stream")
    # Without alt=sse Google streams one JSON array, element by element.
    encoded = [_google(obj).encode() for obj in objects]
    frames = [b"[" + encoded[0]] + [b"\n,\r\n" + e for e in encoded[1:]]
    frames.append(b"\n]")
    error_frame = _STREAM_ERROR_ARRAY if controls.error_midstream else None
    return send.stream({}, frames, controls, error_frame, "application/json; charset=UTF-8")


_STREAM_ERROR_SSE = _sse_frame(error_body(500))
_STREAM_ERROR_ARRAY = b"\n,\r\n" + _google(error_body(500)).encode() + b"\n]"
