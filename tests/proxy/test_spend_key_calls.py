"""Forward calls made with a spend key (`docs/current-api.md#spend-keys`), over real HTTP on
SQLite and PostgreSQL: the key spends its customer's wallet (or the merchant's own account), its
allowance is taken in the hold and what a call did not use is given back, and every refusal is
the clear answer of its reason, with nothing forwarded and nothing charged."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from lava_server import timeutil
from lava_server.db.models import Connection, Request, Wallet
from lava_server.metering.forward import ForwardBilling
from lava_server.wallets.service import check as ledger_check
from tests.checkout.conftest import Clock
from tests.proxy.test_token_v2 import CHAT_URL, Shop
from tests.webhooks.events import events_about

ANTHROPIC_URL = "https://api.anthropic.com/v1/messages"


@pytest.fixture
async def shop(lava, merchant) -> Shop:
    return await Shop(lava.url, merchant).setup()


async def new_key(shop: Shop, **fields: Any) -> dict[str, Any]:
    async with shop.api() as http:
        response = await http.post("spend_keys", json={"name": "agent", **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


def bound(shop: Shop, **fields: Any) -> dict[str, Any]:
    """The fields of a key that spends the shop's customer under its meter."""
    return {
        "customer_id": shop.customer["connection_id"],
        "meter_slug": shop.meter["meter_slug"],
        **fields,
    }


async def key_state(shop: Shop, key_id: str) -> dict[str, Any]:
    async with shop.api() as http:
        response = await http.get(f"spend_keys/{key_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def call(shop: Shop, key: str, *, stream: bool = False, **fields: Any) -> httpx.Response:
    body = {
        "model": "gpt-4o-mini",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "Hello there"}],
        **fields,
    }
    if stream:
        body["stream"] = True
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(
            f"{shop.base}/v1/forward?u={CHAT_URL}",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
        )


async def count_requests(db) -> int:
    async with db.read() as session:
        return int((await session.execute(select(func.count()).select_from(Request))).scalar_one())


async def subscribe(shop: Shop) -> None:
    """An endpoint for the keys' events (a public address: the event is stored, whatever
    becomes of its delivery)."""
    async with shop.api() as http:
        response = await http.post(
            "webhooks",
            json={
                "name": "keys",
                "url": "https://93.184.216.34/hooks",
                "enabled_events": ["spend_key.limit_reached"],
            },
        )
    assert response.status_code == 201, response.text


async def limit_events(db, key_id: str) -> list[dict[str, Any]]:
    """The key's `spend_key.limit_reached` events, made already or still in the outbox."""
    return await events_about(db, "spend_key.limit_reached", key_id)


async def test_a_bound_key_spends_its_customers_wallet_and_counts_what_it_spent(shop, fake, db):
    key = await new_key(shop, **bound(shop))
    before = await shop.balance()
    stored = [
        await shop.stored(await call(shop, key["key"])),
        await shop.stored(await call(shop, key["key"], stream=True)),
    ]
    spent = Decimal(0)
    for request in stored:
        assert request["status"] == "completed"
        assert request["connection_id"] == shop.customer["connection_id"]
        assert request["product_id"] == shop.meter["meter_id"]
        assert request["provider_key_type"] == "managed"
        spent += Decimal(request["total_wallet_cost"])
    assert spent > 0
    assert await shop.balance() == before - spent
    state = await key_state(shop, key["spend_key_id"])
    assert Decimal(state["current_spend"]) == Decimal(state["total_spend"]) == spent
    assert state["current_requests"] == state["total_requests"] == 2
    assert state["last_used_at"] is not None
    async with db.read() as session:
        keys = (
            await session.execute(
                select(Request.spend_key_id).where(
                    Request.request_id.in_([r["request_id"] for r in stored])
                )
            )
        ).scalars()
        assert set(keys) == {key["spend_key_id"]}
    assert (await ledger_check(db)).problems == []


async def test_a_key_without_a_customer_spends_the_merchants_account(shop, fake, db):
    """What the merchant bears (provider cost and service charge) is what the key spends."""
    key = await new_key(shop)
    before = await shop.balance()
    request = await shop.stored(await call(shop, key["key"]))
    assert request.get("connection_id") is None
    assert Decimal(request["total_wallet_cost"]) == 0
    merchant_cost = Decimal(request["total_merchant_cost"])
    assert merchant_cost > 0
    assert await shop.balance() == before
    state = await key_state(shop, key["spend_key_id"])
    assert Decimal(state["current_spend"]) == merchant_cost
    assert state["current_requests"] == 1
    assert (await ledger_check(db)).problems == []


async def test_refusals_answer_their_reason_and_send_nothing(shop, fake, db):
    active = await new_key(shop, **bound(shop))
    revoked = await new_key(shop, **bound(shop))
    rotated = await new_key(shop, **bound(shop))
    paused = await new_key(shop, **bound(shop), status="paused")
    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    expired = await new_key(shop, **bound(shop), expires_at=past.isoformat())
    models = await new_key(shop, **bound(shop), allowed_models=["gpt-4o"])
    providers = await new_key(shop, **bound(shop), allowed_providers=["anthropic"])
    async with shop.api() as http:
        assert (await http.delete(f"spend_keys/{revoked['spend_key_id']}")).status_code == 200
        assert (await http.post(f"spend_keys/{rotated['spend_key_id']}/rotate")).status_code == 200
    stored_before, sent_before = await count_requests(db), len(fake.requests)
    expected = [
        ("lava_sk_" + "x" * 43, 401, "unauthorized", "Authorization"),
        (revoked["key"], 401, "unauthorized", "Authorization"),
        (rotated["key"], 401, "unauthorized", "Authorization"),
        (paused["key"], 403, "spend_key_paused", "status"),
        (expired["key"], 403, "spend_key_expired", "expires_at"),
        (models["key"], 403, "model_not_allowed", "model"),
        (providers["key"], 403, "provider_not_allowed", "provider"),
    ]
    for raw, status, code, param in expected:
        response = await call(shop, raw)
        assert response.status_code == status, (code, response.text)
        error = response.json()["error"]
        assert (error["code"], error["param"]) == (code, param)
    assert len(fake.requests) == sent_before
    assert await count_requests(db) == stored_before
    ok = await call(shop, active["key"])
    assert ok.status_code == 200, ok.text
    # A key that names its models takes exactly those.
    allowed = await call(shop, models["key"], model="gpt-4o")
    assert allowed.status_code == 200, allowed.text


async def test_the_spend_limit_stops_the_call_that_would_pass_it(shop, fake, db):
    """Calls go through while their worst case fits under the limit; the one that would pass it
    is a 402 with nothing sent; the key's event is written once; raising the limit lets calls
    through again; what the key spent is what its calls were charged."""
    probe = await new_key(shop, **bound(shop))
    first = await shop.stored(await call(shop, probe["key"]))
    async with db.read() as session:
        hold = (
            await session.execute(
                select(Request.hold_amount).where(Request.request_id == first["request_id"])
            )
        ).scalar_one()
    assert hold > Decimal(first["total_wallet_cost"]) > 0
    # Room for three worst cases less a hair: a call goes through while what the key spent
    # plus its worst case fits, so at least three do, and more as their unused holds come back.
    limit = hold * 3 - Decimal("0.0000000001")
    await subscribe(shop)
    key = await new_key(shop, **bound(shop), spend_limit={"amount": str(limit), "cycle": "daily"})
    statuses = []
    charged = Decimal(0)
    for _ in range(200):
        response = await call(shop, key["key"])
        statuses.append(response.status_code)
        if response.status_code != 200:
            break
        charged += Decimal((await shop.stored(response))["total_wallet_cost"])
    assert statuses[-1] == 402, statuses
    assert response.json()["error"]["code"] == "spend_limit_reached"
    assert response.json()["error"]["param"] == "spend_limit"
    # What a call spends is under its hold, so more than three calls fit in three holds.
    assert statuses.count(200) >= 3
    state = await key_state(shop, key["spend_key_id"])
    assert Decimal(state["current_spend"]) == charged <= limit
    assert state["current_requests"] == statuses.count(200)
    sent = len(fake.requests)
    again = await call(shop, key["key"])
    assert again.status_code == 402
    assert len(fake.requests) == sent
    events = await limit_events(db, key["spend_key_id"])
    assert len(events) == 1
    assert events[0]["limit"] == "spend_limit"
    assert events[0]["spend_key_id"] == key["spend_key_id"]
    async with shop.api() as http:
        raised = await http.put(
            f"spend_keys/{key['spend_key_id']}",
            json={"spend_limit": {"amount": str(limit * 10), "cycle": "daily"}},
        )
        assert raised.status_code == 200, raised.text
    assert (await call(shop, key["key"])).status_code == 200
    assert (await ledger_check(db)).problems == []


async def test_the_request_limit_is_a_429_with_the_time_until_the_cycle_resets(shop, fake, db):
    await subscribe(shop)
    key = await new_key(shop, **bound(shop), request_limit={"count": 2, "cycle": "daily"})
    assert (await call(shop, key["key"])).status_code == 200
    assert (await call(shop, key["key"], stream=True)).status_code == 200
    refused = await call(shop, key["key"])
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "request_limit_reached"
    now = datetime.now(timezone.utc)
    midnight = datetime(now.year, now.month, now.day, tzinfo=timezone.utc) + timedelta(days=1)
    retry = int(refused.headers["retry-after"])
    assert abs(retry - (midnight - now).total_seconds()) < 30
    assert len(await limit_events(db, key["spend_key_id"])) == 1
    lifetime = await new_key(shop, **bound(shop), request_limit={"count": 1, "cycle": "total"})
    assert (await call(shop, lifetime["key"])).status_code == 200
    never = await call(shop, lifetime["key"])
    assert never.status_code == 429
    assert "retry-after" not in never.headers  # a lifetime limit never resets


async def test_a_call_the_provider_refused_gives_the_key_everything_back(shop, fake, db):
    key = await new_key(
        shop,
        **bound(shop),
        request_limit={"count": 1, "cycle": "total"},
        spend_limit={"amount": "1", "cycle": "total"},
    )
    failed = await call(shop, key["key"], messages=[{"role": "user", "content": "fake-error-500"}])
    assert failed.status_code == 500
    state = await key_state(shop, key["spend_key_id"])
    assert Decimal(state["current_spend"]) == 0
    assert state["current_requests"] == 0
    # Its one request is still there to use.
    assert (await call(shop, key["key"])).status_code == 200
    assert (await key_state(shop, key["spend_key_id"]))["current_requests"] == 1


async def test_cycles_reset_at_day_week_and_month_boundaries(shop, fake, db, monkeypatch):
    """A controllable clock steps from a Wednesday 23:59 UTC (Dec 30) over midnight (a new day),
    over the new year (a new month, same ISO week) and over Monday 00:00 (a new week); each key
    allows one request per cycle, and a call after its boundary sees a fresh cycle without any
    job having run. `total` never resets."""
    clock = Clock(datetime(2026, 12, 30, 23, 59, tzinfo=timezone.utc))
    monkeypatch.setattr(timeutil, "clock", clock)
    keys = {}
    for cycle in ("daily", "weekly", "monthly", "total"):
        limit = {"count": 1, "cycle": cycle}
        keys[cycle] = (await new_key(shop, **bound(shop), request_limit=limit))["key"]

    async def allowed() -> dict[str, bool]:
        return {cycle: (await call(shop, raw)).status_code == 200 for cycle, raw in keys.items()}

    assert await allowed() == {"daily": True, "weekly": True, "monthly": True, "total": True}
    assert await allowed() == {"daily": False, "weekly": False, "monthly": False, "total": False}
    clock.now = datetime(2026, 12, 31, 0, 1, tzinfo=timezone.utc)  # Thursday: a new day
    assert await allowed() == {"daily": True, "weekly": False, "monthly": False, "total": False}
    clock.now = datetime(2027, 1, 1, 0, 1, tzinfo=timezone.utc)  # Friday: a new day and month
    assert await allowed() == {"daily": True, "weekly": False, "monthly": True, "total": False}
    clock.now = datetime(2027, 1, 4, 0, 1, tzinfo=timezone.utc)  # Monday: a new ISO week
    assert await allowed() == {"daily": True, "weekly": True, "monthly": False, "total": False}
    assert (await ledger_check(db)).problems == []


async def test_the_rate_limit_is_a_token_bucket_answered_with_retry_after(shop, fake, db):
    """`burst` calls at once, then one per `60/rpm` seconds: the call past the bucket is a 429
    with `Retry-After`, before anything is reserved or sent."""
    key = await new_key(shop, **bound(shop), rate_limit={"rpm": 6, "burst": 2})
    assert (await call(shop, key["key"])).status_code == 200
    assert (await call(shop, key["key"])).status_code == 200
    sent, stored = len(fake.requests), await count_requests(db)
    refused = await call(shop, key["key"])
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.json()["error"]["param"] == "rate_limit"
    assert 1 <= int(refused.headers["retry-after"]) <= 10
    assert (len(fake.requests), await count_requests(db)) == (sent, stored)
    state = await key_state(shop, key["spend_key_id"])
    assert state["current_requests"] == 2
    # Another key has its own bucket.
    other = await new_key(shop, **bound(shop), rate_limit={"rpm": 6, "burst": 2})
    assert (await call(shop, other["key"])).status_code == 200


async def test_a_keys_calls_take_the_quick_hold_with_its_allowance(shop, fake, db, monkeypatch):
    """After a key's first call (which learns its meter), its holds take the quick path: the
    allowance is taken in the same short transaction as the hold (one statement and the key's
    UPDATE on PostgreSQL, the SQLite hold's transaction); a call the key cannot afford falls to
    the ordinary path, which answers why, and the quick path wrote nothing of it."""
    ordinary = 0
    reserve_together = ForwardBilling._reserve_together

    async def counted(self, batch):
        nonlocal ordinary
        ordinary += 1
        await reserve_together(self, batch)

    monkeypatch.setattr(ForwardBilling, "_reserve_together", counted)
    key = await new_key(shop, **bound(shop), request_limit={"count": 3, "cycle": "daily"})
    for expected_ordinary in (1, 1, 1):
        response = await call(shop, key["key"])
        await shop.stored(response)  # settled: its hold is gone
        assert ordinary == expected_ordinary
    assert await held(db, shop) == 0
    refused = await call(shop, key["key"])
    assert refused.status_code == 429
    assert ordinary == 2  # the quick hold refused; the ordinary path said why
    assert await held(db, shop) == 0
    state = await key_state(shop, key["spend_key_id"])
    assert state["current_requests"] == 3
    assert (await ledger_check(db)).problems == []


async def held(db, shop: Shop) -> Decimal:
    """What the customer's wallet holds for calls in flight."""
    wallet = select(Connection.wallet_id).where(Connection.id == shop.customer["connection_id"])
    async with db.read() as session:
        query = select(Wallet.held).where(Wallet.id == wallet.scalar_subquery())
        return Decimal((await session.execute(query)).scalar_one())


@pytest.fixture
def anthropic_managed(upstream_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator's Anthropic key (read when the server starts: ask for it before `shop`)."""
    monkeypatch.setenv("LAVA_PROVIDER_KEY_ANTHROPIC", "sk-managed-anthropic")


async def test_a_key_on_the_rewrite_door(anthropic_managed, shop, fake, db):
    """`/v1/rewrite/openai/<Anthropic's URL>` with a spend key: an OpenAI-shaped call to a
    Claude model, translated, billed to the key's customer and counted by the key."""
    key = await new_key(shop, **bound(shop), allowed_providers=["anthropic"])
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{shop.base}/v1/rewrite/openai/https://api.anthropic.com/v1/chat/completions",
            json={
                "model": "claude-haiku-4-5",
                "max_tokens": 50,
                "messages": [{"role": "user", "content": "Hello there"}],
            },
            headers={"Authorization": f"Bearer {key['key']}"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["object"] == "chat.completion"
    request = await shop.stored(response)
    assert request["provider"] == "anthropic"
    assert request["connection_id"] == shop.customer["connection_id"]
    state = await key_state(shop, key["spend_key_id"])
    assert Decimal(state["current_spend"]) == Decimal(request["total_wallet_cost"]) > 0
    assert (await ledger_check(db)).problems == []
