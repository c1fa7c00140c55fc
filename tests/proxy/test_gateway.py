"""The gateway doors, `POST /v1/chat/completions` and `POST /v1/messages`, and `GET /v1/models`
with a spend key (`docs/forward-proxy.md#gateway`), over real HTTP on SQLite and PostgreSQL with
the official `openai` and `anthropic` clients pointed at our server and the fake provider behind
it. The model picks the provider; each call is stored once with its provider, model and cost, and
charged to the right payer: the merchant for a bare secret key, the customer's wallet for a
forward token naming a customer and a meter."""

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
from tests.proxy.test_token_v2 import Shop, ledger_of

PROMPT = "Hello there, how are you today?"
INPUT_TOKENS = count_tokens(PROMPT)
ANSWER = answer_text(DEFAULT_OUTPUT_TOKENS)
GPT = "gpt-4o-mini"
CLAUDE = "claude-haiku-4-5"
LLAMA = "llama-3.3-70b-versatile"  # priced for groq only (an OpenAI-compatible API)
MANAGED_KEYS = {"ANTHROPIC": "sk-managed-anthropic", "GROQ": "sk-managed-groq"}
# Where each model goes: (provider, path at the fake provider, key it receives).
ROUTES = {
    GPT: ("openai", "/v1/chat/completions", "sk-managed-openai"),
    CLAUDE: ("anthropic", "/v1/messages", "sk-managed-anthropic"),
    LLAMA: ("groq", "/openai/v1/chat/completions", "sk-managed-groq"),
}
MESSAGES: list[Any] = [{"role": "user", "content": PROMPT}]


@pytest.fixture(autouse=True)
def managed_keys(upstream_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator's keys for Anthropic and Groq too (OpenAI's comes with `upstream_env`)."""
    for provider, key in MANAGED_KEYS.items():
        monkeypatch.setenv(f"LAVA_PROVIDER_KEY_{provider}", key)


@pytest.fixture
async def shop(lava, merchant) -> Shop:
    return await Shop(lava.url, merchant).setup()


@pytest.fixture(params=["secret_key", "customer_token"])
def credential(request: pytest.FixtureRequest, shop: Shop) -> str:
    """A bare `aks_` secret key (the merchant pays) or a forward token with a customer and a
    meter (the customer's wallet pays the meter's rate)."""
    if request.param == "secret_key":
        return shop.merchant.secret_key
    return shop.token(customer_id="user-42", meter_slug=shop.meter["meter_slug"])


def pays_customer(shop: Shop, credential: str) -> bool:
    return credential != shop.merchant.secret_key


async def assert_charged(
    shop: Shop, db: Any, credential: str, request_id: str, model: str
) -> dict[str, Any]:
    """One stored request of `model` at its provider, completed with the fake's usage, charged
    to the payer of `credential`, and a clean ledger."""
    provider, _, _ = ROUTES[model]
    stored = await settled(shop, request_id)
    async with shop.api() as http:
        listed = (await http.get("requests", params={"limit": "100"})).json()["data"]
    assert [r["request_id"] for r in listed] == [request_id]
    assert stored["status"] == "completed"
    assert stored["provider"] == provider
    assert stored["model"] == model
    assert stored["provider_key_type"] == "managed"
    assert stored["model_usage"]["input_tokens"] == INPUT_TOKENS
    assert stored["model_usage"]["output_tokens"] == DEFAULT_OUTPUT_TOKENS
    provider_cost = Decimal(stored["model_usage"]["total_cost"])
    assert provider_cost > 0
    entries = await ledger_of(db, stored)
    assert sum(entries.values()) == 0
    assert entries[f"provider:{provider}"] == provider_cost
    if pays_customer(shop, credential):
        assert stored["connection_id"] == shop.customer["connection_id"]
        assert stored["product_id"] == shop.meter["meter_id"]
        wallet_cost = Decimal(stored["total_wallet_cost"])
        tokens = INPUT_TOKENS + DEFAULT_OUTPUT_TOKENS
        assert wallet_cost == Decimal(2) * tokens / 1_000_000 > 0  # the meter's $2 per 1M
        assert await shop.balance() == Decimal(10) - wallet_cost
    else:
        assert "connection_id" not in stored
        assert stored["total_wallet_cost"] == "0.0000000000"
        merchant_cost = Decimal(stored["total_merchant_cost"])
        assert merchant_cost >= provider_cost
        assert entries[f"merchant:{shop.merchant.merchant_id}"] == -merchant_cost
        assert await shop.balance() == Decimal(10)
    assert (await ledger_check(db)).problems == []
    return stored


async def settled(shop: Shop, request_id: str) -> dict[str, Any]:
    """The stored request once settled (a bill is written just after the answer)."""
    return await shop.settled(request_id)


def assert_sent(fake: FakeProvider, model: str, *, stream: bool, count: int = 1) -> dict[str, Any]:
    """The `count`-th call the fake received (the only one by default) went to `model`'s
    provider, with its managed key."""
    _, path, key = ROUTES[model]
    assert len(fake.requests) == count
    sent = fake.requests[-1]
    assert sent["path"] == path
    assert sent["api_key"] == key
    assert sent["body"]["model"] == model
    assert bool(sent["body"].get("stream")) is stream
    return dict(sent)


# ----------------------------------------------------------------------------- the openai client


def openai_client(shop: Shop, credential: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=shop.base + "/v1", api_key=credential, max_retries=0)


@pytest.mark.parametrize("model", [GPT, CLAUDE])
async def test_openai_client(shop: Shop, credential: str, fake: FakeProvider, db, model: str):
    async with openai_client(shop, credential) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model=model, messages=MESSAGES, max_tokens=100
        )
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == ANSWER
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == INPUT_TOKENS
    assert completion.usage.completion_tokens == DEFAULT_OUTPUT_TOKENS
    sent = assert_sent(fake, model, stream=False)
    if model == CLAUDE:  # translated: Anthropic's shape went out
        assert sent["body"]["max_tokens"] == 100
        assert sent["headers"]["anthropic-version"] == "2023-06-01"
    await assert_charged(shop, db, credential, raw.headers["x-lava-request-id"], model)


@pytest.mark.parametrize("model", [GPT, CLAUDE])
async def test_openai_client_streamed(
    shop: Shop, credential: str, fake: FakeProvider, db, model: str
):
    async with openai_client(shop, credential) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model=model,
            messages=MESSAGES,
            max_tokens=100,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in raw.parse()]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER
    usage = [c.usage for c in chunks if c.usage]
    assert len(usage) == 1 and usage[0] is not None
    assert usage[0].prompt_tokens == INPUT_TOKENS
    assert usage[0].completion_tokens == DEFAULT_OUTPUT_TOKENS
    assert_sent(fake, model, stream=True)
    await assert_charged(shop, db, credential, raw.headers["x-lava-request-id"], model)


# -------------------------------------------------------------------------- the anthropic client


def anthropic_client(shop: Shop, credential: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=shop.base, api_key=credential, max_retries=0)


@pytest.mark.parametrize("model", [GPT, CLAUDE])
async def test_anthropic_client(shop: Shop, credential: str, fake: FakeProvider, db, model: str):
    async with anthropic_client(shop, credential) as client:
        raw = await client.messages.with_raw_response.create(
            model=model, max_tokens=100, messages=MESSAGES
        )
    message = await raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text" and message.content[0].text == ANSWER
    assert message.usage.input_tokens == INPUT_TOKENS
    assert message.usage.output_tokens == DEFAULT_OUTPUT_TOKENS
    sent = assert_sent(fake, model, stream=False)
    if model == GPT:  # translated: OpenAI's shape went out, without Anthropic's headers
        assert sent["body"]["max_completion_tokens"] == 100
        assert "anthropic-version" not in sent["headers"]
    await assert_charged(shop, db, credential, raw.headers["x-lava-request-id"], model)


@pytest.mark.parametrize("model", [GPT, CLAUDE])
async def test_anthropic_client_streamed(
    shop: Shop, credential: str, fake: FakeProvider, db, model: str
):
    async with (
        anthropic_client(shop, credential) as client,
        client.messages.stream(model=model, max_tokens=100, messages=MESSAGES) as stream,
    ):
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
        request_id = stream.response.headers["x-lava-request-id"]
    assert text == ANSWER
    assert final.usage.input_tokens == INPUT_TOKENS
    assert final.usage.output_tokens == DEFAULT_OUTPUT_TOKENS
    assert_sent(fake, model, stream=True)
    await assert_charged(shop, db, credential, request_id, model)


async def test_other_openai_compatible_providers(shop: Shop, fake: FakeProvider, db):
    """A model priced for Groq only goes to Groq's OpenAI-compatible API: as it is from the
    `openai` client, translated from the `anthropic` client."""
    key = shop.merchant.secret_key
    with openai.OpenAI(base_url=shop.base + "/v1", api_key=key, max_retries=0) as client:
        completion = client.chat.completions.create(model=LLAMA, messages=MESSAGES)
    assert completion.choices[0].message.content == ANSWER
    assert_sent(fake, LLAMA, stream=False)
    with anthropic.Anthropic(base_url=shop.base, api_key=key, max_retries=0) as client:
        message = client.messages.create(model=LLAMA, max_tokens=50, messages=MESSAGES)
    assert message.content[0].type == "text" and message.content[0].text == ANSWER
    assert_sent(fake, LLAMA, stream=False, count=2)
    listed = await shop.listed(2)
    assert [(r["provider"], r["model"], r["status"]) for r in listed] == [
        ("groq", LLAMA, "completed")
    ] * 2
    assert (await ledger_check(db)).problems == []


# ------------------------------------------------------------------------------------- refusals


async def test_refusals_send_and_charge_nothing(shop: Shop, fake: FakeProvider, db):
    key = {"Authorization": f"Bearer {shop.merchant.secret_key}"}
    chat = {"messages": MESSAGES, "max_tokens": 10}
    async with httpx.AsyncClient(base_url=shop.base, timeout=30) as http:
        for path in ("/v1/chat/completions", "/v1/messages"):
            cases: list[tuple[dict[str, Any], int, str, str | None]] = [
                ({"json": {"model": "no-such-model-xyz", **chat}}, 404, "model_not_found", "model"),
                ({"json": chat}, 400, "invalid_request", "model"),
                ({"json": {"model": 5, **chat}}, 400, "invalid_request", "model"),
                ({"json": {"model": "", **chat}}, 400, "invalid_request", "model"),
                ({"content": b"not json"}, 400, "invalid_request", "body"),
                ({"content": b"[1, 2]"}, 400, "invalid_request", "body"),
            ]
            for kwargs, status, code, param in cases:
                response = await http.post(path, headers=key, **kwargs)
                assert response.status_code == status, (path, kwargs, response.text)
                error = response.json()["error"]
                assert (error["code"], error["param"]) == (code, param), error
            missing = await http.post(path, json={"model": GPT, **chat})
            assert missing.status_code == 401, missing.text
            assert missing.json()["error"]["code"] == "unauthorized"
            wrong = await http.post(
                path, json={"model": GPT, **chat}, headers={"x-api-key": "aks_test_nope"}
            )
            assert wrong.status_code == 401, wrong.text
            method = await http.get(path, headers=key)
            assert method.status_code == 405
            assert method.headers["allow"] == "POST"
    assert "no-such-model-xyz" in str(
        (await http_post(shop, "/v1/messages", {"model": "no-such-model-xyz"})).json()
    )
    assert fake.requests == []
    async with shop.api() as http:
        assert (await http.get("requests")).json()["data"] == []
    assert await shop.balance() == Decimal(10)
    assert (await ledger_check(db)).problems == []


async def http_post(shop: Shop, path: str, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=shop.base, timeout=30) as http:
        return await http.post(path, json=body, headers={"x-api-key": shop.merchant.secret_key})


async def test_official_clients_raise_on_refusals(shop: Shop, fake: FakeProvider):
    key = shop.merchant.secret_key
    async with openai_client(shop, key) as client:
        with pytest.raises(openai.NotFoundError) as found:
            await client.chat.completions.create(model="no-such-model-xyz", messages=MESSAGES)
        assert found.value.code == "model_not_found" and found.value.param == "model"
    async with anthropic_client(shop, key) as client:
        with pytest.raises(anthropic.NotFoundError, match="no-such-model-xyz"):
            await client.messages.create(
                model="no-such-model-xyz", max_tokens=10, messages=MESSAGES
            )
    async with openai_client(shop, "aks_test_unknown") as client:
        with pytest.raises(openai.AuthenticationError):
            await client.chat.completions.create(model=GPT, messages=MESSAGES)
    assert fake.requests == []


async def test_provider_refusals_pass_with_their_status(shop: Shop, fake: FakeProvider, db):
    """The provider refuses (here a 429): each client raises its exception for that status, the
    call is stored as an error and nothing is charged."""
    key = shop.merchant.secret_key
    refused = [{"role": "user", "content": "fake-error-429"}]
    async with openai_client(shop, key) as client:
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(model=CLAUDE, messages=refused)
    async with anthropic_client(shop, key) as client:
        with pytest.raises(anthropic.RateLimitError):
            await client.messages.create(model=GPT, max_tokens=10, messages=refused)
    assert [r["path"] for r in fake.requests] == ["/v1/messages", "/v1/chat/completions"]
    stored = await shop.listed(2)
    assert sorted((r["provider"], r["status"]) for r in stored) == [
        ("anthropic", "error"),
        ("openai", "error"),
    ]
    assert await shop.balance() == Decimal(10)
    assert (await ledger_check(db)).problems == []


# ------------------------------------------------------------------- GET /v1/models, spend keys


async def make_spend_key(shop: Shop, **fields: Any) -> dict[str, Any]:
    async with shop.api() as http:
        response = await http.post("spend_keys", json={"name": "test key", **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_models_filtered_by_a_spend_keys_allowlists(shop: Shop):
    everything = await make_spend_key(shop)
    two = await make_spend_key(shop, allowed_models=[GPT, CLAUDE])
    anthropic_only = await make_spend_key(shop, allowed_providers=["anthropic"])
    both = await make_spend_key(shop, allowed_models=[GPT, CLAUDE], allowed_providers=["anthropic"])
    async with httpx.AsyncClient(base_url=shop.base, timeout=30) as http:
        public = (await http.get("/v1/models")).json()["data"]

    def listed(key: str) -> list[tuple[str, str]]:
        with openai.OpenAI(base_url=shop.base + "/v1", api_key=key, max_retries=0) as client:
            return [(m.id, m.owned_by) for m in client.models.list()]

    assert listed(everything["key"]) == [(m["id"], m["owned_by"]) for m in public]
    assert sorted(listed(two["key"])) == sorted(
        (m["id"], m["owned_by"]) for m in public if m["id"] in (GPT, CLAUDE)
    )
    assert (CLAUDE, "anthropic") in listed(two["key"])
    assert (GPT, "openai") in listed(two["key"])
    only = listed(anthropic_only["key"])
    assert only and {owner for _, owner in only} == {"anthropic"}
    assert listed(both["key"]) == [(CLAUDE, "anthropic")]
    # Another credential than a spend key is ignored: the list is public.
    assert listed(shop.merchant.secret_key) == [(m["id"], m["owned_by"]) for m in public]

    # Anthropic's list format for the anthropic client (it sends anthropic-version).
    with anthropic.Anthropic(base_url=shop.base, api_key=two["key"], max_retries=0) as client:
        models = list(client.models.list())
    assert sorted(m.id for m in models) == sorted({GPT, CLAUDE})
    assert all(m.type == "model" and m.display_name == m.id for m in models)
    async with httpx.AsyncClient(base_url=shop.base, timeout=30) as http:
        raw = await http.get(
            "/v1/models", headers={"x-api-key": both["key"], "anthropic-version": "2023-06-01"}
        )
    assert raw.json() == {
        "data": [
            {
                "type": "model",
                "id": CLAUDE,
                "display_name": CLAUDE,
                "created_at": "1970-01-01T00:00:00Z",
            }
        ],
        "has_more": False,
        "first_id": CLAUDE,
        "last_id": CLAUDE,
    }


async def test_models_refuse_unknown_revoked_and_rotated_spend_keys(shop: Shop):
    revoked = await make_spend_key(shop)
    rotated = await make_spend_key(shop)
    async with shop.api() as http:
        assert (await http.delete(f"spend_keys/{revoked['spend_key_id']}")).status_code == 200
        turned = await http.post(f"spend_keys/{rotated['spend_key_id']}/rotate")
        assert turned.status_code in (200, 201), turned.text
    new_key = turned.json()["key"]
    async with httpx.AsyncClient(base_url=shop.base, timeout=30) as http:
        for key in (revoked["key"], rotated["key"], "lava_sk_never-issued"):
            for headers in ({"Authorization": f"Bearer {key}"}, {"x-api-key": key}):
                response = await http.get("/v1/models", headers=headers)
                assert response.status_code == 401, response.text
                assert response.json()["error"]["code"] == "unauthorized"
        assert (
            await http.get("/v1/models", headers={"Authorization": f"Bearer {new_key}"})
        ).status_code == 200
    with (
        openai.OpenAI(base_url=shop.base + "/v1", api_key=revoked["key"], max_retries=0) as client,
        pytest.raises(openai.AuthenticationError),
    ):
        client.models.list()
