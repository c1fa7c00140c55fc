"""Streamed answers from the provider's shape to the client's (`docs/forward-proxy.md#rewrite`):
Anthropic's message events <-> chat completion chunks, event by event as they arrive.

Each translator is fed the provider's bytes split anywhere and returns the client's bytes; at the
end of a complete stream `close()` gives what is still owed (OpenAI's `[DONE]`, Anthropic's
closing `message_delta` and `message_stop`). The bill is read from the provider's bytes before
they come here.
"""

from __future__ import annotations

import time
from typing import Any, Final

import orjson

from lava_server.proxy.rewrite.response import (
    FINISH_REASON,
    STOP_REASON,
    anthropic_usage,
    openai_usage,
)
from lava_server.proxy.usage.framing import Frame, SSEDecoder

JSON = dict[str, Any]

_DONE: Final = b"data: [DONE]\n\n"


def _load(frame: Frame) -> JSON | None:
    if frame.truncated:
        return None
    try:
        value = orjson.loads(frame.data)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


class AnthropicToOpenAIStream:
    """Anthropic's events (`message_start`, `content_block_*`, `message_delta`,
    `message_stop`) as chat completion chunks, ending with `data: [DONE]`. The usage chunk is sent
    when the client asked for it (`stream_options.include_usage`)."""

    def __init__(self, *, include_usage: bool) -> None:
        self._decoder = SSEDecoder()
        self._include_usage = include_usage
        self._id = "chatcmpl-"
        self._model: Any = None
        self._created = int(time.time())
        self._usage: JSON = {}
        self._tools: dict[int, int] = {}  # Anthropic block index -> OpenAI tool call index
        self._done = False

    def feed(self, chunk: bytes) -> bytes:
        return b"".join(self._event(frame) for frame in self._decoder.feed(chunk))

    def close(self) -> bytes:
        out = b"".join(self._event(frame) for frame in self._decoder.close())
        if not self._done:
            out += _DONE
            self._done = True
        return out

    def _chunk(self, delta: JSON, finish_reason: str | None = None) -> bytes:
        chunk = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [
                {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
            ],
        }
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    def _event(self, frame: Frame) -> bytes:
        data = _load(frame)
        if data is None:
            return b""
        kind = data.get("type")
        if kind == "message_start":
            message = data.get("message")
            message = message if isinstance(message, dict) else {}
            self._id = f"chatcmpl-{message.get('id', '')}"
            self._model = message.get("model")
            if isinstance(message.get("usage"), dict):
                self._usage.update(message["usage"])
            return self._chunk({"role": "assistant", "content": ""})
        if kind == "content_block_start":
            block = data.get("content_block")
            block = block if isinstance(block, dict) else {}
            if block.get("type") == "tool_use":
                tool = len(self._tools)
                self._tools[_index(data)] = tool
                call = {
                    "index": tool,
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name"), "arguments": ""},
                }
                return self._chunk({"tool_calls": [call]})
            if block.get("type") == "text" and block.get("text"):
                return self._chunk({"content": block["text"]})
            return b""
        if kind == "content_block_delta":
            delta = data.get("delta")
            delta = delta if isinstance(delta, dict) else {}
            if delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
                return self._chunk({"content": delta["text"]})
            if delta.get("type") == "input_json_delta":
                index = self._tools.get(_index(data))
                if index is None:
                    return b""
                arguments = delta.get("partial_json") or ""
                return self._chunk(
                    {"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}
                )
            return b""  # thinking and signature deltas have no OpenAI counterpart
        if kind == "message_delta":
            usage = data.get("usage")
            if isinstance(usage, dict):
                self._usage.update({k: v for k, v in usage.items() if v is not None})
            delta = data.get("delta")
            stop = delta.get("stop_reason") if isinstance(delta, dict) else None
            if isinstance(stop, str):
                return self._chunk({}, FINISH_REASON.get(stop, "stop"))
            return b""
        if kind == "message_stop":
            self._done = True
            out = b""
            if self._include_usage:
                chunk = {
                    "id": self._id,
                    "object": "chat.completion.chunk",
                    "created": self._created,
                    "model": self._model,
                    "choices": [],
                    "usage": openai_usage(self._usage),
                }
                out = b"data: " + orjson.dumps(chunk) + b"\n\n"
            return out + _DONE
        if kind == "error":
            error = data.get("error")
            error = error if isinstance(error, dict) else {}
            payload = {
                "error": {
                    "message": error.get("message") or "The provider reported an error.",
                    "type": error.get("type") or "api_error",
                    "param": None,
                    "code": None,
                }
            }
            return b"data: " + orjson.dumps(payload) + b"\n\n"
        return b""  # ping, and event types added later


def _index(data: JSON) -> int:
    index = data.get("index")
    return index if isinstance(index, int) else -1


class OpenAIToAnthropicStream:
    """Chat completion chunks as Anthropic's events: `message_start`, a content block per text
    run or tool call, then `message_delta` (stop reason and usage) and `message_stop` once the
    provider's stream is over (its usage chunk comes last)."""

    def __init__(self) -> None:
        self._decoder = SSEDecoder()
        self._started = False
        self._finished = False
        self._block = -1  # the open content block's index, -1 when none is open
        self._block_kind = ""
        self._next = 0
        self._tools: dict[int, int] = {}  # OpenAI tool call index -> Anthropic block index
        self._stop: str | None = None
        self._usage: Any = None

    def feed(self, chunk: bytes) -> bytes:
        return b"".join(self._frame(frame) for frame in self._decoder.feed(chunk))

    def close(self) -> bytes:
        out = b"".join(self._frame(frame) for frame in self._decoder.close())
        return out + self._finish()

    @staticmethod
    def _event(name: str, payload: JSON) -> bytes:
        return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"

    def _frame(self, frame: Frame) -> bytes:
        if frame.data.strip() == b"[DONE]":
            return self._finish()
        data = _load(frame)
        if data is None or self._finished:
            return b""
        if "error" in data and "choices" not in data:
            error = data["error"] if isinstance(data["error"], dict) else {}
            payload = {
                "type": "error",
                "error": {
                    "type": error.get("type") or "api_error",
                    "message": error.get("message") or "The provider reported an error.",
                },
            }
            return self._event("error", payload)
        out = b""
        if not self._started:
            self._started = True
            message: JSON = {
                "id": f"msg_{data.get('id', '')}",
                "type": "message",
                "role": "assistant",
                "model": data.get("model"),
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            }
            out += self._event("message_start", {"type": "message_start", "message": message})
        if isinstance(data.get("usage"), dict):
            self._usage = data["usage"]
        choices = data.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else None
        if not isinstance(choice, dict):
            return out
        delta = choice.get("delta")
        delta = delta if isinstance(delta, dict) else {}
        text = delta.get("content")
        if isinstance(text, str) and text:
            if self._block_kind != "text":
                out += self._open({"type": "text", "text": ""}, "text")
            out += self._delta({"type": "text_delta", "text": text})
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if not isinstance(call, dict):
                continue
            function = call.get("function")
            function = function if isinstance(function, dict) else {}
            index = call["index"] if isinstance(call.get("index"), int) else 0
            if index not in self._tools:
                block: JSON = {
                    "type": "tool_use",
                    "id": call.get("id"),
                    "name": function.get("name"),
                    "input": {},
                }
                out += self._open(block, "tool")
                self._tools[index] = self._block
            arguments = function.get("arguments")
            if isinstance(arguments, str) and arguments and self._tools[index] == self._block:
                out += self._delta({"type": "input_json_delta", "partial_json": arguments})
        finish = choice.get("finish_reason")
        if isinstance(finish, str):
            self._stop = STOP_REASON.get(finish, "end_turn")
        return out

    def _open(self, block: JSON, kind: str) -> bytes:
        out = self._close_block()
        self._block = self._next
        self._next += 1
        self._block_kind = kind
        payload = {"type": "content_block_start", "index": self._block, "content_block": block}
        return out + self._event("content_block_start", payload)

    def _delta(self, delta: JSON) -> bytes:
        payload = {"type": "content_block_delta", "index": self._block, "delta": delta}
        return self._event("content_block_delta", payload)

    def _close_block(self) -> bytes:
        if self._block < 0:
            return b""
        payload = {"type": "content_block_stop", "index": self._block}
        self._block = -1
        self._block_kind = ""
        return self._event("content_block_stop", payload)

    def _finish(self) -> bytes:
        if not self._started or self._finished:
            return b""
        self._finished = True
        out = self._close_block()
        delta = {"stop_reason": self._stop or "end_turn", "stop_sequence": None}
        payload = {"type": "message_delta", "delta": delta, "usage": anthropic_usage(self._usage)}
        out += self._event("message_delta", payload)
        return out + self._event("message_stop", {"type": "message_stop"})
