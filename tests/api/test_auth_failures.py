"""Authentication comes first: a caller without a valid key writes nothing, and failed
authentications are limited per client address (logged once per window)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import func, select

from lava_server.app import create_app
from lava_server.db.engine import Database
from lava_server.db.models import IdempotencyKey
from lava_server.merchants import service as merchants
from lava_server.settings import Settings
from tests.api.test_api_base import PRODUCT, assert_error


@asynccontextmanager
async def app_client(
    settings: Settings, db: Database, address: str = "203.0.113.7", **overrides: object
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=overrides), db)
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://lava.test") as http:
        http.app = app  # type: ignore[attr-defined]
        yield http


async def stored_idempotency_keys(db: Database) -> int:
    async with db.read() as session:
        return int((await session.execute(select(func.count(IdempotencyKey.key)))).scalar_one())


async def test_junk_keys_with_idempotency_keys_store_nothing(settings, db, merchant):
    """The issue's attack: 300 POSTs with junk keys and Idempotency-Keys wrote 300 rows."""
    async with app_client(settings, db) as http:
        statuses = []
        for n in range(300):
            response = await http.post(
                "/v1/products",
                json=PRODUCT,
                headers={"Authorization": f"Bearer aks_test_junk{n}", "Idempotency-Key": f"k{n}"},
            )
            statuses.append(response.status_code)
    assert statuses[:30] == [401] * 30
    assert set(statuses[30:]) == {429}
    assert await stored_idempotency_keys(db) == 0


async def test_revoked_malformed_and_missing_keys_store_nothing(client, db, merchant):
    revoked = await merchants.create_key(db, merchant.merchant_id, livemode=False)
    await merchants.revoke_key(db, revoked.key_id)
    for authorization in (f"Bearer {revoked.secret_key}", "Bearer nope", "Basic abc", None):
        headers = {"Idempotency-Key": "same-key"}
        if authorization is not None:
            headers["Authorization"] = authorization
        response = await client.post("/v1/products", json=PRODUCT, headers=headers)
        assert_error(response, 401, "unauthorized", "Authorization")
    # also on the hot path of reported usage
    response = await client.post(
        "/v1/requests",
        json={"request_id": "r1", "connection_secret": "c", "product_secret": "p"},
        headers={"Authorization": f"Bearer {revoked.secret_key}", "Idempotency-Key": "r1"},
    )
    assert_error(response, 401, "unauthorized", "Authorization")
    assert await stored_idempotency_keys(db) == 0
    # a valid key still claims and replays
    headers = {**merchant.headers, "Idempotency-Key": "same-key"}
    first = await client.post("/v1/products", json=PRODUCT, headers=headers)
    again = await client.post("/v1/products", json=PRODUCT, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await stored_idempotency_keys(db) == 1


async def test_a_rate_limited_key_stores_nothing(settings, db, merchant):
    async with app_client(settings, db, rate_limit_per_minute=2) as http:
        for n in range(4):
            headers = {**merchant.headers, "Idempotency-Key": f"k{n}"}
            response = await http.post("/v1/products", json=PRODUCT, headers=headers)
            assert response.status_code == (201 if n < 2 else 429)
    assert await stored_idempotency_keys(db) == 2


async def test_failures_are_limited_per_address_and_logged_once(settings, db, merchant, caplog):
    caplog.set_level(logging.WARNING, logger="lava_server.ratelimit")
    async with app_client(settings, db, auth_failures_per_minute=5) as attacker:
        for _ in range(5):
            assert_error(
                await attacker.get("/v1/connections", headers={"Authorization": "Bearer x"}),
                401,
                "unauthorized",
            )
        # forward tokens count too: anyone can send one
        response = await attacker.post(
            "/v1/forward?u=https://api.openai.com/v1/chat/completions",
            headers={"Authorization": "Bearer not-a-token"},
            json={},
        )
        error = assert_error(response, 429, "rate_limited", "Authorization")
        assert "failed authentications" in error["message"]
        assert 1 <= int(response.headers["retry-after"]) <= 60
        # once blocked, even a valid key from that address waits for the window to end
        response = await attacker.get("/v1/connections", headers=merchant.headers)
        assert response.status_code == 429
        # the rest of the world is not affected (same app, another address)
        other = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=attacker.app, client=("198.51.100.1", 1)),
            base_url="http://lava.test",
        )
        async with other:
            assert (await other.get("/v1/connections", headers=merchant.headers)).status_code == 200
        # the next window starts afresh
        limiter = attacker.app.state.lava.auth_failures
        now = limiter.clock()
        limiter.clock = lambda: now + 60
        assert (await attacker.get("/v1/connections", headers=merchant.headers)).status_code == 200
    warnings = [r for r in caplog.records if "failed authentication from" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "203.0.113.7" in warnings[0].getMessage()


async def test_a_valid_key_with_a_wrong_connection_is_not_a_failed_authentication(
    settings, db, merchant
):
    """A merchant's backend sending a deleted customer's secret must not block its address."""
    async with app_client(settings, db, auth_failures_per_minute=2) as http:
        for n in range(5):
            response = await http.post(
                "/v1/requests",
                json={"request_id": f"r{n}", "connection_secret": "cons_x", "product_secret": "p"},
                headers=merchant.headers,
            )
            assert_error(response, 401, "unauthorized", "connection_secret")
        assert (await http.get("/v1/connections", headers=merchant.headers)).status_code == 200
