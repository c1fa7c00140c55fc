"""``lava.gateway()`` with the current API's forward token (``customer_id`` + ``meter_slug``,
meter-only, merchant-billed) and the ``rewrite/{format}/{url}`` endpoint, against our own
server over real HTTP (SQLite and PostgreSQL, sync and async) with the fake providers."""

from __future__ import annotations

import json
from decimal import Decimal

from lavapayments import AsyncLava

from .conftest import call
from .test_gateway import CHAT, CHAT_URL, billed, lava, proxy_settings, server, upstream_env

__all__ = ["billed", "lava", "proxy_settings", "server", "upstream_env"]

MESSAGES_URL = "https://api.anthropic.com/v1/messages"


async def test_customer_billing_by_meter(lava, billed, fake) -> None:
    customer_id = billed.connection["connection_id"]
    meter_slug = billed.product["meter_slug"]
    before = await billed.balance()
    answer = await call(
        lava.gateway(CHAT_URL, customer_id=customer_id, meter_slug=meter_slug, body=CHAT)
    )
    assert answer["usage"]["total_tokens"] > 0
    [stored] = await billed.requests()
    assert stored["connection_id"] == customer_id
    after = await billed.balance()
    assert after < before

    await call(
        lava.gateway(
            CHAT_URL,
            customer_id=customer_id,
            meter_slug=meter_slug,
            disable_billing=True,
            body=CHAT,
        )
    )
    assert len(await billed.requests(at_least=2)) == 2
    assert await billed.balance() == after  # recorded, not charged


async def test_meter_only_and_merchant_billed(lava, billed, fake) -> None:
    before = await billed.balance()
    meter_only = await call(
        lava.gateway(CHAT_URL, meter_slug=billed.product["meter_slug"], body=CHAT)
    )
    merchant = await call(lava.gateway(CHAT_URL, body=CHAT))
    assert meter_only["usage"]["total_tokens"] > 0 and merchant["usage"]["total_tokens"] > 0
    stored = await billed.requests(at_least=2)  # no hold: written after the answers
    assert len(stored) == 2 and all(r.get("connection_id") is None for r in stored)
    assert await billed.balance() == before


async def test_rewrite_openai_shape_to_anthropic(lava, billed, fake) -> None:
    # The server has a managed key for OpenAI only: the merchant brings its Anthropic key.
    customer = {
        "customer_id": billed.connection["connection_id"],
        "meter_slug": billed.product["meter_slug"],
        "provider_key": "sk-ant-merchant",
    }
    body = {"model": "claude-haiku-4-5", "messages": CHAT["messages"], "max_tokens": 50}
    answer = await call(lava.gateway(MESSAGES_URL, format="openai", body=body, **customer))
    assert answer["object"] == "chat.completion" and answer["usage"]["total_tokens"] > 0
    assert fake.requests[-1]["path"] == "/v1/messages"

    streamed = {**body, "stream": True}
    if isinstance(lava, AsyncLava):
        async with lava.gateway_stream(
            MESSAGES_URL, format="openai", body=streamed, **customer
        ) as response:
            lines = [line async for line in response.iter_lines()]
    else:
        with lava.gateway_stream(MESSAGES_URL, format="openai", body=streamed, **customer) as (
            response
        ):
            lines = list(response.iter_lines())
    data = [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]
    assert data[-1] == "[DONE]" and json.loads(data[0])["object"] == "chat.completion.chunk"
    stored = await billed.requests()
    assert len(stored) == 2
    for each in stored:
        assert Decimal((await billed.request(each["request_id"]))["total_request_cost"]) > 0
