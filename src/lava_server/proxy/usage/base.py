"""Shared machinery of the extractors: the SSE parser skeleton, the JSON-body parser and the
estimation fallback."""

from __future__ import annotations

import json
import re
from abc import abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from lava_server.proxy.usage.estimate import count_tokens, estimate_input_tokens
from lava_server.proxy.usage.framing import (
    DEFAULT_MAX_EVENT_BYTES,
    BoundedBody,
    Frame,
    SSEDecoder,
    find_last_object,
    find_string_field,
    loads_object,
)
from lava_server.proxy.usage.types import (
    JSON,
    TextTally,
    Usage,
    UsageParser,
    as_dict,
    as_str,
    make_usage,
)

__all__ = [
    "Counts",
    "Extractor",
    "JSONBodyParser",
    "SSEUsageParser",
    "error_message",
    "finalize",
]

Headers = Mapping[str, str]
Extractor = Callable[[Mapping[str, Any] | None, Mapping[str, Any] | None, Headers | None], Usage]
"""A non-streaming extractor: (request body, response body, response headers) -> usage."""


@dataclass(slots=True)
class Counts:
    """Usage as read so far from an answer; ``None``: not reported (yet)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    input_audio_tokens: int = 0
    output_audio_tokens: int = 0
    input_characters: int = 0
    output_characters: int = 0
    input_seconds: int = 0
    output_seconds: int = 0
    model: str | None = None
    response_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def finalize(
    counts: Counts,
    *,
    family: str,
    request_body: Mapping[str, Any] | None,
    text: TextTally | None = None,
    complete: bool = True,
    estimate_tokens: bool = True,
) -> Usage:
    """The usage to bill from what an answer reported, estimating what it did not.

    - No input count: estimated from the request body (:func:`count_tokens`).
    - No output count: estimated from the generated text seen (``text``).
    - An incomplete answer (``complete=False``): the output is at least the estimate of the text
      seen, since a cumulative count read mid-stream may be stale.

    ``estimated`` is set when any estimate was used. ``estimate_tokens=False`` (audio APIs
    metered in characters or seconds) leaves missing token counts at 0.
    """
    estimated = False
    input_tokens = counts.input_tokens
    output_tokens = counts.output_tokens
    if estimate_tokens:
        if input_tokens is None:
            input_tokens = estimate_input_tokens(family, request_body, counter=count_tokens)
            estimated = True
        if output_tokens is None:
            output_tokens = text.tokens(count_tokens) if text is not None else 0
            estimated = True
        elif not complete and text is not None:
            seen = text.tokens(count_tokens)
            if seen > output_tokens:
                output_tokens = seen
                estimated = True
    return make_usage(
        input_tokens=input_tokens or 0,
        output_tokens=output_tokens or 0,
        cache_read_tokens=counts.cache_read_tokens,
        cache_write_tokens=counts.cache_write_tokens,
        cache_write_1h_tokens=counts.cache_write_1h_tokens,
        reasoning_tokens=counts.reasoning_tokens,
        input_audio_tokens=counts.input_audio_tokens,
        output_audio_tokens=counts.output_audio_tokens,
        input_characters=counts.input_characters,
        output_characters=counts.output_characters,
        input_seconds=counts.input_seconds,
        output_seconds=counts.output_seconds,
        model=counts.model or _request_model(request_body),
        response_id=counts.response_id,
        estimated=estimated,
    )


def _request_model(request_body: Mapping[str, Any] | None) -> str | None:
    if isinstance(request_body, Mapping):
        return as_str(request_body.get("model"))
    return None


def error_message(value: object) -> str:
    """A short message for an in-stream error object (OpenAI, Anthropic and Gemini shapes)."""
    error = as_dict(value)
    if error is None:
        return str(value)[:500] if value else "error"
    inner = as_dict(error.get("error")) or error
    message = inner.get("message") or inner.get("type") or inner.get("code") or inner.get("status")
    kind = inner.get("type") or inner.get("status") or inner.get("code")
    text = str(message) if message is not None else "error"
    if kind is not None and str(kind) != text:
        text = f"{kind}: {text}"
    return text[:500]


class SSEUsageParser(UsageParser):
    """An SSE answer: subclasses look at each event in :meth:`on_event` and build the usage in
    :meth:`result`."""

    family: str = "openai-compatible"

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
        self._decoder = SSEDecoder(max_event_bytes)
        self._finished: Usage | None = None

    def feed(self, chunk: bytes) -> None:
        if self._finished is not None:
            raise RuntimeError("feed() after finish()")
        for frame in self._decoder.feed(chunk):
            self._on_frame(frame)

    def finish(self, *, complete: bool = True) -> Usage:
        if self._finished is None:
            for frame in self._decoder.close():
                self._on_frame(frame)
            self._finished = self.result(complete=complete and self.done)
        return self._finished

    def _on_frame(self, frame: Frame) -> None:
        if frame.truncated:
            self.on_truncated(frame)
            return
        data = frame.data
        if data == b"[DONE]":
            self.on_done_marker()
            return
        obj = loads_object(data)
        if obj is not None:
            self.on_event(frame.event, obj)

    @abstractmethod
    def on_event(self, event: str, data: JSON) -> None: ...

    def on_done_marker(self) -> None:
        self.done = True

    def on_truncated(self, frame: Frame) -> None:
        """An event too large to keep: by default, look for a usage object in its tail."""

    def result(self, *, complete: bool) -> Usage:
        return finalize(
            self.counts,
            family=self.family,
            request_body=self.request_body,
            text=self.text,
            complete=complete,
        )


def _first_string(frame: Frame, keys: tuple[str, ...]) -> str | None:
    for part in (frame.data, frame.tail):
        for key in keys:
            value = find_string_field(part, key)
            if value:
                return value
    return None


_TEXT_FIELD: Final = re.compile(rb'"(?:text|content|output_text)"\s*:\s*("(?:[^"\\]|\\.)*")')


class BufferedBodyParser(UsageParser):
    """An answer kept whole up to ``max_bytes`` (head and tail beyond) and read once, at the
    end: subclasses give ``_result()``."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        super().__init__()
        self._body = BoundedBody(max_bytes)
        self._finished: Usage | None = None

    def feed(self, chunk: bytes) -> None:
        if self._finished is not None:
            raise RuntimeError("feed() after finish()")
        self._body.feed(chunk)

    def finish(self, *, complete: bool = True) -> Usage:
        if self._finished is None:
            self._finished = self._result()
        return self._finished

    def _result(self) -> Usage:
        raise NotImplementedError


class JSONBodyParser(BufferedBodyParser):
    """A non-streamed JSON answer, kept whole up to ``max_bytes`` and parsed at the end with a
    non-streaming extractor. A larger body keeps head + tail: the usage object is dug out of the
    tail (every provider puts it after the content) and the model/id out of the head."""

    def __init__(
        self,
        extract: Extractor,
        request_body: Mapping[str, Any] | None,
        headers: Headers | None = None,
        *,
        family: str = "openai-compatible",
        usage_keys: tuple[tuple[str, tuple[str, ...]], ...] = (
            ("usage", ("prompt_tokens", "input_tokens", "output_tokens")),
        ),
        id_key: str = "id",
        max_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        super().__init__(max_bytes)
        self._extract = extract
        self.request_body = request_body if isinstance(request_body, Mapping) else None
        self.headers = headers
        self.family = family
        self._usage_keys = usage_keys
        self._id_key = id_key

    def _result(self) -> Usage:
        frame = self._body.frame()
        if not frame.truncated:
            obj = loads_object(frame.data)
            if obj is not None:
                self.done = True
                if "error" in obj and not any(key in obj for key, _ in self._usage_keys):
                    self.error = error_message(obj)
                return self._extract(self.request_body, obj, self.headers)
        else:
            synthetic: JSON = {}
            for key, required in self._usage_keys:
                found = find_last_object(frame.tail, key, require=required)
                if found is not None:
                    synthetic[key] = found
            # OpenAI and Anthropic name the model and id first, Gemini last.
            model = _first_string(frame, ("model", "modelVersion"))
            if model:
                synthetic["model"] = synthetic["modelVersion"] = model
            ident = _first_string(frame, (self._id_key,))
            if ident:
                synthetic[self._id_key] = ident
            if synthetic.keys() & {key for key, _ in self._usage_keys}:
                self.done = frame.tail.rstrip().endswith((b"}", b"]"))
                return self._extract(self.request_body, synthetic, self.headers)
        # Incomplete or unreadable: input from the request, output from the text received.
        usage = self._extract(self.request_body, None, self.headers)
        text = TextTally()
        for m in _TEXT_FIELD.finditer(frame.data + frame.tail if frame.truncated else frame.data):
            try:
                value = json.loads(m.group(1))
            except ValueError:
                continue
            if isinstance(value, str):
                text.add(value)
        seen = text.tokens(count_tokens)
        if seen > usage.output_tokens:
            usage = replace(usage, output_tokens=seen, estimated=True)
        return usage
