"""Usage extraction for the forward proxy (``docs/forward-proxy.md``): pure, I/O-free.

One module per provider family (:mod:`.openai`, :mod:`.anthropic`, :mod:`.google`,
:mod:`.audio`), each with a non-streaming extractor ``(request body, response body, response
headers) -> Usage`` and an incremental parser fed the raw response bytes as they are
relayed. This module picks the right one::

    api = detect_api(target.provider.family, target.path)      # "chat_completions", ...
    hold = estimate_hold_usage(api, family, body, model, provider=name)
    new_body = add_stream_usage_option(raw, body, provider=name, api=api)  # send it if not None
    ...
    parser = make_response_parser(api, body, response.headers, model=model, path=target.path)
    relay_filter = UsageChunkFilter() if new_body is not None else None
    for chunk in upstream:
        parser.feed(chunk)
        send(relay_filter.feed(chunk) if relay_filter else chunk)
    tail = relay_filter.close() if relay_filter else b""
    usage = parser.finish(complete=stream_ended_normally)     # usage.estimated -> metadata
    input_cost, output_cost = provider_cost(name, usage.model or model, usage)  # model_prices

At start-up, ``warm_up()`` (the tokenizer) and the server's ``PriceBook.warm_up()`` load their
data once.

See :mod:`.types` for what the counts mean (``input_tokens`` includes cached tokens, etc.).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lava_server.proxy.usage import anthropic, audio, google, openai
from lava_server.proxy.usage.anthropic import AnthropicStreamParser, extract_anthropic_message
from lava_server.proxy.usage.audio import (
    ElevenLabsParser,
    SpeechParser,
    TranscriptionParser,
    TranscriptStreamParser,
    extract_elevenlabs_tts,
    extract_openai_speech,
    extract_transcription,
    multipart_field,
)
from lava_server.proxy.usage.base import Headers, JSONBodyParser, SSEUsageParser
from lava_server.proxy.usage.estimate import (
    DEFAULT_MAX_OUTPUT_TOKENS,
    MODEL_OUTPUT_CEILINGS,
    count_tokens,
    estimate_hold_usage,
    estimate_input_tokens,
    heuristic_tokens,
    max_output_tokens,
    model_output_ceiling,
    request_output_cap,
    set_tokenizer,
    tokenizer_name,
    warm_up,
)
from lava_server.proxy.usage.framing import (
    DEFAULT_MAX_EVENT_BYTES,
    BoundedBody,
    Frame,
    JSONArrayReader,
    SSEDecoder,
)
from lava_server.proxy.usage.google import (
    GeminiStreamParser,
    extract_gemini,
    gemini_model_from_path,
)
from lava_server.proxy.usage.openai import (
    STREAM_OPTIONS_UNSUPPORTED,
    ChatCompletionsStreamParser,
    ResponsesStreamParser,
    UsageChunkFilter,
    add_stream_usage_option,
    extract_chat_completion,
    extract_embeddings,
    extract_responses,
    is_usage_only_chunk,
)
from lava_server.proxy.usage.types import (
    ApiKind,
    TextTally,
    Usage,
    UsageParser,
    make_usage,
)

__all__ = [
    "DEFAULT_MAX_EVENT_BYTES",
    "DEFAULT_MAX_OUTPUT_TOKENS",
    "MODEL_OUTPUT_CEILINGS",
    "STREAM_OPTIONS_UNSUPPORTED",
    "AnthropicStreamParser",
    "ApiKind",
    "BoundedBody",
    "ChatCompletionsStreamParser",
    "ElevenLabsParser",
    "Frame",
    "GeminiStreamParser",
    "JSONArrayReader",
    "JSONBodyParser",
    "ResponsesStreamParser",
    "SSEDecoder",
    "SSEUsageParser",
    "SpeechParser",
    "TextTally",
    "TranscriptStreamParser",
    "TranscriptionParser",
    "Usage",
    "UsageChunkFilter",
    "UsageParser",
    "add_stream_usage_option",
    "count_tokens",
    "detect_api",
    "estimate_hold_usage",
    "estimate_input_tokens",
    "extract_anthropic_message",
    "extract_chat_completion",
    "extract_elevenlabs_tts",
    "extract_embeddings",
    "extract_gemini",
    "extract_openai_speech",
    "extract_responses",
    "extract_transcription",
    "gemini_model_from_path",
    "heuristic_tokens",
    "is_usage_only_chunk",
    "make_response_parser",
    "make_usage",
    "max_output_tokens",
    "model_output_ceiling",
    "multipart_field",
    "request_output_cap",
    "set_tokenizer",
    "tokenizer_name",
    "warm_up",
]


def detect_api(family: str, path: str) -> ApiKind:
    """Which API a forwarded call speaks, from its provider family and upstream path
    (``/v1/chat/completions``, ``/v1beta/models/gemini-2.5-flash:streamGenerateContent``...).

    ``"unknown"`` for anything not metered (model lists, files, batches, token counting...).
    """
    path = path.split("?", 1)[0].rstrip("/")
    if family == "anthropic":
        return "anthropic_messages" if path.endswith("/messages") else "unknown"
    if family == "google":
        last = path.rsplit("/", 1)[-1]
        if last.endswith((":generateContent", ":streamGenerateContent")):
            return "gemini_generate"
        return "unknown"
    if family == "elevenlabs":
        return "elevenlabs_tts" if "/text-to-speech/" in path + "/" else "unknown"
    for suffix, api in _OPENAI_PATHS:
        if path.endswith(suffix):
            return api
    return "unknown"


_OPENAI_PATHS: tuple[tuple[str, ApiKind], ...] = (
    ("/chat/completions", "chat_completions"),
    ("/completions", "completions"),
    ("/responses", "responses"),
    ("/embeddings", "embeddings"),
    ("/audio/speech", "openai_speech"),
    ("/audio/transcriptions", "openai_transcription"),
    ("/audio/translations", "openai_transcription"),
)


def _content_type(headers: Headers | None) -> str:
    if not headers:
        return ""
    for key, value in headers.items():
        if key.lower() == "content-type":
            return value.lower()
    return ""


class _RequestOnlyParser(UsageParser):
    """An answer whose body holds no usage (binary audio): the usage comes from the request."""

    def __init__(self, usage: Usage) -> None:
        super().__init__()
        self._usage = usage

    def feed(self, chunk: bytes) -> None:
        return None

    def finish(self, *, complete: bool = True) -> Usage:
        self.done = self.done or complete
        return self._usage


def make_response_parser(
    api: ApiKind,
    request_body: Mapping[str, Any] | None,
    response_headers: Headers | None = None,
    *,
    model: str | None = None,
    path: str | None = None,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> UsageParser:
    """The incremental parser for a 2xx answer of ``api``: SSE when the response's content type
    is ``text/event-stream`` (or, for Gemini, when ``path`` is ``:streamGenerateContent``, SSE or
    JSON array), else a bounded JSON-body parser. ``model`` fills in a model the answer does not
    name; ``path`` is the upstream path (Gemini's model and streaming mode are in it)."""
    sse = "text/event-stream" in _content_type(response_headers)
    if model is None and api == "gemini_generate" and path:
        model = gemini_model_from_path(path)
    parser: UsageParser
    if api in ("chat_completions", "completions"):
        if sse:
            parser = ChatCompletionsStreamParser(
                request_body, model=None, max_event_bytes=max_event_bytes
            )
        else:
            parser = openai.json_body_parser(
                api, request_body, response_headers, max_bytes=max_event_bytes
            )
    elif api == "responses":
        if sse:
            parser = ResponsesStreamParser(request_body, max_event_bytes=max_event_bytes)
        else:
            parser = openai.json_body_parser(
                api, request_body, response_headers, max_bytes=max_event_bytes
            )
    elif api == "embeddings":
        parser = openai.json_body_parser(
            api, request_body, response_headers, max_bytes=max_event_bytes
        )
    elif api == "anthropic_messages":
        if sse:
            parser = AnthropicStreamParser(request_body, max_event_bytes=max_event_bytes)
        else:
            parser = anthropic.json_body_parser(
                request_body, response_headers, max_bytes=max_event_bytes
            )
    elif api == "gemini_generate":
        if sse or (path is not None and ":streamGenerateContent" in path):
            parser = GeminiStreamParser(request_body, model=model, max_event_bytes=max_event_bytes)
        else:
            parser = google.json_body_parser(
                request_body, response_headers, model=model, max_bytes=max_event_bytes
            )
    elif api == "openai_speech":
        if sse:
            parser = SpeechParser(request_body, max_event_bytes=max_event_bytes)
        else:
            parser = _RequestOnlyParser(extract_openai_speech(request_body))
    elif api == "openai_transcription":
        if sse:
            parser = TranscriptStreamParser(request_body, model=model)
        else:
            parser = TranscriptionParser(request_body, model=model, max_bytes=max_event_bytes)
    elif api == "elevenlabs_tts":
        parser = audio.ElevenLabsParser(request_body, response_headers)
    else:
        parser = _RequestOnlyParser(make_usage(model=model))
    return parser
