"""Anthropic messages.

``usage.input_tokens`` excludes the cache: the billed prompt is ``input_tokens`` +
``cache_creation_input_tokens`` + ``cache_read_input_tokens`` (our ``input_tokens``), with the
cache parts kept apart for their prices; ``cache_creation.ephemeral_1h_input_tokens`` is the part
written with a one-hour TTL. Streaming: the input counts come from ``message_start``, whose
``output_tokens`` is a placeholder and is ignored; the output comes from the cumulative
``message_delta`` usage (which newer API versions also give final input counts in: they win).
"""

from __future__ import annotations

import json
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
from lava_server.proxy.usage.framing import DEFAULT_MAX_EVENT_BYTES
from lava_server.proxy.usage.types import JSON, TextTally, Usage, as_count, as_dict, as_str

__all__ = ["AnthropicStreamParser", "extract_anthropic_message", "json_body_parser"]

FAMILY: Final = "anthropic"


def _read_usage(usage: JSON, counts: Counts, *, with_output: bool) -> None:
    """Read an Anthropic ``usage`` object; fields it lacks keep their earlier values."""
    uncached = as_count(usage.get("input_tokens"))
    write = as_count(usage.get("cache_creation_input_tokens"))
    read = as_count(usage.get("cache_read_input_tokens"))
    if write is not None:
        counts.cache_write_tokens = write
        creation = as_dict(usage.get("cache_creation")) or {}
        counts.cache_write_1h_tokens = as_count(creation.get("ephemeral_1h_input_tokens")) or 0
    if read is not None:
        counts.cache_read_tokens = read
    if uncached is not None:
        counts.extra["uncached"] = uncached
    if "uncached" in counts.extra:
        counts.input_tokens = (
            counts.extra["uncached"] + counts.cache_write_tokens + counts.cache_read_tokens
        )
    if with_output:
        output = as_count(usage.get("output_tokens"))
        if output is not None:
            counts.output_tokens = output


def _content_text(content: object, text: TextTally) -> None:
    if not isinstance(content, list):
        return
    for block in content:
        block_dict = as_dict(block) or {}
        for key in ("text", "thinking"):
            if isinstance(block_dict.get(key), str):
                text.add(block_dict[key])
        if "input" in block_dict and block_dict.get("type") in ("tool_use", "server_tool_use"):
            text.add(json.dumps(block_dict["input"], separators=(",", ":"), default=str))


def extract_anthropic_message(
    request_body: Mapping[str, Any] | None,
    response_body: Mapping[str, Any] | None,
    headers: Headers | None = None,
) -> Usage:
    """A non-streamed messages answer (a ``message`` object)."""
    counts = Counts()
    text = TextTally()
    if isinstance(response_body, Mapping):
        counts.model = as_str(response_body.get("model"))
        counts.response_id = as_str(response_body.get("id"))
        usage = as_dict(response_body.get("usage"))
        if usage is not None:
            _read_usage(usage, counts, with_output=True)
        if counts.output_tokens is None:
            _content_text(response_body.get("content"), text)
    return finalize(counts, family=FAMILY, request_body=request_body, text=text)


class AnthropicStreamParser(SSEUsageParser):
    """A streamed messages answer (``message_start`` ... ``message_delta``, ``message_stop``)."""

    family = FAMILY

    def __init__(
        self,
        request_body: Mapping[str, Any] | None = None,
        *,
        model: str | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        super().__init__(request_body, model=model, max_event_bytes=max_event_bytes)

    def on_event(self, event: str, data: JSON) -> None:
        kind = data.get("type") or event
        if kind == "content_block_delta":
            delta = as_dict(data.get("delta")) or {}
            for key in ("text", "thinking", "partial_json"):
                value = delta.get(key)
                if isinstance(value, str):
                    self.text.add(value)
        elif kind == "message_start":
            message = as_dict(data.get("message")) or {}
            self.counts.model = as_str(message.get("model")) or self.counts.model
            self.counts.response_id = as_str(message.get("id")) or self.counts.response_id
            usage = as_dict(message.get("usage"))
            if usage is not None:
                _read_usage(usage, self.counts, with_output=False)
        elif kind == "message_delta":
            usage = as_dict(data.get("usage"))
            if usage is not None:
                _read_usage(usage, self.counts, with_output=True)
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            self.error = error_message(data)


def json_body_parser(
    request_body: Mapping[str, Any] | None,
    headers: Headers | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> JSONBodyParser:
    """The bounded parser of a non-streamed messages answer."""
    return JSONBodyParser(
        extract_anthropic_message,
        request_body,
        headers,
        family=FAMILY,
        usage_keys=(("usage", ("input_tokens", "output_tokens")),),
        max_bytes=max_bytes,
    )
