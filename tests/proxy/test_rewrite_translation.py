"""The rewrite door's translations on their own (`docs/forward-proxy.md#rewrite`): the provider URL
read from the path, requests, whole answers and streams both ways, tool calls included. The
end-to-end calls with the official clients are in `test_rewrite.py`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lava_server.errors import InvalidRequest
from lava_server.proxy.rewrite.request import (
    DEFAULT_MAX_TOKENS,
    anthropic_to_openai,
    openai_to_anthropic,
)
from lava_server.proxy.rewrite.response import (
    anthropic_message_to_openai,
    openai_completion_to_anthropic,
)
from lava_server.proxy.rewrite.stream import AnthropicToOpenAIStream, OpenAIToAnthropicStream
from lava_server.proxy.rewrite.target import parse_rewrite_path

WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}


# ------------------------------------------------------------------------------------ the URL


@pytest.mark.parametrize(
    ("raw", "provider", "url"),
    [
        ("openai/https://api.anthropic.com/v1/messages", "anthropic", "/v1/messages"),
        ("openai/api.anthropic.com/v1/messages", "anthropic", "/v1/messages"),
        ("openai/https:/api.anthropic.com/v1/messages", "anthropic", "/v1/messages"),
        ("openai/https://api.anthropic.com", "anthropic", "/v1/messages"),
        ("openai/https://api.anthropic.com/v1", "anthropic", "/v1/messages"),
        ("openai/https://api.anthropic.com/v1/messages/chat/completions", "anthropic", None),
        ("anthropic/https://api.openai.com/v1/chat/completions", "openai", None),
        ("anthropic/https://api.openai.com/v1/chat/completions/v1/messages", "openai", None),
        ("anthropic/https://api.openai.com/v1/v1/messages", "openai", None),
        ("anthropic/api.openai.com", "openai", "/v1/chat/completions"),
        ("anthropic/https://api.groq.com/openai/v1/v1/messages", "groq", None),
        ("openai/https://api.openai.com/v1/chat/completions", "openai", None),
    ],
)
def test_provider_url_forms(raw: str, provider: str, url: str | None) -> None:
    target = parse_rewrite_path(raw)
    assert target.provider_name == provider
    expected = {
        "anthropic": "https://api.anthropic.com/v1/messages",
        "openai": "https://api.openai.com/v1/chat/completions",
        "groq": "https://api.groq.com/openai/v1/chat/completions",
    }[provider]
    assert target.url == expected
    if url is not None:
        assert target.url.endswith(url)


def test_same_shape_keeps_other_paths() -> None:
    target = parse_rewrite_path("openai/https://api.openai.com/v1/embeddings")
    assert not target.translated
    assert target.url == "https://api.openai.com/v1/embeddings"


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        ("google/https://api.openai.com/v1", "format"),
        ("bedrock/https://api.openai.com/v1", "format"),
        ("OpenAI/https://api.openai.com/v1", "format"),
        ("openai", "url"),
        ("openai/https://user@api.anthropic.com/v1/messages", "url"),
        ("openai/https://api.anthropic.com:8443/v1/messages", "url"),
        ("openai/https://127.0.0.1/v1/messages", "url"),
        ("openai/https://api.anthropic.com/v1/../../x", "url"),
        ("anthropic/https://api.elevenlabs.io/v1/text-to-speech/x", "url"),
        ("anthropic/https://api.openai.com/v1/embeddings", "url"),
    ],
)
def test_refused_urls(raw: str, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_rewrite_path(raw)
    assert caught.value.param == param


# -------------------------------------------------------------------------------- requests


def test_openai_request_with_tools_to_anthropic() -> None:
    body: dict[str, Any] = {
        "model": "claude-haiku-4-5",
        "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "Snow."},
            {"role": "user", "content": "Thanks"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "weather",
                    "description": "The weather",
                    "parameters": WEATHER_SCHEMA,
                },
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "weather"}},
        "parallel_tool_calls": False,
        "user": "end-user-1",
        "stream": True,
        "stream_options": {"include_usage": True},
        "seed": 7,
    }
    translated = openai_to_anthropic(body)
    assert translated.stream and translated.include_usage
    assert translated.body == {
        "model": "claude-haiku-4-5",
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
                    },
                    {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "call_1",
                        "name": "weather",
                        "input": {"city": "Oslo"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "Snow."},
                    {"type": "text", "text": "Thanks"},
                ],
            },
        ],
        "max_tokens": DEFAULT_MAX_TOKENS,
        "metadata": {"user_id": "end-user-1"},
        "tools": [
            {"name": "weather", "input_schema": WEATHER_SCHEMA, "description": "The weather"}
        ],
        "tool_choice": {"type": "tool", "name": "weather", "disable_parallel_tool_use": True},
        "stream": True,
    }


def test_anthropic_request_with_tools_to_openai() -> None:
    body: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "max_tokens": 50,
        "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Really."}],
        "messages": [
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hm", "signature": "s"},
                    {"type": "text", "text": "Let me look."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "weather",
                        "input": {"city": "Oslo"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [{"type": "text", "text": "Snow."}],
                    },
                    {"type": "text", "text": "And tomorrow?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
                    },
                ],
            },
        ],
        "tools": [
            {"name": "weather", "description": "The weather", "input_schema": WEATHER_SCHEMA}
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "stop_sequences": ["END"],
        "metadata": {"user_id": "end-user-1"},
        "top_k": 3,
        "stream": True,
    }
    translated = anthropic_to_openai(body, provider="groq")
    assert translated.stream and not translated.include_usage
    assert translated.body == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be brief.\n\nReally."},
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": "Let me look.",
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "Snow."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "And tomorrow?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                ],
            },
        ],
        "max_tokens": 50,
        "stop": ["END"],
        "user": "end-user-1",
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "weather",
                    "parameters": WEATHER_SCHEMA,
                    "description": "The weather",
                },
            }
        ],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    # Mistral refuses stream_options; OpenAI itself gets max_completion_tokens.
    assert "stream_options" not in anthropic_to_openai(body, provider="mistral").body
    assert anthropic_to_openai(body, provider="openai").body["max_completion_tokens"] == 50


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        (
            {"model": "m", "max_tokens": 0, "messages": [{"role": "user", "content": "x"}]},
            "max_tokens",
        ),
        ({"model": "m", "max_tokens": 5, "messages": []}, "messages"),
        (
            {"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
            "messages[0].role",
        ),
        (
            {
                "model": "m",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": [{"type": "document"}]}],
            },
            "messages[0].content[0].type",
        ),
        (
            {
                "model": "m",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "web_search_20250305", "name": "s"}],
            },
            "tools[0].type",
        ),
        ({"model": 5, "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}, "model"),
        (
            {
                "model": "m",
                "max_tokens": 5,
                "stream": "yes",
                "messages": [{"role": "user", "content": "x"}],
            },
            "stream",
        ),
    ],
)
def test_untranslatable_anthropic_requests(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        anthropic_to_openai(body, provider="openai")
    assert caught.value.param == param


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m", "messages": [{"role": "system", "content": "x"}]}, "messages"),
        (
            {"model": "m", "max_tokens": "5", "messages": [{"role": "user", "content": "x"}]},
            "max_tokens",
        ),
        ({"model": "m", "stop": 5, "messages": [{"role": "user", "content": "x"}]}, "stop"),
        (
            {
                "model": "m",
                "tool_choice": "sometimes",
                "messages": [{"role": "user", "content": "x"}],
            },
            "tool_choice",
        ),
        (
            {
                "model": "m",
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{"}}],
                    }
                ],
            },
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            {
                "model": "m",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": "data:image/png,AAAA"}}
                        ],
                    }
                ],
            },
            "messages[0].content[0].image_url.url",
        ),
        (
            {"model": "m", "messages": [{"role": "tool", "content": "x"}]},
            "messages[0].tool_call_id",
        ),
    ],
)
def test_untranslatable_openai_requests(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        openai_to_anthropic(body)
    assert caught.value.param == param


# ---------------------------------------------------------------------------- whole answers


def test_anthropic_message_with_tool_use_to_openai() -> None:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": [
            {"type": "text", "text": "Looking."},
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "cache_read_input_tokens": 4,
            "cache_creation_input_tokens": 2,
            "output_tokens": 7,
        },
    }
    completion = anthropic_message_to_openai(message)
    assert completion["id"] == "chatcmpl-msg_1"
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Looking."
    assert choice["message"]["tool_calls"] == [
        {
            "id": "toolu_1",
            "type": "function",
            "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
        }
    ]
    assert completion["usage"] == {
        "prompt_tokens": 16,
        "completion_tokens": 7,
        "total_tokens": 23,
        "prompt_tokens_details": {"cached_tokens": 4},
    }


def test_openai_completion_with_tool_calls_to_anthropic() -> None:
    completion = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 16,
            "completion_tokens": 7,
            "total_tokens": 23,
            "prompt_tokens_details": {"cached_tokens": 4},
        },
    }
    message = openai_completion_to_anthropic(completion)
    assert message["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Oslo"}}
    ]
    assert message["stop_reason"] == "tool_use"
    assert message["usage"] == {
        "input_tokens": 12,
        "output_tokens": 7,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 4,
    }


# ---------------------------------------------------------------------------------- streams


def sse(events: list[tuple[str | None, Any]]) -> bytes:
    out = b""
    for name, data in events:
        if name is not None:
            out += f"event: {name}\n".encode()
        payload = data if isinstance(data, str) else json.dumps(data)
        out += f"data: {payload}\n\n".encode()
    return out


def feed_in_pieces(translator: Any, data: bytes, size: int) -> bytes:
    out = b""
    for i in range(0, len(data), size):
        out += translator.feed(data[i : i + size])
    return out + translator.close()


def parse_events(data: bytes) -> list[tuple[str | None, Any]]:
    events: list[tuple[str | None, Any]] = []
    for block in data.decode().split("\n\n"):
        if not block.strip():
            continue
        name = None
        payload = None
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                payload = line[6:]
        assert payload is not None
        events.append((name, payload if payload == "[DONE]" else json.loads(payload)))
    return events


ANTHROPIC_TOOL_STREAM = sse(
    [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "model": "claude-haiku-4-5",
                    "content": [],
                    "usage": {"input_tokens": 10, "cache_read_input_tokens": 4, "output_tokens": 1},
                },
            },
        ),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        ("ping", {"type": "ping"}),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Hi"},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "weather",
                    "input": {},
                },
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"city": '},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '"Oslo"}'},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use"},
                "usage": {"output_tokens": 9},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
)


@pytest.mark.parametrize("size", [1, 7, 10_000])
def test_anthropic_stream_with_tool_use_to_openai(size: int) -> None:
    out = feed_in_pieces(AnthropicToOpenAIStream(include_usage=True), ANTHROPIC_TOOL_STREAM, size)
    events = parse_events(out)
    assert all(name is None for name, _ in events)
    assert events[-1][1] == "[DONE]"
    chunks = [data for _, data in events[:-1]]
    assert {c["id"] for c in chunks} == {"chatcmpl-msg_1"}
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert "".join(d.get("content") or "" for d in deltas) == "Hi"
    calls = [call for d in deltas for call in d.get("tool_calls", [])]
    assert calls[0] == {
        "index": 0,
        "id": "toolu_1",
        "type": "function",
        "function": {"name": "weather", "arguments": ""},
    }
    assert "".join(c["function"]["arguments"] for c in calls) == '{"city": "Oslo"}'
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert [f for f in finishes if f] == ["tool_calls"]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 14,
        "completion_tokens": 9,
        "total_tokens": 23,
        "prompt_tokens_details": {"cached_tokens": 4},
    }


def test_anthropic_stream_error_event_to_openai() -> None:
    stream = AnthropicToOpenAIStream(include_usage=False)
    data = sse(
        [("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Busy"}})]
    )
    events = parse_events(stream.feed(data))
    assert events == [
        (
            None,
            {"error": {"message": "Busy", "type": "overloaded_error", "param": None, "code": None}},
        )
    ]


def openai_chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> Any:
    chunk: dict[str, Any] = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "gpt"}
    chunk["choices"] = (
        [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    )
    chunk.update(extra)
    return (None, chunk)


OPENAI_TOOL_STREAM = sse(
    [
        openai_chunk({"role": "assistant", "content": ""}),
        openai_chunk({"content": "Hi"}),
        openai_chunk({"content": " there"}),
        openai_chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": ""},
                    }
                ]
            }
        ),
        openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
        openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]}),
        openai_chunk({}, "tool_calls"),
        openai_chunk(
            None,
            usage={
                "prompt_tokens": 16,
                "completion_tokens": 7,
                "prompt_tokens_details": {"cached_tokens": 4},
            },
        ),
        (None, "[DONE]"),
    ]
)


@pytest.mark.parametrize("size", [1, 5, 10_000])
def test_openai_stream_with_tool_calls_to_anthropic(size: int) -> None:
    events = parse_events(feed_in_pieces(OpenAIToAnthropicStream(), OPENAI_TOOL_STREAM, size))
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(data["type"] == name for name, data in events)
    assert events[0][1]["message"]["role"] == "assistant"
    assert events[1][1] == {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    assert events[5][1]["content_block"] == {
        "type": "tool_use",
        "id": "call_1",
        "name": "weather",
        "input": {},
    }
    assert events[5][1]["index"] == 1
    assert "".join(e[1]["delta"].get("partial_json", "") for e in events[6:8]) == '{"city":"Oslo"}'
    assert events[9][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {
            "input_tokens": 12,
            "output_tokens": 7,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 4,
        },
    }


def test_openai_stream_without_done_still_ends_and_error_chunks_pass() -> None:
    stream = OpenAIToAnthropicStream()
    out = stream.feed(sse([openai_chunk({"content": "Hi"}, "stop")]))
    out += stream.feed(sse([(None, {"error": {"message": "Busy", "type": "server_error"}})]))
    out += stream.close()
    names = [name for name, _ in parse_events(out)]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "error",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert stream.close() == b""  # ended once


# ----------------------------------------------------------------- anything at all: never a 500

_json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
_KEYS = st.sampled_from(
    [
        "model",
        "messages",
        "role",
        "content",
        "type",
        "text",
        "image_url",
        "url",
        "source",
        "tool_calls",
        "function",
        "arguments",
        "name",
        "id",
        "tool_call_id",
        "tool_use_id",
        "input",
        "tools",
        "tool_choice",
        "system",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "stop_sequences",
        "stream",
        "stream_options",
        "metadata",
        "user",
        "n",
        "parameters",
        "input_schema",
        "media_type",
        "data",
        "is_error",
    ]
)
_ROLES = st.sampled_from(["user", "assistant", "system", "developer", "tool", "x"])
_TYPES = st.sampled_from(["text", "image", "image_url", "tool_use", "tool_result", "function"])
_json = st.recursive(
    _json_leaf | _ROLES | _TYPES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_KEYS, children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(body=st.dictionaries(_KEYS, _json, max_size=8))
def test_any_request_translates_or_is_a_400(body: dict[str, Any]) -> None:
    for translate in (openai_to_anthropic, lambda b: anthropic_to_openai(b, provider="openai")):
        try:
            translated = translate(body)
        except InvalidRequest as error:
            assert error.param
        else:
            json.dumps(translated.body)


@settings(max_examples=150, deadline=None)
@given(answer=st.dictionaries(_KEYS | st.sampled_from(["choices", "usage", "delta"]), _json))
def test_any_answer_translates(answer: dict[str, Any]) -> None:
    json.dumps(anthropic_message_to_openai(answer))
    json.dumps(openai_completion_to_anthropic(answer))


@settings(max_examples=150, deadline=None)
@given(
    frames=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "message_start",
                    "content_block_start",
                    "content_block_delta",
                    "message_delta",
                    "message_stop",
                    "error",
                ]
            ),
            st.dictionaries(
                st.sampled_from(
                    ["type", "message", "index", "content_block", "delta", "usage", "choices"]
                ),
                _json,
            ),
        ),
        max_size=8,
    ),
    garbage=st.binary(max_size=40),
)
def test_any_stream_translates(frames: list[tuple[str, dict[str, Any]]], garbage: bytes) -> None:
    data = sse([(name, {**payload, "type": name}) for name, payload in frames]) + garbage
    for translator in (AnthropicToOpenAIStream(include_usage=True), OpenAIToAnthropicStream()):
        out = translator.feed(data) + translator.close()
        parse_events(out)
