"""The current form of the forward token (`docs/forward-proxy.md#tokens`) over real HTTP, on
SQLite and PostgreSQL: who pays follows from `customer_id` and `meter_slug`, a bare secret key is
the merchant's own token, and the money of every form is exact and leaves the ledger clean."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from lava_server.db.models import LedgerEntry, Request
from lava_server.merchants import service as merchants
from lava_server.metering.forward import ForwardBilling
from lava_server.metering.repository import PostgresHolds, SqliteHolds
from lava_server.model_prices.book import provider_cost
from lava_server.proxy.usage import make_usage
from lava_server.wallets.service import check as ledger_check
from lavapayments.forward_token import encode_forward_token
from tests.conftest import MerchantKey
from tests.metering.helpers import make_connection

GPT = "gpt-4o-mini"
CHAT_URL = "https://api.openai.com/v1/chat/completions"
RATE = Decimal(2)  # the meter's $ per million tokens
SERVICE_CHARGE_RATE = Decimal("0.019")


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": GPT, "messages": [{"role": "user", "content": "Hello there"}], **fields}


class Shop:
    """A merchant with a meter and a funded customer (reference `user-42`)."""

    def __init__(self, base: str, merchant: MerchantKey) -> None:
        self.base = base
        self.merchant = merchant
        self.meter: dict[str, Any] = {}
        self.customer: dict[str, Any] = {}

    async def setup(self, balance: str = "10") -> Shop:
        async with self.api() as http:
            meter = await http.post(
                "meters",
                json={
                    "name": "Chat meter",
                    "rate_type": "fixed",
                    "tier_type": "tokens_1m",
                    "tiers": [{"start": "0", "rate": str(RATE)}],
                },
            )
            assert meter.status_code == 201, meter.text
            self.meter = meter.json()
        async with httpx.AsyncClient(base_url=self.base, timeout=30) as http:
            self.customer = await make_connection(
                http, self.merchant.headers, balance=balance, reference_id="user-42"
            )
        return self

    async def setup_customer(self, reference_id: str, balance: str = "5") -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.base, timeout=30) as http:
            return await make_connection(
                http, self.merchant.headers, balance=balance, reference_id=reference_id
            )

    def api(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base + "/v1/", headers=self.merchant.headers, timeout=30
        )

    async def listed(self, count: int) -> list[dict[str, Any]]:
        """The stored requests once `count` exist and none is pending (a call that took no
        hold, billed to the merchant, has no row until just after its answer)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        async with self.api() as http:
            while True:
                found = list((await http.get("requests")).json()["data"])
                pending = any(stored["status"] == "pending" for stored in found)
                if (len(found) >= count and not pending) or loop.time() > deadline:
                    return found
                await asyncio.sleep(0.01)

    def token(self, **options: Any) -> str:
        return encode_forward_token(secret_key=self.merchant.secret_key, **options)

    async def call(self, token: str, **fields: Any) -> httpx.Response:
        async with httpx.AsyncClient(timeout=30) as http:
            return await http.post(
                f"{self.base}/v1/forward?u={CHAT_URL}",
                json=chat(max_tokens=50, **fields),
                headers={"Authorization": f"Bearer {token}"},
            )

    async def stored(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 200, response.text
        return await self.settled(response.headers["x-lava-request-id"])

    async def settled(self, request_id: str) -> dict[str, Any]:
        """The stored request once settled. The bill is written just after the answer: a call
        with a wallet is stored `pending` before it is sent, one the merchant pays (no wallet)
        only when it is settled, so until then it is not found (404)."""
        async with self.api() as http:
            for _ in range(1000):
                found = await http.get(f"requests/{request_id}")
                if found.status_code == 404:
                    await asyncio.sleep(0.01)
                    continue
                assert found.status_code == 200, found.text
                body = dict(found.json())
                if body["status"] != "pending":
                    return body
                await asyncio.sleep(0.005)
        raise AssertionError("the request was never settled")

    async def balance(self) -> Decimal:
        async with self.api() as http:
            found = await http.get(f"connections/{self.customer['connection_id']}")
        return Decimal(found.json()["wallet"]["balance"])


@pytest.fixture
async def shop(lava, merchant) -> Shop:
    return await Shop(lava.url, merchant).setup()


def costs(stored: dict[str, Any]) -> tuple[Decimal, Decimal]:
    """(provider cost, service charge) of a stored call, recomputed from its tokens."""
    usage = stored["model_usage"]
    counted = make_usage(input_tokens=usage["input_tokens"], output_tokens=usage["output_tokens"])
    input_cost, output_cost = provider_cost("openai", GPT, counted)
    return input_cost + output_cost, Decimal(stored["service_charge"]["amount"])


async def ledger_of(db, stored: dict[str, Any]) -> dict[str, Decimal]:
    """The ledger entries of a stored call, by account."""
    async with db.read() as session:
        seq = (
            await session.execute(
                select(Request.seq).where(Request.request_id == stored["request_id"])
            )
        ).scalar_one()
        rows = await session.execute(
            select(LedgerEntry.account, LedgerEntry.amount).where(LedgerEntry.request_seq == seq)
        )
        entries: dict[str, Decimal] = {}
        for account, amount in rows:
            entries[account] = entries.get(account, Decimal(0)) + amount
    return entries


async def test_customer_billing_by_id_reference_slug_and_meter_id(shop, fake, db, monkeypatch):
    """A customer named by its `con_` id or its reference, a meter by its slug or its `prd_` id:
    the same wallet pays the meter's rate, and after the first call of a (customer, meter) form
    the hold takes the quick path (one statement on PostgreSQL)."""
    ordinary = 0
    reserve_together = ForwardBilling._reserve_together

    async def counted(self, batch):
        nonlocal ordinary
        ordinary += 1
        await reserve_together(self, batch)

    monkeypatch.setattr(ForwardBilling, "_reserve_together", counted)
    quick = []
    holds = SqliteHolds if db.is_sqlite else PostgresHolds
    original = holds.hold_many

    async def counting(self, batch):
        found = await original(self, batch)
        for wanted, held in zip(batch, found, strict=True):
            quick.append((wanted.ref.by, held is not None and held.seq is not None))
        return found

    monkeypatch.setattr(holds, "hold_many", counting)

    con_id = shop.customer["connection_id"]
    slug, meter_id = shop.meter["meter_slug"], shop.meter["meter_id"]
    forms = [
        (con_id, slug, 1),  # first: the ordinary path learns the meter
        ("user-42", slug, 1),  # quick, by reference
        (con_id, slug, 1),  # quick, by id
        ("user-42", meter_id, 2),  # a meter by its id: learnt first
        ("user-42", meter_id, 2),  # then quick
    ]
    stored = []
    for customer_id, meter_slug, ordinary_after in forms:
        response = await shop.call(shop.token(customer_id=customer_id, meter_slug=meter_slug))
        stored.append(await shop.stored(response))
        assert ordinary == ordinary_after, (customer_id, meter_slug)
    assert quick == [("reference", True), ("id", True), ("reference", True)]
    charged = Decimal(0)
    for request in stored:
        assert request["status"] == "completed"
        assert request["connection_id"] == con_id
        assert request["product_id"] == meter_id
        assert request["provider_key_type"] == "managed"
        usage = request["model_usage"]
        tokens = usage["input_tokens"] + usage["output_tokens"]
        fee = RATE * tokens / 1_000_000
        assert Decimal(request["fee"]["amount"]) == fee
        provider, service = costs(request)
        assert Decimal(usage["total_cost"]) == provider > 0
        # A meter: the customer pays the rate, the merchant the provider cost and service charge.
        assert Decimal(request["total_wallet_cost"]) == fee
        assert Decimal(request["total_merchant_cost"]) == provider + service
        charged += fee
    assert len(fake.requests) == len(forms)
    assert await shop.balance() == Decimal(10) - charged
    assert (await ledger_check(db)).problems == []


async def test_meter_only_calls_are_the_merchants(shop, fake, db):
    """`customer_id` null with a meter (what gateway() sends): the merchant pays, the call is
    attributed to the meter, no customer's wallet moves; the merchant's ledger account bears
    the provider cost and the service charge."""
    token = shop.token(customer_id=None, meter_slug=shop.meter["meter_slug"])
    assert json.loads(base64.b64decode(token))["customer_id"] is None
    stored = await shop.stored(await shop.call(token))
    assert stored["status"] == "completed"
    assert "connection_id" not in stored
    assert stored["product_id"] == shop.meter["meter_id"]
    assert stored["fee"]["amount"] == "0.0000000000"
    assert stored["total_wallet_cost"] == "0.0000000000"
    provider, service = costs(stored)
    assert provider > 0  # (the service charge is a share of the fee: none here)
    assert Decimal(stored["model_usage"]["total_cost"]) == provider
    assert Decimal(stored["total_merchant_cost"]) == provider + service
    expected = {
        f"merchant:{shop.merchant.merchant_id}": -(provider + service),
        "provider:openai": provider,
        "platform": service,
    }
    assert await ledger_of(db, stored) == {k: v for k, v in expected.items() if v}
    assert await shop.balance() == Decimal(10)
    async with shop.api() as http:
        listed = await http.get("requests", params={"product_id": shop.meter["meter_id"]})
        assert [r["request_id"] for r in listed.json()["data"]] == [stored["request_id"]]
        usage = await http.get(
            "usage",
            params={
                "start": (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "product_id": shop.meter["meter_id"],
            },
        )
        assert usage.status_code == 200, usage.text
        assert Decimal(usage.json()["totals"]["total_merchant_cost"]) == provider + service
    assert (await ledger_check(db)).problems == []


@pytest.mark.parametrize("form", ["token", "bare_secret_key", "null_customer_and_meter"])
async def test_merchant_billed_calls(shop, fake, db, form):
    """Neither a customer nor a meter (also a bare `Bearer aks_...`): the merchant pays."""
    if form == "token":
        token = shop.token()
        assert base64.b64decode(token) == (
            b'{"secret_key":"' + shop.merchant.secret_key.encode() + b'"}'
        )
    elif form == "bare_secret_key":
        token = shop.merchant.secret_key
    else:
        token = shop.token(customer_id=None, meter_slug=None)
    stored = await shop.stored(await shop.call(token))
    assert stored["status"] == "completed"
    assert "connection_id" not in stored and "product_id" not in stored
    assert stored["provider_key_type"] == "managed"
    assert fake.requests[-1]["api_key"] == "sk-managed-openai"
    provider, service = costs(stored)
    assert Decimal(stored["total_merchant_cost"]) == provider + service > 0
    assert stored["total_wallet_cost"] == "0.0000000000"
    entries = await ledger_of(db, stored)
    assert entries[f"merchant:{shop.merchant.merchant_id}"] == -(provider + service)
    assert sum(entries.values()) == 0
    assert await shop.balance() == Decimal(10)
    assert (await ledger_check(db)).problems == []


async def test_merchant_billed_with_its_own_provider_key(shop, fake, db):
    """BYOK (`provider_key`, `unmanaged`): the provider bills the merchant directly, so no
    provider cost is billed here, and nothing reaches the ledger."""
    stored = await shop.stored(await shop.call(shop.token(provider_key="sk-merchant-own")))
    assert fake.requests[-1]["api_key"] == "sk-merchant-own"
    assert stored["provider_key_type"] == "unmanaged"
    assert stored["model_usage"]["input_tokens"] > 0
    assert stored["model_usage"]["total_cost"] == "0.0000000000"
    assert stored["total_merchant_cost"] == "0.0000000000"
    assert await ledger_of(db, stored) == {}
    assert (await ledger_check(db)).problems == []


async def test_customer_billing_with_its_own_provider_key(shop, fake, db):
    """BYOK on a customer's call: the customer pays the meter's rate on the tokens, nobody is
    billed a provider cost."""
    token = shop.token(
        customer_id="user-42", meter_slug=shop.meter["meter_slug"], provider_key="sk-own"
    )
    stored = await shop.stored(await shop.call(token))
    assert fake.requests[-1]["api_key"] == "sk-own"
    assert stored["provider_key_type"] == "unmanaged"
    assert stored["connection_id"] == shop.customer["connection_id"]
    usage = stored["model_usage"]
    assert usage["total_cost"] == "0.0000000000"
    fee = RATE * (usage["input_tokens"] + usage["output_tokens"]) / 1_000_000
    assert Decimal(stored["total_wallet_cost"]) == fee > 0
    assert await shop.balance() == Decimal(10) - fee
    entries = await ledger_of(db, stored)
    assert "provider:openai" not in entries
    assert sum(entries.values()) == 0
    assert (await ledger_check(db)).problems == []


async def test_disable_billing_records_on_the_customer_without_a_charge(lava, merchant, fake, db):
    """`disable_billing`: the call is the customer's (its requests show it) but nothing is
    charged and the balance is not checked: an empty wallet still gets an answer."""
    shop = await Shop(lava.url, merchant).setup(balance="0")
    token = shop.token(
        customer_id=shop.customer["connection_id"],
        meter_slug=shop.meter["meter_slug"],
        disable_billing=True,
    )
    refused = await shop.call(
        shop.token(customer_id="user-42", meter_slug=shop.meter["meter_slug"])
    )
    assert refused.status_code == 402  # the same customer, billed: no balance
    stored = [await shop.stored(await shop.call(token)) for _ in range(2)]
    for request in stored:
        assert request["status"] == "completed"
        assert request["connection_id"] == shop.customer["connection_id"]
        assert request["product_id"] == shop.meter["meter_id"]
        assert request["total_wallet_cost"] == "0.0000000000"
        assert request["fee"]["amount"] == "0.0000000000"
        provider, service = costs(request)
        assert Decimal(request["total_merchant_cost"]) == provider + service
    assert await shop.balance() == Decimal(0)
    async with shop.api() as http:
        listed = await http.get(
            "requests", params={"connection_id": shop.customer["connection_id"]}
        )
        assert {r["request_id"] for r in listed.json()["data"]} == {r["request_id"] for r in stored}
        funded = await http.post(
            f"test_helpers/connections/{shop.customer['connection_id']}/fund",
            json={"amount": "1"},
        )
        assert funded.status_code == 200, funded.text
    # Funded, a billed call pays and teaches the server the meter (a later hold of it may take
    # the quick path): a call with disable_billing still pays nothing.
    billed = await shop.stored(
        await shop.call(shop.token(customer_id="user-42", meter_slug=shop.meter["meter_slug"]))
    )
    free = await shop.stored(await shop.call(token))
    assert free["total_wallet_cost"] == "0.0000000000"
    assert await shop.balance() == Decimal(1) - Decimal(billed["total_wallet_cost"])
    assert (await ledger_check(db)).problems == []


async def test_disable_billing_only_under_a_meter_of_the_customers_plan(lava, merchant, fake, db):
    """A customer on a plan that links meters may be recorded (`disable_billing`) only under
    one of them: another meter is a 400 naming `meter_slug`, and nothing is forwarded."""
    shop = await Shop(lava.url, merchant).setup(balance="0")
    customer = shop.customer["connection_id"]
    token = shop.token(
        customer_id=customer, meter_slug=shop.meter["meter_slug"], disable_billing=True
    )
    assert (await shop.call(token)).status_code == 200  # on the Free plan: every meter
    async with shop.api() as http:
        other = await http.post(
            "meters",
            json={
                "name": "Other meter",
                "rate_type": "fixed",
                "tier_type": "tokens_1m",
                "tiers": [{"start": "0", "rate": "1"}],
            },
        )
        assert other.status_code == 201, other.text
        plan = await http.post(
            "plans",
            json={
                "name": "Free with one meter",
                "period_amount": "0",
                "billing_interval": "month",
                "meter_ids": [other.json()["meter_id"]],
            },
        )
        assert plan.status_code == 201, plan.text
        subscribed = await http.post(
            "subscriptions", json={"customer_id": customer, "plan_id": plan.json()["plan_id"]}
        )
        assert subscribed.status_code in (200, 201), subscribed.text
    sent = len(fake.requests)
    refused = await shop.call(token)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["param"] == "meter_slug"
    assert len(fake.requests) == sent
    on_plan = shop.token(
        customer_id=customer, meter_slug=other.json()["meter_slug"], disable_billing=True
    )
    recorded = await shop.stored(await shop.call(on_plan))
    assert recorded["connection_id"] == customer and recorded["total_wallet_cost"] == "0.0000000000"
    assert (await ledger_check(db)).problems == []


async def test_a_customer_without_a_meter_is_a_400(shop, fake):
    for customer_id in (shop.customer["connection_id"], "user-42"):
        for options in ({}, {"meter_slug": None}):
            raw = {"secret_key": shop.merchant.secret_key, "customer_id": customer_id, **options}
            token = base64.b64encode(json.dumps(raw).encode()).decode()
            response = await shop.call(token)
            assert response.status_code == 400, response.text
            error = response.json()["error"]
            assert error["param"] == "meter_slug"
            assert "customer_id" in error["message"]
    assert fake.requests == []


async def test_unknown_customers_and_meters_are_named(shop, fake, db):
    slug = shop.meter["meter_slug"]
    other = await merchants.create_merchant(db, "Other", livemode=False)
    cases = [
        ({"customer_id": "con_nope", "meter_slug": slug}, 404, "customer_id"),
        ({"customer_id": "nobody", "meter_slug": slug}, 404, "customer_id"),
        ({"customer_id": "user-42", "meter_slug": "no-such-meter"}, 404, "meter_slug"),
        ({"customer_id": None, "meter_slug": "no-such-meter"}, 404, "meter_slug"),
        ({"customer_id": "user-42", "meter_slug": 7}, 401, "meter_slug"),
        ({"customer_id": "user-42", "meter_slug": slug, "disable_billing": "yes"}, 401, None),
    ]
    for options, status, param in cases:
        raw = {"secret_key": shop.merchant.secret_key, **options}
        token = base64.b64encode(json.dumps(raw).encode()).decode()
        response = await shop.call(token)
        assert response.status_code == status, (options, response.text)
        assert response.json()["error"]["param"] == (param or "disable_billing")
    # Another merchant's key does not reach this merchant's customer or meter.
    for options, param in (
        ({"customer_id": shop.customer["connection_id"], "meter_slug": slug}, "customer_id"),
        ({"customer_id": None, "meter_slug": slug}, "meter_slug"),
    ):
        token = encode_forward_token(secret_key=other.secret_key, **options)
        response = await shop.call(token)
        assert response.status_code == 404, response.text
        assert response.json()["error"]["param"] == param
    # A deleted customer, a revoked... unknown secret key.
    async with shop.api() as http:
        deleted = await http.delete(f"customers/{shop.customer['connection_id']}")
        assert deleted.status_code == 200, deleted.text
    response = await shop.call(shop.token(customer_id="user-42", meter_slug=slug))
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "customer_id"
    response = await shop.call("aks_test_" + "x" * 40)
    assert response.status_code == 401
    assert fake.requests == []
    async with shop.api() as http:
        assert (await http.get("requests")).json()["data"] == []


async def test_a_token_of_both_eras_is_refused(shop, fake):
    raw = {
        "secret_key": shop.merchant.secret_key,
        "connection_secret": shop.customer["connection_secret"],
        "product_secret": None,
        "customer_id": "user-42",
    }
    token = base64.b64encode(json.dumps(raw).encode()).decode()
    response = await shop.call(token)
    assert response.status_code == 401
    assert response.json()["error"]["param"] == "customer_id"
    assert fake.requests == []


async def test_concurrent_customer_calls_on_the_ordinary_path(shop, fake, db, monkeypatch):
    """Without the quick hold every call goes through the group commit, which looks the current
    token's customers and meters up before it locks their wallets: concurrent calls of every
    form, one of them for an unknown customer, are each billed once or refused alone."""

    monkeypatch.setattr(ForwardBilling, "_prepare_quick", lambda self, item: None)
    sizes = []
    find_secrets = ForwardBilling._find_secrets

    async def counted(self, session, batch):
        sizes.append(len(batch))
        if len(sizes) == 1:
            # The first batch takes its time, so that the calls arriving meanwhile go together
            # in the next one, however the scheduler interleaves them on a busy machine.
            await asyncio.sleep(0.3)
        return await find_secrets(self, session, batch)

    monkeypatch.setattr(ForwardBilling, "_find_secrets", counted)
    slug, meter_id = shop.meter["meter_slug"], shop.meter["meter_id"]
    con_id = shop.customer["connection_id"]
    second = await Shop(shop.base, shop.merchant).setup_customer("user-43")
    forms = [
        (con_id, slug),
        ("user-42", meter_id),
        ("user-43", slug),
        ("nobody", slug),
        ("user-42", slug),
        (second["connection_id"], meter_id),
        ("user-43", "no-such-meter"),
        (con_id, slug),
    ]
    responses = await asyncio.gather(
        *(shop.call(shop.token(customer_id=c, meter_slug=m)) for c, m in forms)
    )
    statuses = [r.status_code for r in responses]
    assert statuses == [200, 200, 200, 404, 200, 200, 404, 200], [r.text for r in responses]
    assert [r.json()["error"]["param"] for r in responses if r.status_code == 404] == [
        "customer_id",
        "meter_slug",
    ]
    stored = [await shop.stored(r) for r in responses if r.status_code == 200]
    paid = {con_id: Decimal(0), second["connection_id"]: Decimal(0)}
    for request in stored:
        assert request["product_id"] == meter_id
        paid[request["connection_id"]] += Decimal(request["total_wallet_cost"])
    assert await shop.balance() == Decimal(10) - paid[con_id]
    async with shop.api() as http:
        found = await http.get(f"connections/{second['connection_id']}")
    assert Decimal(found.json()["wallet"]["balance"]) == Decimal(5) - paid[second["connection_id"]]
    assert sum(sizes) >= len(forms) and max(sizes) > 1  # looked up together, in batches
    assert (await ledger_check(db)).problems == []
