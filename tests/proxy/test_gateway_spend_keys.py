"""Spend keys as the provider key of the gateway doors (issue 14, point 2): the official `openai`
and `anthropic` clients pointed at our server with a `lava_sk_` key bound to a funded customer
call models of both providers, plain and streamed; each call is charged to the customer's
wallet at the meter's rate. A model outside the key's `allowed_models` is a 403, nothing sent
or charged (`docs/forward-proxy.md#gateway`, `docs/current-api.md#spend-keys`).

These need the forward proxy to accept spend keys (the lead's part of issue 14)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anthropic
import httpx
import openai
import pytest

from lava_server.testing.fake_provider import DEFAULT_OUTPUT_TOKENS, FakeProvider
from lava_server.wallets.service import check as ledger_check
from tests.proxy.test_gateway import (
    ANSWER,
    CLAUDE,
    GPT,
    INPUT_TOKENS,
    MANAGED_KEYS,
    MESSAGES,
    assert_charged,
    assert_sent,
    make_spend_key,
)
from tests.proxy.test_token_v2 import Shop


@pytest.fixture(autouse=True)
def managed_keys(upstream_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for provider, key in MANAGED_KEYS.items():
        monkeypatch.setenv(f"LAVA_PROVIDER_KEY_{provider}", key)
    monkeypatch.setenv("LAVA_PROVIDER_KEY_GOOGLE_OPENAI_COMPATIBLE", "sk-managed-google")


@pytest.fixture
async def shop(lava, merchant) -> Shop:
    return await Shop(lava.url, merchant).setup()


@pytest.fixture
async def spend_key(shop: Shop) -> str:
    """A key bound to the funded customer `user-42`, priced by the shop's meter."""
    created = await make_spend_key(shop, customer_id="user-42", meter_slug=shop.meter["meter_slug"])
    assert created["key"].startswith("lava_sk_")
    return str(created["key"])


async def key_usage(shop: Shop) -> dict[str, Any]:
    async with shop.api() as http:
        listed = (await http.get("spend_keys")).json()["data"]
    assert len(listed) >= 1
    return dict(listed[0])


@pytest.mark.parametrize("model", [GPT, CLAUDE])
@pytest.mark.parametrize("stream", [False, True])
async def test_openai_client_with_a_spend_key(
    shop: Shop, spend_key: str, fake: FakeProvider, db, model: str, stream: bool
):
    async with openai.AsyncOpenAI(
        base_url=shop.base + "/v1", api_key=spend_key, max_retries=0
    ) as client:
        if stream:
            raw = await client.chat.completions.with_raw_response.create(
                model=model,
                messages=MESSAGES,
                max_tokens=100,
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = [chunk async for chunk in raw.parse()]
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            usage = next(c.usage for c in chunks if c.usage)
        else:
            raw = await client.chat.completions.with_raw_response.create(
                model=model, messages=MESSAGES, max_tokens=100
            )
            completion = raw.parse()
            text = completion.choices[0].message.content or ""
            usage = completion.usage
    assert text == ANSWER
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (INPUT_TOKENS, DEFAULT_OUTPUT_TOKENS)
    assert_sent(fake, model, stream=stream)
    await assert_charged(shop, db, spend_key, raw.headers["x-lava-request-id"], model)
    assert (await key_usage(shop))["total_requests"] == 1


@pytest.mark.parametrize("model", [GPT, CLAUDE])
@pytest.mark.parametrize("stream", [False, True])
async def test_anthropic_client_with_a_spend_key(
    shop: Shop, spend_key: str, fake: FakeProvider, db, model: str, stream: bool
):
    async with anthropic.AsyncAnthropic(
        base_url=shop.base, api_key=spend_key, max_retries=0
    ) as client:
        if stream:
            async with client.messages.stream(
                model=model, max_tokens=100, messages=MESSAGES
            ) as streamed:
                text = "".join([piece async for piece in streamed.text_stream])
                message = await streamed.get_final_message()
                request_id = streamed.response.headers["x-lava-request-id"]
        else:
            raw = await client.messages.with_raw_response.create(
                model=model, max_tokens=100, messages=MESSAGES
            )
            message = await raw.parse()
            assert message.content[0].type == "text"
            text = message.content[0].text
            request_id = raw.headers["x-lava-request-id"]
    assert text == ANSWER
    assert message.usage.input_tokens == INPUT_TOKENS
    assert message.usage.output_tokens == DEFAULT_OUTPUT_TOKENS
    assert_sent(fake, model, stream=stream)
    await assert_charged(shop, db, spend_key, request_id, model)
    assert (await key_usage(shop))["total_requests"] == 1


async def test_a_model_outside_the_allowlist_is_a_403(shop: Shop, fake: FakeProvider, db):
    created = await make_spend_key(
        shop,
        customer_id="user-42",
        meter_slug=shop.meter["meter_slug"],
        allowed_models=[GPT],
    )
    key = created["key"]
    async with openai.AsyncOpenAI(base_url=shop.base + "/v1", api_key=key, max_retries=0) as oai:
        with pytest.raises(openai.PermissionDeniedError):
            await oai.chat.completions.create(model=CLAUDE, messages=MESSAGES, max_tokens=10)
    async with anthropic.AsyncAnthropic(base_url=shop.base, api_key=key, max_retries=0) as ant:
        with pytest.raises(anthropic.PermissionDeniedError):
            await ant.messages.create(model=CLAUDE, max_tokens=10, messages=MESSAGES)
    assert fake.requests == []
    async with shop.api() as http:
        assert (await http.get("requests")).json()["data"] == []
    assert await shop.balance() == Decimal(10)
    # The allowed model still works with the same key.
    async with openai.AsyncOpenAI(base_url=shop.base + "/v1", api_key=key, max_retries=0) as oai:
        completion = await oai.chat.completions.create(model=GPT, messages=MESSAGES, max_tokens=10)
    assert completion.choices[0].message.content
    assert len(fake.requests) == 1
    assert await shop.balance() < Decimal(10)
    assert (await ledger_check(db)).problems == []


async def test_a_key_is_served_by_a_provider_it_allows(
    shop: Shop, fake: FakeProvider, db, monkeypatch: pytest.MonkeyPatch
):
    """claude-haiku-4-5 is priced for Anthropic and for Google's OpenAI-compatible API: a key
    that allows only the latter is served there, not refused for Anthropic, which the model
    rule would pick first."""
    key = await make_spend_key(
        shop,
        customer_id="user-42",
        meter_slug=shop.meter["meter_slug"],
        allowed_providers=["googleOpenaiCompatible"],
    )
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{shop.base}/v1/chat/completions",
            json={"model": CLAUDE, "max_tokens": 20, "messages": MESSAGES},
            headers={"Authorization": f"Bearer {key['key']}"},
        )
    assert response.status_code == 200, response.text
    stored = await shop.stored(response)
    assert stored["provider"] == "googleOpenaiCompatible"
    assert (await ledger_check(db)).problems == []
