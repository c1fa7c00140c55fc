"""Google Gemini ``generateContent`` / ``streamGenerateContent``.

``usageMetadata``: the prompt is ``promptTokenCount`` (which includes the
``cachedContentTokenCount`` cache reads) plus ``toolUsePromptTokenCount`` (results of built-in
tools fed back to the model); the output is ``candidatesTokenCount`` plus ``thoughtsTokenCount``
(thinking is billed as output). Audio prompt tokens (``promptTokensDetails`` with modality
``AUDIO``, less the cached ones) are reported apart for their price.

Streaming chunks carry cumulative usage: the last one wins. Both stream framings are read: SSE
(``?alt=sse``, ``\\r\\n\\r\\n`` separators) and, without ``alt=sse``, one JSON array streamed
element by element; the parser tells them apart by the first byte of the body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from lava_server.proxy.usage.base import (
    Counts,
    Headers,
    JSONBodyParser,
    error_message,
    finalize,
)
from lava_server.proxy.usage.framing import (
    DEFAULT_MAX_EVENT_BYTES,
    Frame,
    JSONArrayReader,
    SSEDecoder,
    find_last_object,
    loads_object,
)
from lava_server.proxy.usage.types import (
    JSON,
    TextTally,
    Usage,
    UsageParser,
    as_count,
    as_dict,
    as_str,
)

__all__ = [
    "GeminiStreamParser",
    "extract_gemini",
    "gemini_model_from_path",
    "json_body_parser",
]

FAMILY: Final = "google"
_USAGE_KEYS: Final = ("promptTokenCount", "candidatesTokenCount", "totalTokenCount")


def gemini_model_from_path(path: str) -> str | None:
    """``gemini-2.5-flash`` from ``/v1beta/models/gemini-2.5-flash:streamGenerateContent``."""
    marker = "/models/"
    i = path.rfind(marker)
    if i < 0:
        return None
    name = path[i + len(marker) :].split("?", 1)[0]
    name = name.split(":", 1)[0]
    return name or None


def _modality_tokens(details: object, modality: str) -> int:
    total = 0
    if isinstance(details, list):
        for item in details:
            item_dict = as_dict(item) or {}
            if str(item_dict.get("modality", "")).upper() == modality:
                total += as_count(item_dict.get("tokenCount")) or 0
    return total


def _read_usage(meta: JSON, counts: Counts) -> None:
    """Read a (cumulative) ``usageMetadata``: replaces everything read before."""
    prompt = as_count(meta.get("promptTokenCount"))
    tool_prompt = as_count(meta.get("toolUsePromptTokenCount")) or 0
    candidates = as_count(meta.get("candidatesTokenCount"))
    thoughts = as_count(meta.get("thoughtsTokenCount")) or 0
    counts.input_tokens = None if prompt is None else prompt + tool_prompt
    if candidates is None and not thoughts:
        # Early stream chunks may report the prompt only: the output is what the total adds.
        total = as_count(meta.get("totalTokenCount"))
        if total is not None and prompt is not None:
            counts.output_tokens = max(0, total - prompt - tool_prompt)
        else:
            counts.output_tokens = None
    else:
        counts.output_tokens = (candidates or 0) + thoughts
    counts.reasoning_tokens = thoughts
    counts.cache_read_tokens = as_count(meta.get("cachedContentTokenCount")) or 0
    audio = _modality_tokens(meta.get("promptTokensDetails"), "AUDIO") + _modality_tokens(
        meta.get("toolUsePromptTokensDetails"), "AUDIO"
    )
    cached_audio = _modality_tokens(meta.get("cacheTokensDetails"), "AUDIO")
    counts.input_audio_tokens = max(0, audio - cached_audio)


def _read_chunk(chunk: Mapping[str, Any], counts: Counts, text: TextTally) -> bool:
    """Read one response object (a whole answer or a stream chunk); True if it finished."""
    counts.model = as_str(chunk.get("modelVersion")) or counts.model
    counts.response_id = as_str(chunk.get("responseId")) or counts.response_id
    meta = as_dict(chunk.get("usageMetadata"))
    if meta is not None:
        _read_usage(meta, counts)
    finished = False
    candidates = chunk.get("candidates")
    if isinstance(candidates, list):
        for candidate in candidates:
            candidate_dict = as_dict(candidate) or {}
            content = as_dict(candidate_dict.get("content")) or {}
            parts = content.get("parts")
            if isinstance(parts, list):
                for part in parts:
                    part_dict = as_dict(part) or {}
                    if isinstance(part_dict.get("text"), str):
                        text.add(part_dict["text"])
                    call = as_dict(part_dict.get("functionCall"))
                    if call is not None:
                        text.add(json.dumps(call, separators=(",", ":"), default=str))
            if candidate_dict.get("finishReason"):
                finished = True
    feedback = as_dict(chunk.get("promptFeedback"))
    if feedback is not None and feedback.get("blockReason"):
        finished = True
    return finished


def extract_gemini(
    request_body: Mapping[str, Any] | None,
    response_body: Mapping[str, Any] | None,
    headers: Headers | None = None,
    *,
    model: str | None = None,
) -> Usage:
    """A non-streamed ``generateContent`` answer. ``model``: the model of the URL path, used when
    the answer has no ``modelVersion``."""
    counts = Counts(model=model)
    text = TextTally()
    if isinstance(response_body, Mapping):
        _read_chunk(response_body, counts, text)
    return finalize(counts, family=FAMILY, request_body=request_body, text=text)


class GeminiStreamParser(UsageParser):
    """A ``streamGenerateContent`` answer, SSE or streamed JSON array (detected)."""

    def __init__(
        self,
        request_body: Mapping[str, Any] | None = None,
        *,
        model: str | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        super().__init__()
        self.request_body = request_body if isinstance(request_body, Mapping) else None
        self.counts = Counts(model=model)
        self.text = TextTally()
        self._max = max_event_bytes
        self._reader: SSEDecoder | JSONArrayReader | None = None
        self._finished: Usage | None = None

    def feed(self, chunk: bytes) -> None:
        if self._finished is not None:
            raise RuntimeError("feed() after finish()")
        if self._reader is None:
            stripped = chunk.lstrip()
            if not stripped:
                return
            chunk = stripped
            self._reader = (
                JSONArrayReader(self._max) if chunk[:1] == b"[" else SSEDecoder(self._max)
            )
        for frame in self._reader.feed(chunk):
            self._on_frame(frame)

    def _on_frame(self, frame: Frame) -> None:
        if frame.truncated:
            meta = find_last_object(frame.tail, "usageMetadata", require=_USAGE_KEYS)
            if meta is not None:
                _read_usage(meta, self.counts)
            return
        obj = loads_object(frame.data)
        if obj is None:
            return
        if "error" in obj and "candidates" not in obj:
            self.error = error_message(obj)
            return
        if _read_chunk(obj, self.counts, self.text):
            self.done = True

    def finish(self, *, complete: bool = True) -> Usage:
        if self._finished is None:
            if self._reader is not None:
                for frame in self._reader.close():
                    self._on_frame(frame)
            self._finished = finalize(
                self.counts,
                family=FAMILY,
                request_body=self.request_body,
                text=self.text,
                complete=complete and self.done,
            )
        return self._finished


def json_body_parser(
    request_body: Mapping[str, Any] | None,
    headers: Headers | None = None,
    *,
    model: str | None = None,
    max_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> JSONBodyParser:
    """The bounded parser of a non-streamed ``generateContent`` answer."""

    def extract(
        request: Mapping[str, Any] | None,
        response: Mapping[str, Any] | None,
        response_headers: Headers | None,
    ) -> Usage:
        return extract_gemini(request, response, response_headers, model=model)

    return JSONBodyParser(
        extract,
        request_body,
        headers,
        family=FAMILY,
        usage_keys=(("usageMetadata", _USAGE_KEYS),),
        id_key="responseId",
        max_bytes=max_bytes,
    )
