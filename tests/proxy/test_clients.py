"""The official clients through our server to the fake provider, set up as the README shows:
`base_url="http://HOST/v1/forward?u=<provider base URL>"`, `api_key=<forward token>`.

Each test checks what the client got against what the provider sends (the fake's deterministic
answer and usage), and the stored request against that usage priced per `docs/pricing.md`.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import anthropic
import httpx
import openai

from lava_server.testing.fake_provider import DEFAULT_OUTPUT_TOKENS, answer_text, count_tokens
from lava_server.wallets.service import check as ledger_check
from tests.proxy.billing_checks import assert_billed
from tests.proxy.conftest import Billed

PROMPT = "Hello there, how are you today?"
PROMPT_TOKENS = count_tokens(PROMPT)
ANSWER = answer_text(DEFAULT_OUTPUT_TOKENS)
MESSAGES = [{"role": "user", "content": PROMPT}]
GPT = "gpt-4o-mini"
CLAUDE = "claude-haiku-4-5"
GEMINI = "gemini-2.0-flash"
OPENAI_BASE = "https://api.openai.com/v1"
ANTHROPIC_BASE = "https://api.anthropic.com"
GOOGLE_BASE = "https://generativelanguage.googleapis.com/v1beta"


def openai_client(billed: Billed) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=billed.forward_url(OPENAI_BASE), api_key=billed.token, max_retries=0
    )


def async_openai_client(billed: Billed) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=billed.forward_url(OPENAI_BASE), api_key=billed.token, max_retries=0
    )


def anthropic_client(billed: Billed, base: str = ANTHROPIC_BASE) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=billed.forward_url(base), api_key=billed.token, max_retries=0
    )


async def check_billed(billed: Billed, request_id: str, **expected: object) -> dict[str, object]:
    stored = await billed.request(request_id)
    assert_billed(stored, billed.product, **expected)  # type: ignore[arg-type]
    return stored


async def test_openai_sync_not_streaming(billed, fake, db):
    with openai_client(billed) as client:
        raw = client.chat.completions.with_raw_response.create(model=GPT, messages=MESSAGES)
    completion = raw.parse()
    assert completion.choices[0].message.content == ANSWER
    assert completion.usage.prompt_tokens == PROMPT_TOKENS
    assert completion.usage.completion_tokens == DEFAULT_OUTPUT_TOKENS
    request_id = raw.headers["x-lava-request-id"]
    assert raw.headers["x-request-id"].startswith("req_")  # the provider's own header, relayed
    stored = await check_billed(
        billed,
        request_id,
        provider="openai",
        model=GPT,
        input_tokens=PROMPT_TOKENS,
        output_tokens=DEFAULT_OUTPUT_TOKENS,
    )
    assert stored["response_id"] == completion.id
    assert stored["endpoint"] == "POST /v1/chat/completions"
    assert stored["provider_key_type"] == "managed"
    sent = fake.requests[-1]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["api_key"] == "sk-managed-openai"
    assert await billed.balance() == Decimal(10) - Decimal(str(stored["total_wallet_cost"]))
    assert (await ledger_check(db)).problems == []


async def test_openai_sync_streaming_without_include_usage(billed, fake, db):
    """We ask the provider for usage; the client does not see the extra usage chunk."""
    with openai_client(billed) as client:
        raw = client.chat.completions.with_raw_response.create(
            model=GPT, messages=MESSAGES, stream=True
        )
        chunks = list(raw.parse())
    assert all(not chunk.usage for chunk in chunks)
    assert all(chunk.choices for chunk in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == ANSWER
    assert fake.requests[-1]["body"]["stream_options"] == {"include_usage": True}
    await check_billed(
        billed,
        raw.headers["x-lava-request-id"],
        provider="openai",
        model=GPT,
        input_tokens=PROMPT_TOKENS,
        output_tokens=DEFAULT_OUTPUT_TOKENS,
    )
    assert (await ledger_check(db)).problems == []


async def test_openai_sync_streaming_with_include_usage(billed, fake):
    with openai_client(billed) as client:
        raw = client.chat.completions.with_raw_response.create(
            model=GPT, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(raw.parse())
    usage_chunks = [c for c in chunks if c.usage]
    assert len(usage_chunks) == 1 and not usage_chunks[0].choices
    assert usage_chunks[0].usage.completion_tokens == DEFAULT_OUTPUT_TOKENS
    await check_billed(
        billed,
        raw.headers["x-lava-request-id"],
        provider="openai",
        model=GPT,
        input_tokens=PROMPT_TOKENS,
        output_tokens=DEFAULT_OUTPUT_TOKENS,
    )


async def test_openai_async_not_streaming(billed, fake):
    async with async_openai_client(billed) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model=GPT, messages=MESSAGES, max_tokens=5
        )
    completion = raw.parse()
    assert completion.choices[0].message.content == answer_text(5)
    assert completion.choices[0].finish_reason == "length"
    await check_billed(
        billed,
        raw.headers["x-lava-request-id"],
        provider="openai",
        model=GPT,
        input_tokens=PROMPT_TOKENS,
        output_tokens=5,
    )


async def test_openai_async_streaming_both_ways(billed, fake, db):
    async with async_openai_client(billed) as client:
        for include_usage in (False, True):
            options = {"include_usage": True} if include_usage else None
            raw = await client.chat.completions.with_raw_response.create(
                model=GPT,
                messages=MESSAGES,
                stream=True,
                **({"stream_options": options} if options else {}),
            )
            chunks = [chunk async for chunk in raw.parse()]
            assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER
            assert sum(1 for c in chunks if c.usage) == (1 if include_usage else 0)
            await check_billed(
                billed,
                raw.headers["x-lava-request-id"],
                provider="openai",
                model=GPT,
                input_tokens=PROMPT_TOKENS,
                output_tokens=DEFAULT_OUTPUT_TOKENS,
                prior_units=(PROMPT_TOKENS + DEFAULT_OUTPUT_TOKENS) * include_usage,
            )
    assert (await ledger_check(db)).problems == []


async def test_openai_responses_and_embeddings(billed, fake):
    async with async_openai_client(billed) as client:
        raw = await client.responses.with_raw_response.create(model=GPT, input=PROMPT)
        response = raw.parse()
        assert response.output_text == ANSWER
        await check_billed(
            billed,
            raw.headers["x-lava-request-id"],
            provider="openai",
            model=GPT,
            input_tokens=PROMPT_TOKENS,
            output_tokens=DEFAULT_OUTPUT_TOKENS,
        )
        stream = await client.responses.create(model=GPT, input=PROMPT, stream=True)
        events = [event async for event in stream]
        assert events[-1].type == "response.completed"
        embedded = await client.embeddings.with_raw_response.create(
            model="text-embedding-3-small", input=PROMPT
        )
        assert embedded.parse().usage.prompt_tokens == PROMPT_TOKENS
    stored = await billed.request(embedded.headers["x-lava-request-id"])
    assert stored["model_usage"]["input_tokens"] == PROMPT_TOKENS
    assert stored["model_usage"]["output_tokens"] == 0
    assert len(await billed.requests()) == 3


async def test_anthropic_not_streaming(billed, fake, db, monkeypatch):
    # No managed Anthropic key on this server: the merchant brings its own in the token.
    from lavapayments.forward_token import encode_forward_token

    billed.token = encode_forward_token(
        secret_key=billed.merchant.secret_key,
        connection_secret=billed.connection["connection_secret"],
        product_secret=billed.product["product_secret"],
        provider_key="sk-ant-merchant",
    )
    with anthropic_client(billed) as client:
        raw = client.messages.with_raw_response.create(
            model=CLAUDE, max_tokens=100, messages=MESSAGES
        )
    message = raw.parse()
    assert message.content[0].text == ANSWER
    assert message.usage.input_tokens == PROMPT_TOKENS
    sent = fake.requests[-1]
    assert sent["path"] == "/v1/messages"
    assert sent["api_key"] == "sk-ant-merchant" and sent["key_source"] == "x-api-key"
    assert "authorization" not in sent["headers"]
    assert sent["headers"]["anthropic-version"]
    stored = await check_billed(
        billed,
        raw.headers["x-lava-request-id"],
        provider="anthropic",
        model=CLAUDE,
        input_tokens=PROMPT_TOKENS,
        output_tokens=DEFAULT_OUTPUT_TOKENS,
    )
    assert stored["provider_key_type"] == "unmanaged"
    assert (await ledger_check(db)).problems == []


async def test_anthropic_streaming_with_cache_reads_and_sdk_provider_url(billed, fake):
    """`providers.anthropic` of the SDK ends in /v1: the client then asks for /v1/v1/messages."""
    from lavapayments.forward_token import encode_forward_token

    billed.token = encode_forward_token(
        secret_key=billed.merchant.secret_key,
        connection_secret=billed.connection["connection_secret"],
        product_secret=billed.product["product_secret"],
        provider_key="sk-ant-merchant",
    )
    prompt = PROMPT + " fake-cache-read"
    messages = [{"role": "user", "content": prompt}]
    with (
        anthropic_client(billed, base="https://api.anthropic.com/v1") as client,
        client.messages.stream(model=CLAUDE, max_tokens=100, messages=messages) as stream,
    ):
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
        request_id = stream.response.headers["x-lava-request-id"]
    assert text == ANSWER
    input_tokens = count_tokens(prompt)
    cached = input_tokens // 2
    assert final.usage.cache_read_input_tokens == cached
    assert final.usage.input_tokens + cached == input_tokens
    assert fake.requests[-1]["path"] == "/v1/messages"
    await check_billed(
        billed,
        request_id,
        provider="anthropic",
        model=CLAUDE,
        input_tokens=input_tokens,
        output_tokens=DEFAULT_OUTPUT_TOKENS,
        cache_read_tokens=cached,
    )


async def test_gemini_generate_and_stream_with_httpx(billed, fake, db):
    """Google-style calls: the key as `x-goog-api-key` or `?key=`, both streaming forms."""
    from lavapayments.forward_token import encode_forward_token

    token = encode_forward_token(
        secret_key=billed.merchant.secret_key,
        connection_secret=billed.connection["connection_secret"],
        product_secret=billed.product["product_secret"],
        provider_key="goog-merchant-key",
    )
    body = {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]}
    url = billed.forward_url(f"{GOOGLE_BASE}/models/{GEMINI}")
    async with httpx.AsyncClient(timeout=30) as http:
        plain = await http.post(
            url.replace(GEMINI, GEMINI + ":generateContent"),
            json=body,
            headers={"x-goog-api-key": token},
        )
        assert plain.status_code == 200, plain.text
        answer = plain.json()
        assert answer["candidates"][0]["content"]["parts"][0]["text"] == ANSWER
        sent = fake.requests[-1]
        assert sent["api_key"] == "goog-merchant-key" and sent["key_source"] == "x-goog-api-key"
        sse = await http.post(
            url + ":streamGenerateContent&alt=sse&key=" + token.replace("+", "%2B"), json=body
        )
        assert sse.status_code == 200, sse.text
        assert sse.headers["content-type"].startswith("text/event-stream")
        sent = fake.requests[-1]
        assert sent["query"] == "alt=sse"  # our token (?key=) is not forwarded
        assert sent["api_key"] == "goog-merchant-key"
        array = await http.post(
            url + ":streamGenerateContent", json=body, headers={"x-goog-api-key": token}
        )
        pieces = json.loads(array.text)
        assert "".join(p["candidates"][0]["content"]["parts"][0]["text"] for p in pieces) == ANSWER
    units = PROMPT_TOKENS + DEFAULT_OUTPUT_TOKENS
    for index, response in enumerate((plain, sse, array)):
        await check_billed(
            billed,
            response.headers["x-lava-request-id"],
            provider="google",
            model=GEMINI,
            input_tokens=PROMPT_TOKENS,
            output_tokens=DEFAULT_OUTPUT_TOKENS,
            prior_units=units * index,
        )
    assert (await ledger_check(db)).problems == []


_VOLATILE = re.compile(
    rb'("(?:id|created|created_at|responseId|system_fingerprint)"\s*:\s*)("[^"]*"|\d+)'
)


async def test_relayed_bytes_are_the_providers(billed, fake, fake_server):
    """Byte for byte (ids and clocks aside), the client gets what the provider sends."""
    body = {
        "model": GPT,
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    async with httpx.AsyncClient(timeout=30) as http:
        direct = await http.post(
            fake_server.url + "/v1/chat/completions",
            json=body,
            headers={"Authorization": "Bearer sk-direct"},
        )
        proxied = await http.post(
            billed.forward_url(OPENAI_BASE + "/chat/completions"),
            json=body,
            headers={"Authorization": f"Bearer {billed.token}"},
        )
    assert proxied.status_code == direct.status_code == 200
    assert _VOLATILE.sub(rb"\1X", proxied.content) == _VOLATILE.sub(rb"\1X", direct.content)
    for name in ("content-type", "x-request-id", "openai-processing-ms"):
        assert name in proxied.headers
