"""OpenAI and OpenAI-compatible APIs: chat completions, legacy completions, the Responses API and
embeddings; and the ``stream_options.include_usage`` rewrite with its stream filter.

Chat completions: ``usage.prompt_tokens`` (includes ``prompt_tokens_details.cached_tokens``) and
``completion_tokens`` (includes ``completion_tokens_details.reasoning_tokens``). Compatible
providers differ a little, all handled here:

- usage on the last content chunk instead of a separate chunk (Mistral, Together...), or under
  ``x_groq.usage`` (Groq): taken wherever it is, the last one seen wins;
- DeepSeek's ``prompt_cache_hit_tokens`` as the cache reads when ``cached_tokens`` is absent;
- xAI (and Gemini's compatible endpoint) report ``reasoning_tokens`` *on top of*
  ``completion_tokens`` (``total_tokens = prompt + completion + reasoning``): then the output is
  ``completion + reasoning``, detected from ``total_tokens``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from lava_server.proxy.usage.base import (
    Counts,
    Headers,
    JSONBodyParser,
    SSEUsageParser,
    error_message,
    finalize,
)
from lava_server.proxy.usage.framing import (
    DEFAULT_MAX_EVENT_BYTES,
    Frame,
    find_last_object,
    find_string_field,
    loads_object,
)
from lava_server.proxy.usage.types import (
    JSON,
    TextTally,
    Usage,
    as_count,
    as_dict,
    as_str,
)

__all__ = [
    "STREAM_OPTIONS_UNSUPPORTED",
    "ChatCompletionsStreamParser",
    "ResponsesStreamParser",
    "UsageChunkFilter",
    "add_stream_usage_option",
    "extract_chat_completion",
    "extract_embeddings",
    "extract_responses",
    "is_usage_only_chunk",
    "json_body_parser",
]

FAMILY: Final = "openai-compatible"

# -------------------------------------------------------------------------------- usage blocks


def _chat_usage(usage: JSON, counts: Counts) -> None:
    """Read a chat/completions ``usage`` object into ``counts`` (replacing earlier values)."""
    prompt = as_count(usage.get("prompt_tokens"))
    if prompt is None:
        prompt = as_count(usage.get("input_tokens"))
    completion = as_count(usage.get("completion_tokens"))
    if completion is None:
        completion = as_count(usage.get("output_tokens"))
    prompt_details = as_dict(usage.get("prompt_tokens_details")) or {}
    completion_details = as_dict(usage.get("completion_tokens_details")) or {}
    cached = as_count(prompt_details.get("cached_tokens"))
    if cached is None:
        cached = as_count(usage.get("prompt_cache_hit_tokens"))  # DeepSeek
    reasoning = as_count(completion_details.get("reasoning_tokens"))
    if reasoning is None:
        reasoning = as_count(usage.get("reasoning_tokens"))
    reasoning = reasoning or 0
    total = as_count(usage.get("total_tokens"))
    if (
        reasoning
        and completion is not None
        and prompt is not None
        and total is not None
        and total == prompt + completion + reasoning
    ):
        completion += reasoning  # xAI-style: reasoning reported on top of completion
    if prompt is None and completion is None and total is not None:
        prompt = total  # embeddings-like usage with only a total
    counts.input_tokens = prompt
    counts.output_tokens = completion
    counts.cache_read_tokens = cached or 0
    counts.reasoning_tokens = reasoning
    counts.input_audio_tokens = as_count(prompt_details.get("audio_tokens")) or 0
    counts.output_audio_tokens = as_count(completion_details.get("audio_tokens")) or 0


def _responses_usage(usage: JSON, counts: Counts) -> None:
    """Read a Responses API ``usage`` object into ``counts``."""
    input_details = as_dict(usage.get("input_tokens_details")) or {}
    output_details = as_dict(usage.get("output_tokens_details")) or {}
    counts.input_tokens = as_count(usage.get("input_tokens"))
    counts.output_tokens = as_count(usage.get("output_tokens"))
    counts.cache_read_tokens = as_count(input_details.get("cached_tokens")) or 0
    counts.reasoning_tokens = as_count(output_details.get("reasoning_tokens")) or 0
    if counts.input_tokens is None and counts.output_tokens is None:
        _chat_usage(usage, counts)  # a compatible server answering in the chat shape


def _usage_of_chunk(data: JSON) -> JSON | None:
    usage = as_dict(data.get("usage"))
    if usage is None:
        usage = as_dict((as_dict(data.get("x_groq")) or {}).get("usage"))
    return usage


_MESSAGE_TEXT_KEYS: Final = frozenset(
    {"content", "reasoning_content", "reasoning", "refusal", "text"}
)


def _add_message_text(message: JSON | None, text: TextTally) -> None:
    if not message:
        return
    for key, value in message.items():
        if key in _MESSAGE_TEXT_KEYS:
            if isinstance(value, str):
                text.add(value)
            elif isinstance(value, list):  # content parts
                for part in value:
                    part_dict = as_dict(part)
                    if part_dict is not None and isinstance(part_dict.get("text"), str):
                        text.add(part_dict["text"])
        elif key == "tool_calls" and isinstance(value, list):
            for call in value:
                function = as_dict((as_dict(call) or {}).get("function")) or {}
                for name in ("name", "arguments"):
                    if isinstance(function.get(name), str):
                        text.add(function[name])
        elif (
            key == "function_call"
            and isinstance(value, dict)
            and isinstance(value.get("arguments"), str)
        ):
            text.add(value["arguments"])


# ----------------------------------------------------------------------- chat / completions


def extract_chat_completion(
    request_body: Mapping[str, Any] | None,
    response_body: Mapping[str, Any] | None,
    headers: Headers | None = None,
) -> Usage:
    """A non-streamed chat completion (or legacy completion) answer."""
    counts = Counts()
    text = TextTally()
    if isinstance(response_body, Mapping):
        counts.model = as_str(response_body.get("model"))
        counts.response_id = as_str(response_body.get("id"))
        usage = _usage_of_chunk(dict(response_body))
        if usage is not None:
            _chat_usage(usage, counts)
        choices = response_body.get("choices")
        if isinstance(choices, list) and counts.output_tokens is None:
            for choice in choices:
                choice_dict = as_dict(choice) or {}
                _add_message_text(as_dict(choice_dict.get("message")), text)
                if isinstance(choice_dict.get("text"), str):
                    text.add(choice_dict["text"])
    return finalize(counts, family=FAMILY, request_body=request_body, text=text)


class ChatCompletionsStreamParser(SSEUsageParser):
    """A streamed chat completion (or legacy completion): usage from whichever chunk carries it
    (the usage-only chunk of ``include_usage``, the last content chunk, ``x_groq.usage``); the
    text of the deltas for the estimate when there is none."""

    family = FAMILY

    def __init__(
        self,
        request_body: Mapping[str, Any] | None = None,
        *,
        model: str | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        super().__init__(request_body, model=model, max_event_bytes=max_event_bytes)
        self.finish_reason_seen = False

    def on_event(self, event: str, data: JSON) -> None:
        if "choices" not in data and "error" in data:
            self.error = error_message(data)
            return
        counts = self.counts
        if counts.model is None:
            counts.model = as_str(data.get("model"))
        if counts.response_id is None:
            counts.response_id = as_str(data.get("id"))
        usage = _usage_of_chunk(data)
        if usage is not None:
            _chat_usage(usage, counts)
        choices = data.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                choice_dict = as_dict(choice)
                if choice_dict is None:
                    continue
                _add_message_text(as_dict(choice_dict.get("delta")), self.text)
                if isinstance(choice_dict.get("text"), str):
                    self.text.add(choice_dict["text"])
                if choice_dict.get("finish_reason"):
                    self.finish_reason_seen = True

    def on_truncated(self, frame: Frame) -> None:
        usage = find_last_object(frame.tail, "usage", require=("prompt_tokens", "total_tokens"))
        if usage is not None:
            _chat_usage(usage, self.counts)

    def result(self, *, complete: bool) -> Usage:
        return finalize(
            self.counts,
            family=self.family,
            request_body=self.request_body,
            text=self.text,
            complete=complete or self.finish_reason_seen,
        )

    def finish(self, *, complete: bool = True) -> Usage:
        if complete and self.finish_reason_seen:
            self.done = True  # some compatible servers end without "[DONE]"
        return super().finish(complete=complete)


# ------------------------------------------------------------------------------ Responses API

_RESPONSE_TERMINAL: Final = frozenset(
    {"response.completed", "response.incomplete", "response.failed"}
)


def _read_response_object(response: Mapping[str, Any], counts: Counts) -> None:
    counts.model = as_str(response.get("model")) or counts.model
    counts.response_id = as_str(response.get("id")) or counts.response_id
    usage = as_dict(response.get("usage"))
    if usage is not None:
        _responses_usage(usage, counts)


def _response_output_text(response: Mapping[str, Any], text: TextTally) -> None:
    output = response.get("output")
    if not isinstance(output, list):
        return
    for item in output:
        item_dict = as_dict(item) or {}
        for key in ("arguments", "input", "code"):
            if isinstance(item_dict.get(key), str):
                text.add(item_dict[key])
        for list_key in ("content", "summary"):
            parts = item_dict.get(list_key)
            if isinstance(parts, list):
                for part in parts:
                    part_dict = as_dict(part) or {}
                    for key in ("text", "refusal"):
                        if isinstance(part_dict.get(key), str):
                            text.add(part_dict[key])


def extract_responses(
    request_body: Mapping[str, Any] | None,
    response_body: Mapping[str, Any] | None,
    headers: Headers | None = None,
) -> Usage:
    """A non-streamed Responses API answer (a ``response`` object)."""
    counts = Counts()
    text = TextTally()
    if isinstance(response_body, Mapping):
        _read_response_object(response_body, counts)
        if counts.output_tokens is None:
            _response_output_text(response_body, text)
    return finalize(counts, family=FAMILY, request_body=request_body, text=text)


class ResponsesStreamParser(SSEUsageParser):
    """A streamed Responses API answer: ``response.usage`` of the final ``response.completed`` /
    ``response.incomplete`` / ``response.failed`` event; the text of every ``*.delta`` event
    (output text, refusals, reasoning summaries, tool arguments) for the estimate."""

    family = FAMILY

    def on_event(self, event: str, data: JSON) -> None:
        kind = data.get("type")
        if not isinstance(kind, str):
            kind = event
        if kind.endswith(".delta"):
            delta = data.get("delta")
            if isinstance(delta, str) and "audio" not in kind:
                self.text.add(delta)
            return
        response = as_dict(data.get("response"))
        if response is not None:
            _read_response_object(response, self.counts)
        if kind in _RESPONSE_TERMINAL:
            self.done = True
            if kind == "response.failed":
                self.error = error_message((response or {}).get("error") or "response.failed")
        elif kind == "error":
            self.error = error_message(data)

    def on_truncated(self, frame: Frame) -> None:
        kind = frame.event or find_string_field(frame.data, "type") or ""
        usage = find_last_object(frame.tail, "usage", require=("input_tokens", "output_tokens"))
        if usage is not None:
            _responses_usage(usage, self.counts)
        if self.counts.model is None:
            self.counts.model = find_string_field(frame.data, "model")
        if kind in _RESPONSE_TERMINAL:
            self.done = True
            if kind == "response.failed":
                self.error = "response.failed"


# ------------------------------------------------------------------------------- embeddings


def extract_embeddings(
    request_body: Mapping[str, Any] | None,
    response_body: Mapping[str, Any] | None,
    headers: Headers | None = None,
) -> Usage:
    """An embeddings answer: ``usage.prompt_tokens`` (else ``total_tokens``), input only."""
    counts = Counts(output_tokens=0)
    if isinstance(response_body, Mapping):
        counts.model = as_str(response_body.get("model"))
        usage = as_dict(response_body.get("usage"))
        if usage is not None:
            tokens = as_count(usage.get("prompt_tokens"))
            if tokens is None:
                tokens = as_count(usage.get("total_tokens"))
            if tokens is None:
                tokens = as_count(usage.get("input_tokens"))
            counts.input_tokens = tokens
    return finalize(counts, family=FAMILY, request_body=request_body)


def json_body_parser(
    api: str,
    request_body: Mapping[str, Any] | None,
    headers: Headers | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> JSONBodyParser:
    """The bounded parser of a non-streamed answer of ``api`` (chat/completions/responses/
    embeddings)."""
    if api == "responses":
        return JSONBodyParser(
            extract_responses,
            request_body,
            headers,
            usage_keys=(("usage", ("input_tokens", "output_tokens")),),
            max_bytes=max_bytes,
        )
    if api == "embeddings":
        return JSONBodyParser(
            extract_embeddings,
            request_body,
            headers,
            usage_keys=(("usage", ("prompt_tokens", "total_tokens")),),
            max_bytes=max_bytes,
        )
    return JSONBodyParser(
        extract_chat_completion,
        request_body,
        headers,
        usage_keys=(("usage", ("prompt_tokens", "completion_tokens", "total_tokens")),),
        max_bytes=max_bytes,
    )


# --------------------------------------------------------- include_usage: rewrite and filter

STREAM_OPTIONS_UNSUPPORTED: Final = frozenset({"mistral"})
"""Providers that refuse ``stream_options`` (Mistral answers 422 ``extra_forbidden``); they put
usage on the last chunk anyway."""

_INCLUDE_USAGE: Final = b'"stream_options":{"include_usage":true}'


def add_stream_usage_option(
    raw_body: bytes,
    body: Mapping[str, Any] | None = None,
    *,
    provider: str | None = None,
    api: str = "chat_completions",
) -> bytes | None:
    """The request body to send upstream so that a streamed chat completion (or legacy
    completion) reports its usage, or ``None`` when nothing needs changing: another ``api`` (the
    Responses API always reports usage), not streaming, the client already asked for usage, not
    a JSON object, or a provider in :data:`STREAM_OPTIONS_UNSUPPORTED`.

    When the client sent no ``stream_options``, ``"stream_options":{"include_usage":true}`` is
    inserted right after the opening ``{`` and every other byte of the body is kept. Otherwise the
    body is re-serialised with ``include_usage`` set to true (its other options kept).

    A non-``None`` result means the client did not ask for usage: relay the answer through a
    :class:`UsageChunkFilter` so that it does not see the extra chunk.
    """
    if api not in ("chat_completions", "completions"):
        return None
    if provider is not None and provider in STREAM_OPTIONS_UNSUPPORTED:
        return None
    if body is None:
        body = loads_object(raw_body)
        if body is None:
            return None
    if body.get("stream") is not True:
        return None
    options = body.get("stream_options")
    if isinstance(options, Mapping) and options.get("include_usage") is True:
        return None
    if "stream_options" not in body:
        stripped = raw_body.lstrip()
        if stripped[:1] == b"{":
            brace = len(raw_body) - len(stripped)
            rest = raw_body[brace + 1 :]
            separator = b"" if rest.lstrip()[:1] == b"}" else b","
            return raw_body[: brace + 1] + _INCLUDE_USAGE + separator + rest
    new_body = dict(body)
    new_options = dict(options) if isinstance(options, Mapping) else {}
    new_options["include_usage"] = True
    new_body["stream_options"] = new_options
    return json.dumps(new_body, ensure_ascii=False, separators=(",", ":")).encode()


# Two line ends in a row; a "\r" followed by "\n" is one CRLF line end, never two.
_BLANK_LINE: Final = re.compile(rb"(?:\r\n|\r(?!\n)|\n)(?:\r\n|\r(?!\n)|\n)")
_USAGE_OBJECT: Final = re.compile(rb'"usage"\s*:\s*\{')
_DATA_LINE: Final = re.compile(rb"^data:[ ]?(.*)$", re.MULTILINE)


def is_usage_only_chunk(event: bytes) -> bool:
    """True for the raw bytes of an SSE event whose data is a chat chunk with empty ``choices``
    and a ``usage`` object: the chunk ``include_usage`` adds before ``[DONE]``."""
    if not _USAGE_OBJECT.search(event) or b'"choices"' not in event:
        return False
    normalized = event.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    lines = [m.group(1) for m in _DATA_LINE.finditer(normalized)]
    if not lines:
        return False
    data = loads_object(b"\n".join(lines))
    if data is None:
        return False
    choices = data.get("choices")
    return isinstance(choices, list) and not choices and isinstance(data.get("usage"), dict)


_EOL_BYTES: Final = b"\r\n"


class UsageChunkFilter:
    """Removes the usage-only chunk from a relayed chat-completion stream whose request got
    ``include_usage`` from :func:`add_stream_usage_option`; every other byte passes unchanged.

    Fed the raw upstream bytes chunk by chunk, it returns the bytes to send to the client now.
    Only the current, unfinished event is held back (SSE clients act on complete events only,
    so this adds no latency a client can see); an event longer than ``max_event_bytes`` cannot
    be the small usage chunk and is passed through as it comes. :meth:`close` gives what is left
    at the end of the stream.
    """

    def __init__(self, max_event_bytes: int = 64 << 10) -> None:
        self._max = max_event_bytes
        self._held = bytearray()
        self._passthrough = False
        self._lf_owner: str | None = None
        self.removed = 0
        """How many usage-only chunks were removed."""

    def feed(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        lead = b""
        if self._lf_owner is not None:
            # The last event ended with a "\r" at the end of a chunk: a "\n" now completes its
            # CRLF and goes (or is dropped) with it.
            if chunk[:1] == b"\n":
                lead = b"\n" if self._lf_owner == "emitted" else b""
                chunk = chunk[1:]
            self._lf_owner = None
            if not chunk:
                return lead
        if self._held:
            self._held += chunk
            buf: bytes | bytearray = self._held
            self._held = bytearray()
        else:
            buf = chunk
        out = bytearray(lead)
        pos = 0
        if self._passthrough:
            m = _BLANK_LINE.search(buf)
            if m is None:
                return self._pass_through(buf, out)
            out += buf[: m.end()]
            pos = m.end()
            self._passthrough = False
        length = len(buf)
        while pos < length:
            m = _BLANK_LINE.search(buf, pos)
            if m is None:
                break
            end = m.end()
            event = bytes(buf[pos:end])
            removed = is_usage_only_chunk(event)
            if removed:
                self.removed += 1
            else:
                out += event
            if end == length and buf[end - 1] == 0x0D:
                self._lf_owner = "removed" if removed else "emitted"
            pos = end
        if pos < length:
            rest = buf[pos:]
            if len(rest) > self._max:
                self._passthrough = True
                return bytes(self._pass_through(rest, out))
            self._held = bytearray(rest)
        return bytes(out)

    def _pass_through(self, buf: bytes | bytearray, out: bytearray) -> bytes:
        """Emit ``buf`` but its trailing line-ending bytes (a blank line may span chunks)."""
        cut = len(buf)
        while cut > 0 and len(buf) - cut < 3 and buf[cut - 1] in _EOL_BYTES:
            cut -= 1
        out += buf[:cut]
        self._held = bytearray(buf[cut:])
        return bytes(out)

    def close(self) -> bytes:
        """The bytes still held at the end of the stream (an unterminated last event)."""
        held = bytes(self._held)
        self._held = bytearray()
        if not self._passthrough and held and is_usage_only_chunk(held):
            self.removed += 1
            return b""
        return held
