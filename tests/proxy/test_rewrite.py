"""The rewrite door, `/v1/rewrite/{format}/{provider URL}`, with the official clients over real HTTP
against the fake provider: an OpenAI client reaching the Anthropic API and an Anthropic client
reaching the OpenAI API, plain and streamed. Each call is billed once, from the provider's own
usage (`docs/forward-proxy.md#rewrite`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anthropic
import httpx
import openai
import pytest

from lava_server.testing.fake_provider import (
    DEFAULT_OUTPUT_TOKENS,
    FakeProvider,
    answer_text,
    count_tokens,
)
from lava_server.wallets.service import check as ledger_check
from lavapayments.forward_token import encode_forward_token
from tests.proxy.billing_checks import assert_billed
from tests.proxy.conftest import Billed

SYSTEM = "You are a terse assistant."
PROMPT = "Hello there, how are you today?"
INPUT_TOKENS = count_tokens(SYSTEM) + count_tokens(PROMPT)
ANSWER = answer_text(DEFAULT_OUTPUT_TOKENS)
GPT = "gpt-4o-mini"
CLAUDE = "claude-haiku-4-5"
ANTHROPIC_URL = "https://api.anthropic.com/v1/messages"
OPENAI_URL = "https://api.openai.com/v1/chat/completions"


@pytest.fixture
def billed_byok(billed: Billed) -> Billed:
    """The forward token carries the merchant's own provider key (the server has a managed key
    for OpenAI only)."""
    billed.token = encode_forward_token(
        secret_key=billed.merchant.secret_key,
        connection_secret=billed.connection["connection_secret"],
        product_secret=billed.product["product_secret"],
        provider_key="sk-merchant-key",
    )
    return billed


def rewrite_url(billed: Billed, fmt: str, provider_url: str) -> str:
    return f"{billed.base}/v1/rewrite/{fmt}/{provider_url}"


async def assert_billed_once(
    billed: Billed, db: Any, request_id: str, *, provider: str, model: str, input_tokens: int
) -> dict[str, Any]:
    """One request row, completed with the provider's usage, and one debit of its price."""
    stored = await billed.request(request_id)
    assert_billed(
        stored,
        billed.product,
        provider=provider,
        model=model,
        input_tokens=input_tokens,
        output_tokens=DEFAULT_OUTPUT_TOKENS,
    )
    assert [r["request_id"] for r in await billed.requests()] == [request_id]
    assert await billed.balance() == Decimal(10) - Decimal(str(stored["total_wallet_cost"]))
    assert (await ledger_check(db)).problems == []
    return stored


# ---------------------------------------------------------------------- OpenAI client -> Anthropic


def openai_to_anthropic_client(billed: Billed) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=rewrite_url(billed, "openai", ANTHROPIC_URL),
        api_key=billed.token,
        max_retries=0,
    )


OPENAI_MESSAGES: list[Any] = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": PROMPT},
]


async def test_openai_client_to_anthropic(billed_byok: Billed, fake: FakeProvider, db):
    billed = billed_byok
    async with openai_to_anthropic_client(billed) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model=CLAUDE, messages=OPENAI_MESSAGES, temperature=0.5, stop=["\n\n"]
        )
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == ANSWER
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == INPUT_TOKENS
    assert completion.usage.completion_tokens == DEFAULT_OUTPUT_TOKENS
    sent = fake.requests[-1]
    assert sent["path"] == "/v1/messages"
    assert sent["api_key"] == "sk-merchant-key" and sent["key_source"] == "x-api-key"
    assert sent["headers"]["anthropic-version"] == "2023-06-01"
    assert sent["body"] == {
        "model": CLAUDE,
        "temperature": 0.5,
        "system": [{"type": "text", "text": SYSTEM}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": PROMPT}]}],
        "max_tokens": 4096,
        "stop_sequences": ["\n\n"],
    }
    stored = await assert_billed_once(
        billed,
        db,
        raw.headers["x-lava-request-id"],
        provider="anthropic",
        model=CLAUDE,
        input_tokens=INPUT_TOKENS,
    )
    assert stored["endpoint"] == "POST /v1/messages"


async def test_openai_client_to_anthropic_max_tokens(billed_byok: Billed, fake: FakeProvider):
    async with openai_to_anthropic_client(billed_byok) as client:
        completion = await client.chat.completions.create(
            model=CLAUDE, messages=OPENAI_MESSAGES, max_completion_tokens=5
        )
    assert completion.choices[0].message.content == answer_text(5)
    assert completion.choices[0].finish_reason == "length"
    assert fake.requests[-1]["body"]["max_tokens"] == 5


@pytest.mark.parametrize("include_usage", [False, True])
async def test_openai_client_to_anthropic_streamed(
    billed_byok: Billed, fake: FakeProvider, db, include_usage: bool
):
    billed = billed_byok
    options: Any = {"include_usage": True} if include_usage else openai.omit
    async with openai_to_anthropic_client(billed) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model=CLAUDE, messages=OPENAI_MESSAGES, stream=True, stream_options=options
        )
        chunks = [chunk async for chunk in raw.parse()]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and finishes.count("stop") == 1
    usage_chunks = [c for c in chunks if c.usage]
    if include_usage:
        assert len(usage_chunks) == 1 and not usage_chunks[0].choices
        assert usage_chunks[0].usage is not None
        assert usage_chunks[0].usage.prompt_tokens == INPUT_TOKENS
        assert usage_chunks[0].usage.completion_tokens == DEFAULT_OUTPUT_TOKENS
    else:
        assert usage_chunks == []
    assert fake.requests[-1]["body"]["stream"] is True
    assert "stream_options" not in fake.requests[-1]["body"]
    await assert_billed_once(
        billed,
        db,
        raw.headers["x-lava-request-id"],
        provider="anthropic",
        model=CLAUDE,
        input_tokens=INPUT_TOKENS,
    )


# ---------------------------------------------------------------------- Anthropic client -> OpenAI


def anthropic_to_openai_client(billed: Billed) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=rewrite_url(billed, "anthropic", OPENAI_URL),
        api_key=billed.token,
        max_retries=0,
    )


ANTHROPIC_MESSAGES: list[Any] = [{"role": "user", "content": PROMPT}]


async def test_anthropic_client_to_openai(billed: Billed, fake: FakeProvider, db):
    async with anthropic_to_openai_client(billed) as client:
        raw = await client.messages.with_raw_response.create(
            model=GPT, max_tokens=100, system=SYSTEM, messages=ANTHROPIC_MESSAGES
        )
    message = await raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text" and message.content[0].text == ANSWER
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == INPUT_TOKENS
    assert message.usage.output_tokens == DEFAULT_OUTPUT_TOKENS
    sent = fake.requests[-1]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["api_key"] == "sk-managed-openai"
    assert "anthropic-version" not in sent["headers"]
    assert sent["body"] == {
        "model": GPT,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": PROMPT},
        ],
        "max_completion_tokens": 100,
    }
    stored = await assert_billed_once(
        billed,
        db,
        raw.headers["x-lava-request-id"],
        provider="openai",
        model=GPT,
        input_tokens=INPUT_TOKENS,
    )
    assert stored["endpoint"] == "POST /v1/chat/completions"


async def test_anthropic_client_to_openai_streamed(billed: Billed, fake: FakeProvider, db):
    async with (
        anthropic_to_openai_client(billed) as client,
        client.messages.stream(
            model=GPT, max_tokens=100, system=SYSTEM, messages=ANTHROPIC_MESSAGES
        ) as stream,
    ):
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
        request_id = stream.response.headers["x-lava-request-id"]
    assert text == ANSWER
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens == INPUT_TOKENS
    assert final.usage.output_tokens == DEFAULT_OUTPUT_TOKENS
    assert fake.requests[-1]["body"]["stream_options"] == {"include_usage": True}
    await assert_billed_once(
        billed, db, request_id, provider="openai", model=GPT, input_tokens=INPUT_TOKENS
    )


async def test_anthropic_client_to_openai_max_tokens_streamed(billed: Billed, fake: FakeProvider):
    async with (
        anthropic_to_openai_client(billed) as client,
        client.messages.stream(model=GPT, max_tokens=3, messages=ANTHROPIC_MESSAGES) as stream,
    ):
        final = await stream.get_final_message()
    assert final.stop_reason == "max_tokens"
    assert final.content[0].type == "text" and final.content[0].text == answer_text(3)
    assert final.usage.output_tokens == 3


# ---------------------------------------------------------------------- URL forms and refusals


@pytest.mark.parametrize(
    "provider_url",
    [
        "https://api.anthropic.com/v1/messages",
        "api.anthropic.com/v1/messages",
        "https:/api.anthropic.com/v1/messages",
        "https%3A%2F%2Fapi.anthropic.com%2Fv1%2Fmessages",
        "https://api.anthropic.com/v1/messages/chat/completions",
        "https://api.anthropic.com/v1/chat/completions",
        "https://api.anthropic.com",
    ],
)
async def test_url_forms(billed_byok: Billed, fake: FakeProvider, provider_url: str):
    body = {"model": CLAUDE, "messages": [{"role": "user", "content": PROMPT}]}
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            rewrite_url(billed_byok, "openai", provider_url),
            json=body,
            headers={"x-api-key": billed_byok.token},
        )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == ANSWER
    assert fake.requests[-1]["path"] == "/v1/messages"


async def test_same_shape_is_a_plain_relay(billed: Billed, fake: FakeProvider, db):
    """What the Node SDK's `gateway(url, {format: 'openai'})` sends to an OpenAI URL."""
    body = {"model": GPT, "messages": [{"role": "user", "content": PROMPT}]}
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            rewrite_url(billed, "openai", OPENAI_URL),
            json=body,
            headers={"Authorization": f"Bearer {billed.token}"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["object"] == "chat.completion"
    assert fake.requests[-1]["body"] == body
    await assert_billed_once(
        billed,
        db,
        response.headers["x-lava-request-id"],
        provider="openai",
        model=GPT,
        input_tokens=count_tokens(PROMPT),
    )


@pytest.mark.parametrize(
    ("path", "param", "words"),
    [
        ("google/https://api.openai.com/v1/chat/completions", "format", "not supported yet"),
        ("bedrock/https://api.openai.com/v1/chat/completions", "format", "not supported yet"),
        ("cohere/https://api.openai.com/v1/chat/completions", "format", "Unknown rewrite format"),
        (
            "openai/https://generativelanguage.googleapis.com/v1beta/models/x:generateContent",
            "url",
            "not supported yet",
        ),
        ("openai/https://evil.example.com/v1/messages", "url", "not a registered provider"),
        ("openai/http://api.anthropic.com/v1/messages", "url", "https"),
        ("openai/https://api.anthropic.com/v1/models", "url", "chat calls only"),
        ("openai/", "url", "needs the provider URL"),
    ],
)
async def test_refusals_name_the_field(
    billed: Billed, fake: FakeProvider, path: str, param: str, words: str
):
    body = {"model": GPT, "messages": [{"role": "user", "content": PROMPT}]}
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{billed.base}/v1/rewrite/{path}",
            json=body,
            headers={"Authorization": f"Bearer {billed.token}"},
        )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and words in error["message"], error
    assert fake.requests == []
    assert await billed.requests() == []


async def test_untranslatable_requests_are_refused_before_anything_is_held(
    billed_byok: Billed, fake: FakeProvider
):
    url = rewrite_url(billed_byok, "openai", ANTHROPIC_URL)
    headers = {"Authorization": f"Bearer {billed_byok.token}"}
    async with httpx.AsyncClient(timeout=30) as http:
        wrong = [
            (b"[1, 2]", "body"),
            (b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
            (b'{"model": "m", "messages": "x"}', "messages"),
            (
                b'{"model": "m", "messages": [{"role": "robot", "content": "x"}]}',
                "messages[0].role",
            ),
            (b'{"model": "m", "n": 2, "messages": [{"role": "user", "content": "x"}]}', "n"),
            (
                b'{"model": "m", "messages": [{"role": "user", "content": [{"type": "audio"}]}]}',
                "messages[0].content[0].type",
            ),
        ]
        for body, param in wrong:
            response = await http.post(url, content=body, headers=headers)
            assert response.status_code == 400, response.text
            assert response.json()["error"]["param"] == param
        response = await http.get(url, headers=headers)
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        response = await http.post(url, content=b"[1, 2]")
        assert response.status_code == 401
    assert fake.requests == []
    assert await billed_byok.requests() == []


async def test_provider_error_passes_with_its_status(billed_byok: Billed, fake: FakeProvider):
    """The provider refuses: the client gets its status (and raises on it); nothing is billed."""
    async with openai_to_anthropic_client(billed_byok) as client:
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(
                model=CLAUDE, messages=[{"role": "user", "content": "fake-error-429"}]
            )
    assert fake.requests[-1]["path"] == "/v1/messages"
    stored = await billed_byok.requests()
    assert len(stored) == 1 and stored[0]["status"] == "error"
    assert await billed_byok.balance() == Decimal(10)


# ---------------------------------------------------------------------- sync clients, cache, breaks


async def test_sync_openai_client_cache_reads_from_anthropic(
    billed_byok: Billed, fake: FakeProvider, db
):
    """Anthropic's cache reads come back as OpenAI's cached tokens, and are billed as such."""
    prompt = PROMPT + " fake-cache-read"
    input_tokens = count_tokens(prompt)
    cached = input_tokens // 2
    with openai.OpenAI(
        base_url=rewrite_url(billed_byok, "openai", "https://api.anthropic.com"),
        api_key=billed_byok.token,
        max_retries=0,
    ) as client:
        raw = client.chat.completions.with_raw_response.create(
            model=CLAUDE, messages=[{"role": "user", "content": prompt}]
        )
    completion = raw.parse()
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == input_tokens
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == cached
    assert fake.requests[-1]["path"] == "/v1/messages"
    stored = await billed_byok.request(raw.headers["x-lava-request-id"])
    assert_billed(
        stored,
        billed_byok.product,
        provider="anthropic",
        model=CLAUDE,
        input_tokens=input_tokens,
        output_tokens=DEFAULT_OUTPUT_TOKENS,
        cache_read_tokens=cached,
    )
    assert len(await billed_byok.requests()) == 1
    assert (await ledger_check(db)).problems == []


async def test_sync_anthropic_client_with_the_providers_base_url(
    billed: Billed, fake: FakeProvider
):
    """Base URL `.../rewrite/anthropic/https://api.openai.com/v1`: the client asks for
    `.../v1/v1/messages`, which means OpenAI's chat endpoint."""
    with anthropic.Anthropic(
        base_url=rewrite_url(billed, "anthropic", "https://api.openai.com/v1"),
        api_key=billed.token,
        max_retries=0,
    ) as client:
        message = client.messages.create(model=GPT, max_tokens=100, messages=ANTHROPIC_MESSAGES)
        with client.messages.stream(
            model=GPT, max_tokens=100, messages=ANTHROPIC_MESSAGES
        ) as stream:
            text = "".join(stream.text_stream)
    assert message.content[0].type == "text" and message.content[0].text == ANSWER
    assert text == ANSWER
    assert [r["path"] for r in fake.requests] == ["/v1/chat/completions"] * 2


async def test_provider_error_midstream_reaches_the_openai_client(
    billed_byok: Billed, fake: FakeProvider, db
):
    """Anthropic's `error` event becomes an OpenAI error chunk, which the client raises; the
    call is billed as broken off (at least its input, status `error`)."""
    async with openai_to_anthropic_client(billed_byok) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model=CLAUDE,
            messages=[{"role": "user", "content": PROMPT + " fake-error-midstream"}],
            stream=True,
        )
        with pytest.raises(openai.APIError, match="Overloaded"):
            _ = [chunk async for chunk in raw.parse()]
    stored = await billed_byok.request(raw.headers["x-lava-request-id"])
    assert stored["status"] == "error"
    assert stored["model_usage"]["input_tokens"] == count_tokens(PROMPT + " fake-error-midstream")
    assert await billed_byok.balance() == Decimal(10) - Decimal(str(stored["total_wallet_cost"]))
    assert (await ledger_check(db)).problems == []


async def test_provider_error_midstream_reaches_the_anthropic_client(
    billed: Billed, fake: FakeProvider
):
    async with anthropic_to_openai_client(billed) as client:
        with pytest.raises(anthropic.APIStatusError):
            async with client.messages.stream(
                model=GPT,
                max_tokens=100,
                messages=[{"role": "user", "content": PROMPT + " fake-error-midstream"}],
            ) as stream:
                _ = [event async for event in stream]
    stored = await billed.requests()
    assert len(stored) == 1 and stored[0]["status"] == "error"


async def test_provider_drop_in_a_whole_answer_is_a_502(
    billed_byok: Billed, fake: FakeProvider, db
):
    """A whole answer is translated once complete: when the provider drops it halfway, the client
    has nothing yet and gets a 502 (never a 500); the call is billed for its input."""
    prompt = PROMPT + " fake-drop-midstream"
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            rewrite_url(billed_byok, "openai", ANTHROPIC_URL),
            json={"model": CLAUDE, "messages": [{"role": "user", "content": prompt}]},
            headers={"Authorization": f"Bearer {billed_byok.token}"},
        )
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "upstream_error"
    stored = await billed_byok.request(response.headers["x-lava-request-id"])
    assert stored["status"] == "error"
    assert stored["model_usage"]["input_tokens"] > 0  # what was used, at least the input
    assert await billed_byok.balance() == Decimal(10) - Decimal(str(stored["total_wallet_cost"]))
    assert (await ledger_check(db)).problems == []


async def test_provider_drop_midstream_drops_the_client(billed: Billed, fake: FakeProvider, db):
    async with anthropic_to_openai_client(billed) as client:
        with pytest.raises(anthropic.APIConnectionError):
            async with client.messages.stream(
                model=GPT,
                max_tokens=100,
                messages=[{"role": "user", "content": PROMPT + " fake-drop-midstream"}],
            ) as stream:
                _ = [event async for event in stream]
    stored = await billed.requests()
    assert len(stored) == 1
    settled = await billed.request(stored[0]["request_id"])
    assert settled["status"] == "error"
    assert (await ledger_check(db)).problems == []
