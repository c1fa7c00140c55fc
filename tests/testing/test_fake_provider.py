"""The fake provider, driven by the official clients over real HTTP."""

from __future__ import annotations

import base64
import itertools
import json
import struct
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from lava_server.testing import ServerThread, create_fake_provider_app, serve_in_thread
from lava_server.testing.fake_provider import (
    DEFAULT_OUTPUT_TOKENS,
    REASONING_TOKENS,
    SLOW_SECONDS,
    Controls,
    FakeProvider,
    answer_text,
    count_tokens,
    parse_controls,
)

PROMPT = "Hello there, how are you today?"
PROMPT_TOKENS = count_tokens(PROMPT)  # 8
ANSWER = answer_text(DEFAULT_OUTPUT_TOKENS)
CLAUDE = "claude-haiku-4-5"


@pytest.fixture
def provider(fake: FakeProvider) -> FakeProvider:
    return fake


@pytest.fixture
def url(fake_server: ServerThread, provider: FakeProvider) -> str:
    return fake_server.url


@pytest.fixture
def oai(url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key="sk-provider-key", base_url=url + "/v1", max_retries=0) as client:
        yield client


@pytest.fixture
async def aoai(url: str) -> Any:
    async with openai.AsyncOpenAI(
        api_key="sk-provider-key", base_url=url + "/v1", max_retries=0
    ) as client:
        yield client


@pytest.fixture
def claude(url: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(api_key="sk-ant-key", base_url=url, max_retries=0) as client:
        yield client


@pytest.fixture
async def aclaude(url: str) -> Any:
    async with anthropic.AsyncAnthropic(
        api_key="sk-ant-key", base_url=url, max_retries=0
    ) as client:
        yield client


def user(text: str = PROMPT) -> list[Any]:
    return [{"role": "user", "content": text}]


# ------------------------------------------------------------------------------------------------
# Tokens and controls
# ------------------------------------------------------------------------------------------------


def test_count_tokens_and_answer_text() -> None:
    assert count_tokens("") == 0
    assert count_tokens("Hello, world!") == 4
    assert count_tokens("don't") == 3
    assert PROMPT_TOKENS == 8
    for n in (0, 1, 16, 100):
        assert count_tokens(answer_text(n)) == n
    assert answer_text(3) == "Hello from the"


def test_parse_controls() -> None:
    assert parse_controls("gpt-4o-mini", "/v1/chat/completions", "") == Controls()
    assert parse_controls('{"model":"fake-error-500"}').error_status == 500
    assert parse_controls("fake-error-4290").error_status is None
    assert parse_controls("fake-slow").slow_seconds == SLOW_SECONDS
    assert parse_controls("fake-slow-250ms").slow_seconds == 0.25
    combined = parse_controls(
        "say fake-no-usage fake-tokens-40", "/x", "fake-cache-read&fake-drop-midstream"
    )
    assert combined == Controls(
        no_usage=True, output_tokens=40, cache_read=True, drop_midstream=True
    )
    assert combined.midstream
    assert parse_controls("fake-usage-on-last-chunk").usage_on_last_chunk
    assert parse_controls("fake-hang-midstream").hang_midstream
    assert parse_controls("fake-error-midstream") == Controls(error_midstream=True)


# ------------------------------------------------------------------------------------------------
# OpenAI chat completions
# ------------------------------------------------------------------------------------------------


def test_chat_completion(oai: openai.OpenAI, provider: FakeProvider) -> None:
    completion = oai.chat.completions.create(model="gpt-4o-mini", messages=user())
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o-mini"
    assert completion.choices[0].message.content == ANSWER
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (
        PROMPT_TOKENS,
        DEFAULT_OUTPUT_TOKENS,
        PROMPT_TOKENS + DEFAULT_OUTPUT_TOKENS,
    )
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 0


def test_chat_input_counts_all_message_text(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                ],
            },
        ],
    )
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 3 + 4 + 85


def test_chat_max_tokens_caps_output(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="gpt-4o-mini", messages=user(), max_completion_tokens=5
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.choices[0].message.content == answer_text(5)
    assert completion.usage is not None and completion.usage.completion_tokens == 5
    legacy = oai.chat.completions.create(model="gpt-4o-mini", messages=user(), max_tokens=3)
    assert legacy.usage is not None and legacy.usage.completion_tokens == 3


def test_chat_reasoning_model_and_cache_control(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="o4-mini", messages=user(PROMPT + " fake-cache-read fake-tokens-4")
    )
    usage = completion.usage
    assert usage is not None
    prompt = PROMPT_TOKENS + count_tokens("fake-cache-read fake-tokens-4")
    assert usage.prompt_tokens == prompt
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == prompt // 2
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == REASONING_TOKENS
    assert usage.completion_tokens == REASONING_TOKENS + 4
    assert completion.choices[0].message.content == answer_text(4)


def test_chat_stream_without_usage(oai: openai.OpenAI) -> None:
    chunks = list(oai.chat.completions.create(model="gpt-4o-mini", messages=user(), stream=True))
    assert all(chunk.usage is None for chunk in chunks)
    assert all(len(chunk.choices) == 1 for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == ANSWER
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len(chunks) == DEFAULT_OUTPUT_TOKENS + 2


def test_chat_stream_raw_wire_format(url: str) -> None:
    body = {"model": "gpt-4o-mini", "messages": user(), "stream": True}
    response = httpx.post(
        url + "/v1/chat/completions", json=body, headers={"Authorization": "Bearer k"}
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = response.text.split("\n\n")
    assert frames[-1] == "" and frames[-2] == "data: [DONE]"
    assert all(frame.startswith("data: {") for frame in frames[:-2])
    assert all("usage" not in json.loads(frame[6:]) for frame in frames[:-2])

    body["stream_options"] = {"include_usage": True}
    response = httpx.post(
        url + "/v1/chat/completions", json=body, headers={"Authorization": "Bearer k"}
    )
    chunks = [json.loads(f[6:]) for f in response.text.split("\n\n")[:-2]]
    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == PROMPT_TOKENS


def test_chat_stream_include_usage(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=user(),
        stream=True,
        stream_options={"include_usage": True},
        max_completion_tokens=6,
    )
    chunks = list(stream)
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (PROMPT_TOKENS, 6)
    assert all(chunk.usage is None for chunk in chunks[:-1])
    assert chunks[-2].choices[0].finish_reason == "length"


def test_chat_stream_helper_accumulates(oai: openai.OpenAI) -> None:
    with oai.chat.completions.stream(
        model="gpt-4o-mini", messages=user(), stream_options={"include_usage": True}
    ) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == ANSWER
    assert final.usage is not None and final.usage.completion_tokens == DEFAULT_OUTPUT_TOKENS


@pytest.mark.parametrize("include_usage", [False, True])
def test_chat_stream_usage_on_last_chunk(oai: openai.OpenAI, include_usage: bool) -> None:
    chunks = list(
        oai.chat.completions.create(
            model="fake-usage-on-last-chunk",
            messages=user(),
            stream=True,
            stream_options={"include_usage": include_usage},
        )
    )
    with_usage = [chunk for chunk in chunks if chunk.usage is not None]
    assert len(with_usage) == 1
    last = with_usage[0]
    assert last is chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.usage is not None and last.usage.completion_tokens == DEFAULT_OUTPUT_TOKENS


def test_openai_compatible_prefixes(url: str) -> None:
    for prefix in ("/openai/v1", "/inference/v1", "/v1beta/openai", "/v3/openai"):
        with openai.OpenAI(api_key="gsk", base_url=url + prefix, max_retries=0) as client:
            completion = client.chat.completions.create(model="llama-3.3-70b", messages=user())
            assert completion.usage is not None
            assert completion.usage.prompt_tokens == PROMPT_TOKENS


async def test_async_chat(aoai: openai.AsyncOpenAI) -> None:
    completion = await aoai.chat.completions.create(model="gpt-4o-mini", messages=user())
    assert completion.usage is not None and completion.usage.prompt_tokens == PROMPT_TOKENS

    stream = await aoai.chat.completions.create(
        model="gpt-4o-mini",
        messages=user(),
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        usage = chunk.usage or usage
    assert text == ANSWER
    assert usage is not None and usage.total_tokens == PROMPT_TOKENS + DEFAULT_OUTPUT_TOKENS


# ------------------------------------------------------------------------------------------------
# OpenAI Responses, embeddings, speech, models
# ------------------------------------------------------------------------------------------------


def test_responses(oai: openai.OpenAI) -> None:
    response = oai.responses.create(model="gpt-4o-mini", input=PROMPT, instructions="Be brief.")
    assert response.status == "completed"
    assert response.output_text == ANSWER
    assert response.usage is not None
    assert response.usage.input_tokens == PROMPT_TOKENS + 3
    assert response.usage.output_tokens == DEFAULT_OUTPUT_TOKENS
    assert response.usage.total_tokens == PROMPT_TOKENS + 3 + DEFAULT_OUTPUT_TOKENS
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.usage.output_tokens_details.reasoning_tokens == 0


def test_responses_incomplete_and_reasoning(oai: openai.OpenAI) -> None:
    response = oai.responses.create(
        model="gpt-5-mini",
        input=[{"role": "user", "content": [{"type": "input_text", "text": PROMPT}]}],
        max_output_tokens=REASONING_TOKENS + 2,
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert response.output_text == answer_text(2)
    assert response.usage is not None
    assert response.usage.input_tokens == PROMPT_TOKENS
    assert response.usage.output_tokens == REASONING_TOKENS + 2
    assert response.usage.output_tokens_details.reasoning_tokens == REASONING_TOKENS


def test_responses_stream(oai: openai.OpenAI) -> None:
    events = list(oai.responses.create(model="gpt-4o-mini", input=PROMPT, stream=True))
    types = [event.type for event in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert types.count("response.output_text.delta") == DEFAULT_OUTPUT_TOKENS
    assert [event.sequence_number for event in events] == list(range(len(events)))
    created = events[0]
    assert created.type == "response.created" and created.response.usage is None
    completed = events[-1]
    assert completed.type == "response.completed"
    usage = completed.response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (
        PROMPT_TOKENS,
        DEFAULT_OUTPUT_TOKENS,
        PROMPT_TOKENS + DEFAULT_OUTPUT_TOKENS,
    )
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0


def test_responses_stream_helper(oai: openai.OpenAI) -> None:
    with oai.responses.stream(model="o3", input=PROMPT, max_output_tokens=100) as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == ANSWER
    assert final.status == "completed"
    assert final.usage is not None
    assert final.usage.output_tokens == REASONING_TOKENS + DEFAULT_OUTPUT_TOKENS


def test_responses_stream_incomplete(oai: openai.OpenAI) -> None:
    events = list(oai.responses.create(model="o3", input=PROMPT, max_output_tokens=20, stream=True))
    last = events[-1]
    assert last.type == "response.incomplete"
    assert last.response.status == "incomplete"
    assert last.response.output_text == answer_text(4)
    assert last.response.usage is not None and last.response.usage.output_tokens == 20


def test_responses_stream_raw_events(url: str) -> None:
    response = httpx.post(
        url + "/v1/responses",
        json={"model": "gpt-4o-mini", "input": "hi", "stream": True},
        headers={"Authorization": "Bearer k"},
    )
    frames = response.text.split("\n\n")[:-1]
    for frame in frames:
        event_line, data_line = frame.split("\n")
        assert event_line.startswith("event: response.")
        assert json.loads(data_line.removeprefix("data: "))["type"] == event_line[7:]


async def test_async_responses_stream(aoai: openai.AsyncOpenAI) -> None:
    response = await aoai.responses.create(model="gpt-4o-mini", input=PROMPT)
    assert response.usage is not None and response.usage.input_tokens == PROMPT_TOKENS
    usage = None
    async for event in await aoai.responses.create(model="gpt-4o-mini", input=PROMPT, stream=True):
        if event.type == "response.completed":
            usage = event.response.usage
    assert usage is not None and usage.output_tokens == DEFAULT_OUTPUT_TOKENS


def test_embeddings(oai: openai.OpenAI, provider: FakeProvider) -> None:
    result = oai.embeddings.create(model="text-embedding-3-small", input=["one two", "three"])
    assert [item.index for item in result.data] == [0, 1]
    assert len(result.data[0].embedding) == 1536
    assert abs(sum(x * x for x in result.data[0].embedding) - 1) < 1e-3
    assert (result.usage.prompt_tokens, result.usage.total_tokens) == (3, 3)
    # The client asks for base64 unless told otherwise; both formats are served.
    sent = [r["body"] for r in provider.requests]
    assert sent[0]["encoding_format"] == "base64"

    floats = oai.embeddings.create(
        model="text-embedding-3-large", input="x", encoding_format="float", dimensions=8
    )
    assert len(floats.data) == 1 and len(floats.data[0].embedding) == 8
    assert floats.usage.prompt_tokens == 1


def test_embeddings_wire_format(url: str) -> None:
    response = httpx.post(
        url + "/v1/embeddings",
        json={
            "model": "text-embedding-3-small",
            "input": [[1, 2, 3], [4]],
            "dimensions": 4,
            "encoding_format": "base64",
        },
        headers={"Authorization": "Bearer k"},
    )
    body = response.json()
    assert body["object"] == "list"
    assert body["usage"] == {"prompt_tokens": 4, "total_tokens": 4}
    vector = struct.unpack("<4f", base64.b64decode(body["data"][1]["embedding"]))
    assert len(vector) == 4


async def test_async_embeddings(aoai: openai.AsyncOpenAI) -> None:
    result = await aoai.embeddings.create(model="text-embedding-3-small", input=PROMPT)
    assert result.usage.prompt_tokens == PROMPT_TOKENS


def test_speech(oai: openai.OpenAI) -> None:
    response = oai.audio.speech.create(model="tts-1", voice="alloy", input="Hello world")
    assert response.response.headers["content-type"] == "audio/mpeg"
    audio = response.read()
    assert audio.startswith(b"ID3") and len(audio) > 100


def test_models(oai: openai.OpenAI, claude: anthropic.Anthropic, url: str) -> None:
    assert "gpt-4o-mini" in [model.id for model in oai.models.list()]
    assert CLAUDE in [model.id for model in claude.models.list()]
    gemini = httpx.get(url + "/v1beta/models", headers={"x-goog-api-key": "g"}).json()
    assert "models/gemini-2.5-flash" in [model["name"] for model in gemini["models"]]


# ------------------------------------------------------------------------------------------------
# Anthropic
# ------------------------------------------------------------------------------------------------


def test_anthropic_message(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model=CLAUDE, max_tokens=1024, system="Be brief.", messages=user()
    )
    assert message.type == "message"
    assert message.content[0].type == "text"
    assert message.content[0].text == ANSWER
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == PROMPT_TOKENS + 3
    assert message.usage.output_tokens == DEFAULT_OUTPUT_TOKENS
    assert message.usage.cache_creation_input_tokens == 0
    assert message.usage.cache_read_input_tokens == 0


def test_anthropic_cache_controls(claude: anthropic.Anthropic) -> None:
    text = "one two three four five six seven fake-cache-read"
    total = count_tokens(text)
    read = claude.messages.create(model=CLAUDE, max_tokens=3, messages=user(text))
    assert read.usage.cache_read_input_tokens == total // 2
    assert read.usage.input_tokens == total - total // 2
    assert read.usage.output_tokens == 3 and read.stop_reason == "max_tokens"

    text = text.replace("read", "write")
    write = claude.messages.create(model=CLAUDE, max_tokens=3, messages=user(text))
    assert write.usage.cache_creation_input_tokens == total // 2
    assert write.usage.cache_read_input_tokens == 0
    assert write.usage.input_tokens == total - total // 2


def test_anthropic_stream_helper(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(model=CLAUDE, max_tokens=1024, messages=user()) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert final.content[0].type == "text"
    assert text == ANSWER == final.content[0].text
    assert final.usage.input_tokens == PROMPT_TOKENS
    assert final.usage.output_tokens == DEFAULT_OUTPUT_TOKENS
    assert final.stop_reason == "end_turn"


def test_anthropic_raw_stream_events(claude: anthropic.Anthropic) -> None:
    events = list(claude.messages.create(model=CLAUDE, max_tokens=7, messages=user(), stream=True))
    types = [event.type for event in events]
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert types.count("content_block_delta") == 7
    start, delta = events[0], events[-2]
    assert start.type == "message_start"
    assert start.message.usage.input_tokens == PROMPT_TOKENS
    assert start.message.usage.output_tokens == 1  # the placeholder
    assert delta.type == "message_delta"
    assert delta.usage.output_tokens == 7
    assert delta.delta.stop_reason == "max_tokens"


def test_anthropic_wire_format(url: str) -> None:
    response = httpx.post(
        url + "/v1/messages",
        json={"model": CLAUDE, "max_tokens": 2, "messages": user(), "stream": True},
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = response.text.split("\n\n")[:-1]
    names = [frame.split("\n")[0].removeprefix("event: ") for frame in frames]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    for frame, name in zip(frames, names, strict=True):
        assert json.loads(frame.split("\n")[1].removeprefix("data: "))["type"] == name


def test_anthropic_bearer_and_x_api_key(url: str, provider: FakeProvider) -> None:
    with anthropic.Anthropic(auth_token="bearer-key", base_url=url, max_retries=0) as client:
        client.messages.create(model=CLAUDE, max_tokens=1, messages=user())
    httpx.post(
        url + "/v1/messages",
        json={"model": CLAUDE, "max_tokens": 1, "messages": user()},
        headers={"x-api-key": "header-key"},
    ).raise_for_status()
    assert [(r["api_key"], r["key_source"]) for r in provider.requests] == [
        ("bearer-key", "authorization"),
        ("header-key", "x-api-key"),
    ]


async def test_async_anthropic(aclaude: anthropic.AsyncAnthropic) -> None:
    message = await aclaude.messages.create(model=CLAUDE, max_tokens=100, messages=user())
    assert message.usage.output_tokens == DEFAULT_OUTPUT_TOKENS
    async with aclaude.messages.stream(model=CLAUDE, max_tokens=4, messages=user()) as stream:
        final = await stream.get_final_message()
    assert final.usage.output_tokens == 4
    assert final.usage.input_tokens == PROMPT_TOKENS


def test_anthropic_requires_max_tokens(url: str) -> None:
    response = httpx.post(
        url + "/v1/messages", json={"model": CLAUDE, "messages": user()}, headers={"x-api-key": "k"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


# ------------------------------------------------------------------------------------------------
# Gemini
# ------------------------------------------------------------------------------------------------

GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]}


def test_gemini_generate_content(url: str) -> None:
    response = httpx.post(
        url + "/v1beta/models/gemini-2.0-flash:generateContent",
        json={**GEMINI_BODY, "systemInstruction": {"parts": [{"text": "Be brief."}]}},
        headers={"x-goog-api-key": "g-key"},
    )
    body = response.json()
    candidate = body["candidates"][0]
    assert candidate["content"] == {"parts": [{"text": ANSWER}], "role": "model"}
    assert candidate["finishReason"] == "STOP"
    usage = body["usageMetadata"]
    assert usage["promptTokenCount"] == PROMPT_TOKENS + 3
    assert usage["candidatesTokenCount"] == DEFAULT_OUTPUT_TOKENS
    assert usage["totalTokenCount"] == PROMPT_TOKENS + 3 + DEFAULT_OUTPUT_TOKENS
    assert "thoughtsTokenCount" not in usage
    assert body["modelVersion"] == "gemini-2.0-flash"


def test_gemini_thinking_and_max_output(url: str) -> None:
    response = httpx.post(
        url + "/v1beta/models/gemini-2.5-pro:generateContent?key=q-key",
        json={**GEMINI_BODY, "generationConfig": {"maxOutputTokens": REASONING_TOKENS + 5}},
    )
    body = response.json()
    usage = body["usageMetadata"]
    assert usage["thoughtsTokenCount"] == REASONING_TOKENS
    assert usage["candidatesTokenCount"] == 5
    assert usage["totalTokenCount"] == PROMPT_TOKENS + REASONING_TOKENS + 5
    assert body["candidates"][0]["finishReason"] == "MAX_TOKENS"


def test_gemini_stream_sse(url: str, provider: FakeProvider) -> None:
    with httpx.stream(
        "POST",
        url + "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        json=GEMINI_BODY,
        headers={"x-goog-api-key": "g-key"},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read().decode()
    frames = raw.split("\r\n\r\n")
    assert frames[-1] == ""
    chunks = [json.loads(frame.removeprefix("data: ")) for frame in frames[:-1]]
    assert len(chunks) == DEFAULT_OUTPUT_TOKENS
    text = "".join(chunk["candidates"][0]["content"]["parts"][0]["text"] for chunk in chunks)
    assert text == ANSWER
    counts = [chunk["usageMetadata"]["candidatesTokenCount"] for chunk in chunks]
    assert counts == list(range(1, DEFAULT_OUTPUT_TOKENS + 1))  # cumulative
    last = chunks[-1]["usageMetadata"]
    assert last["promptTokenCount"] == PROMPT_TOKENS
    assert last["thoughtsTokenCount"] == REASONING_TOKENS
    assert last["totalTokenCount"] == PROMPT_TOKENS + DEFAULT_OUTPUT_TOKENS + REASONING_TOKENS
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert provider.requests[0]["model"] == "gemini-2.5-flash"
    assert provider.requests[0]["key_source"] == "x-goog-api-key"


def test_gemini_stream_json_array(url: str) -> None:
    response = httpx.post(
        url + "/v1beta/models/gemini-2.0-flash:streamGenerateContent",
        json={**GEMINI_BODY, "generationConfig": {"maxOutputTokens": 3}},
        headers={"x-goog-api-key": "g"},
    )
    chunks = response.json()
    assert len(chunks) == 3
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] == 3
    assert chunks[-1]["candidates"][0]["finishReason"] == "MAX_TOKENS"


# ------------------------------------------------------------------------------------------------
# Credentials and errors
# ------------------------------------------------------------------------------------------------


def test_missing_keys_answer_401_in_each_format(url: str) -> None:
    chat = httpx.post(url + "/v1/chat/completions", json={"model": "m", "messages": user()})
    assert chat.status_code == 401
    assert chat.json()["error"]["type"] == "invalid_request_error"
    empty = httpx.post(
        url + "/v1/chat/completions",
        json={"model": "m", "messages": user()},
        headers={"Authorization": "Bearer"},
    )
    assert empty.status_code == 401

    messages = httpx.post(url + "/v1/messages", json={"model": CLAUDE, "max_tokens": 1})
    assert messages.status_code == 401
    assert messages.json()["type"] == "error"
    assert messages.json()["error"]["type"] == "authentication_error"

    gemini = httpx.post(url + "/v1beta/models/gemini-2.0-flash:generateContent", json=GEMINI_BODY)
    assert gemini.status_code == 401
    assert gemini.json()["error"]["status"] == "UNAUTHENTICATED"

    # A Gemini key in Authorization is not Google's way: refused.
    bearer = httpx.post(
        url + "/v1beta/models/gemini-2.0-flash:generateContent",
        json=GEMINI_BODY,
        headers={"Authorization": "Bearer g"},
    )
    assert bearer.status_code == 401

    client = openai.OpenAI(api_key="k", base_url=url + "/v1", max_retries=0)
    with client, pytest.raises(openai.AuthenticationError) as unauthorized:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=user(), extra_headers={"Authorization": "Basic k"}
        )
    assert unauthorized.value.status_code == 401


def test_error_models_openai(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as server_error:
        oai.chat.completions.create(model="fake-error-500", messages=user())
    assert server_error.value.status_code == 500
    assert isinstance(server_error.value.body, dict)
    assert server_error.value.body["type"] == "server_error"

    with pytest.raises(openai.RateLimitError) as rate_limited:
        oai.responses.create(model="gpt-4o-mini", input="please fake-error-429")
    assert rate_limited.value.code == "rate_limit_exceeded"

    with pytest.raises(openai.InternalServerError):
        oai.embeddings.create(model="fake-error-503", input="x")


def test_error_models_anthropic(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.RateLimitError) as rate_limited:
        claude.messages.create(model="fake-error-429", max_tokens=5, messages=user())
    body: Any = rate_limited.value.body
    assert body == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": body["error"]["message"]},
        "request_id": body["request_id"],
    }
    assert body["request_id"].startswith("req_")
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        claude.messages.create(model=CLAUDE, max_tokens=5, messages=user("fake-error-529"))
    assert overloaded.value.status_code == 529
    overloaded_body: Any = overloaded.value.body
    assert overloaded_body["error"]["type"] == "overloaded_error"


def test_error_models_gemini(url: str) -> None:
    response = httpx.post(
        url + "/v1beta/models/fake-error-429:streamGenerateContent?alt=sse",
        json=GEMINI_BODY,
        headers={"x-goog-api-key": "g"},
    )
    assert response.status_code == 429
    assert response.json() == {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
        }
    }


def test_no_usage(oai: openai.OpenAI, claude: anthropic.Anthropic, url: str) -> None:
    completion = oai.chat.completions.create(model="fake-no-usage", messages=user())
    assert completion.usage is None
    chunks = list(
        oai.chat.completions.create(
            model="fake-no-usage",
            messages=user(),
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert all(chunk.usage is None and chunk.choices for chunk in chunks)
    response = oai.responses.create(model="fake-no-usage", input="x")
    assert response.usage is None
    raw = httpx.post(
        url + "/v1/messages",
        json={"model": "fake-no-usage", "max_tokens": 5, "messages": user()},
        headers={"x-api-key": "k"},
    ).json()
    assert "usage" not in raw
    gemini = httpx.post(
        url + "/v1beta/models/fake-no-usage:generateContent",
        json=GEMINI_BODY,
        headers={"x-goog-api-key": "g"},
    ).json()
    assert "usageMetadata" not in gemini


def test_unknown_route(url: str) -> None:
    response = httpx.post(url + "/v1/nothing/here", json={}, headers={"Authorization": "Bearer k"})
    assert response.status_code == 404
    assert "error" in response.json()


# ------------------------------------------------------------------------------------------------
# Midstream failures and timing
# ------------------------------------------------------------------------------------------------


def test_slow_control_delays_first_byte(oai: openai.OpenAI) -> None:
    started = time.perf_counter()
    oai.chat.completions.create(model="gpt-4o-mini", messages=user("fake-slow-300ms"))
    assert time.perf_counter() - started >= 0.3


def test_drop_midstream(oai: openai.OpenAI, url: str) -> None:
    received: list[str] = []
    with pytest.raises((httpx.RemoteProtocolError, openai.APIConnectionError)):
        for chunk in oai.chat.completions.create(
            model="fake-drop-midstream", messages=user(), stream=True
        ):
            received.append(chunk.choices[0].delta.content or "")
    assert 0 < len(received) < DEFAULT_OUTPUT_TOKENS

    # Not streaming: the body is cut short under a full Content-Length.
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(
            url + "/v1/messages",
            json={"model": "fake-drop-midstream", "max_tokens": 5, "messages": user()},
            headers={"x-api-key": "k"},
        )

    # The server is still fine afterwards.
    assert oai.chat.completions.create(model="gpt-4o-mini", messages=user()).usage is not None


def test_hang_midstream(url: str) -> None:
    body = {"model": "fake-hang-midstream", "messages": user(), "stream": True}
    timeout = httpx.Timeout(5, read=0.5)
    lines: list[str] = []
    started = time.perf_counter()
    with (
        httpx.Client(timeout=timeout) as client,
        client.stream(
            "POST", url + "/v1/chat/completions", json=body, headers={"Authorization": "Bearer k"}
        ) as response,
    ):
        assert response.status_code == 200
        with pytest.raises(httpx.ReadTimeout):
            for line in response.iter_lines():
                if line:
                    lines.append(line)
    assert 0 < len(lines) < DEFAULT_OUTPUT_TOKENS
    assert time.perf_counter() - started < 3


def test_error_midstream(oai: openai.OpenAI, claude: anthropic.Anthropic, url: str) -> None:
    received = 0
    with pytest.raises(openai.APIError):
        for _ in oai.chat.completions.create(
            model="fake-error-midstream", messages=user(), stream=True
        ):
            received += 1
    assert received > 0

    events = list(oai.responses.create(model="fake-error-midstream", input="x", stream=True))
    assert events[-1].type == "response.failed"
    assert events[-1].response.usage is not None

    with (
        pytest.raises(anthropic.APIStatusError),
        claude.messages.stream(
            model="fake-error-midstream", max_tokens=50, messages=user()
        ) as stream,
    ):
        stream.get_final_message()

    raw = httpx.post(
        url + "/v1beta/models/fake-error-midstream:streamGenerateContent?alt=sse",
        json=GEMINI_BODY,
        headers={"x-goog-api-key": "g"},
    ).text
    frames = [json.loads(f.removeprefix("data: ")) for f in raw.split("\r\n\r\n")[:-1]]
    assert "candidates" in frames[0]
    assert frames[-1]["error"]["status"] == "INTERNAL"

    array = httpx.post(
        url + "/v1beta/models/fake-error-midstream:streamGenerateContent",
        json=GEMINI_BODY,
        headers={"x-goog-api-key": "g"},
    ).json()
    assert "candidates" in array[0] and array[-1]["error"]["code"] == 500


def test_responses_failed_event_keeps_sequence(url: str) -> None:
    response = httpx.post(
        url + "/v1/responses",
        json={"model": "gpt-4o-mini", "input": "fake-error-midstream", "stream": True},
        headers={"Authorization": "Bearer k"},
    )
    events = [json.loads(f.split("\n")[1][6:]) for f in response.text.split("\n\n")[:-1]]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["status"] == "failed"
    assert events[-1]["response"]["usage"]["input_tokens"] == count_tokens("fake-error-midstream")


def test_hang_not_streaming_sends_half_the_body(url: str) -> None:
    body = {"model": "fake-hang-midstream", "input": "x"}
    received = b""
    with (
        httpx.Client(timeout=httpx.Timeout(5, read=0.4)) as client,
        client.stream(
            "POST", url + "/v1/responses", json=body, headers={"Authorization": "Bearer k"}
        ) as response,
    ):
        length = int(response.headers["content-length"])
        with pytest.raises(httpx.ReadTimeout):
            for part in response.iter_raw():
                received += part
    assert 0 < len(received) < length


def test_latency_and_chunk_delay() -> None:
    app = create_fake_provider_app(latency_ms=200, chunk_delay_ms=40)
    with serve_in_thread(app) as server:
        headers = {"Authorization": "Bearer k"}
        body = {"model": "gpt-4o-mini", "messages": user("fake-tokens-5")}
        started = time.perf_counter()
        httpx.post(server.url + "/v1/chat/completions", json=body, headers=headers)
        assert time.perf_counter() - started >= 0.2

        arrivals: list[float] = []
        started = time.perf_counter()
        with httpx.stream(
            "POST",
            server.url + "/v1/chat/completions",
            json={**body, "stream": True},
            headers=headers,
        ) as response:
            for line in response.iter_lines():
                if line:
                    arrivals.append(time.perf_counter() - started)
    # role chunk + 5 words + finish chunk + [DONE], one by one, 40 ms apart.
    assert len(arrivals) == 8
    assert arrivals[0] >= 0.2
    assert arrivals[-1] - arrivals[0] >= 7 * 0.04 * 0.9
    assert all(b - a >= 0.02 for a, b in itertools.pairwise(arrivals))


# ------------------------------------------------------------------------------------------------
# Recording
# ------------------------------------------------------------------------------------------------


def test_recording(oai: openai.OpenAI, url: str) -> None:
    oai.chat.completions.create(
        model="gpt-4o-mini", messages=user(), extra_headers={"x-extra": "1"}
    )
    httpx.post(
        url + "/v1beta/models/gemini-2.0-flash:generateContent?key=query-key", json=GEMINI_BODY
    )
    recorded = httpx.get(url + "/_fake/requests").json()["data"]
    assert len(recorded) == 2
    chat, gemini = recorded
    assert chat["method"] == "POST"
    assert chat["path"] == "/v1/chat/completions"
    assert chat["headers"]["authorization"] == "Bearer sk-provider-key"
    assert chat["headers"]["x-extra"] == "1"
    assert chat["body"]["messages"] == user()
    assert (chat["provider"], chat["endpoint"], chat["model"]) == ("openai", "chat", "gpt-4o-mini")
    assert (chat["api_key"], chat["key_source"]) == ("sk-provider-key", "authorization")
    assert gemini["query"] == "key=query-key"
    assert (gemini["api_key"], gemini["key_source"]) == ("query-key", "query:key")
    assert gemini["model"] == "gemini-2.0-flash"

    assert httpx.delete(url + "/_fake/requests").status_code == 204
    assert httpx.get(url + "/_fake/requests").json()["data"] == []


def test_recording_is_bounded_and_keeps_bad_requests() -> None:
    app = create_fake_provider_app(max_recorded=3)
    provider: FakeProvider = app.state.fake_provider
    with serve_in_thread(app) as server:
        for i in range(5):
            httpx.post(server.url + "/v1/chat/completions", content=f"not json {i}")
        assert httpx.get(server.url + "/_fake/health").json() == {"ok": True}
    recorded = provider.requests
    assert [r["body_text"] for r in recorded] == ["not json 2", "not json 3", "not json 4"]
    assert all(r["body"] is None and r["api_key"] is None for r in recorded)
    assert [r["seq"] for r in recorded] == [3, 4, 5]


def test_elevenlabs_tts(url: str) -> None:
    response = httpx.post(
        url + "/v1/text-to-speech/voice123",
        json={"text": "Hello world", "model_id": "eleven_multilingual_v2"},
        headers={"xi-api-key": "xi"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/mpeg"
    assert response.headers["x-character-count"] == "11"
    missing = httpx.post(url + "/v1/text-to-speech/voice123", json={"text": "x"})
    assert missing.status_code == 401
    assert missing.json()["detail"]["status"] == "invalid_api_key"


# ------------------------------------------------------------------------------------------------
# The threaded server helper
# ------------------------------------------------------------------------------------------------


def test_server_thread_lifecycle() -> None:
    server = ServerThread(create_fake_provider_app())
    assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}"
    with server:
        assert httpx.get(server.url + "/_fake/health").status_code == 200
        with pytest.raises(RuntimeError):
            server.start()
    server.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/_fake/health")


def test_server_thread_reports_startup_failure() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.failed", "message": "boom"})

    with pytest.raises(RuntimeError, match="failed to start"):
        ServerThread(app, lifespan="on", log_level="critical").start()
