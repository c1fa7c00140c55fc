"""Events reach a real HTTP receiver, signed both ways, once each; the outbox is written with
the change; retries, resend and test pings; on both databases."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from lava_server.addresses import AddressRefused, GuardedResolver
from lava_server.db.engine import Database
from lava_server.db.models import WebhookEndpoint
from lava_server.settings import Settings
from lava_server.testing import ServerThread, serve_in_thread
from lava_server.timeutil import utcnow
from lava_server.webhooks.repository import purge_before
from lava_server.webhooks.worker import Deliverer
from lavapayments.webhooks import WebhookVerificationError, verify
from tests.conftest import MerchantKey
from tests.db.plans import sqlite_plans
from tests.webhooks.receiver import Receiver


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        webhooks_allow_http=True,
        webhook_balance_coalesce_s=1,
        webhook_retry_delays="0.2,0.4",
    )


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def receiver_server(receiver: Receiver) -> Iterator[ServerThread]:
    with serve_in_thread(receiver.app()) as server:
        yield server


async def subscribe(
    client: httpx.AsyncClient,
    merchant: MerchantKey,
    receiver: Receiver,
    server: ServerThread,
    name: str = "all",
    **extra: object,
) -> dict:
    response = await client.post(
        "/v1/webhooks",
        json={"name": name, "url": f"{server.url}/hook/{name}", **extra},
        headers=merchant.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    receiver.secrets[name] = body["webhook_secret"]
    return body


async def drain(deliverer: Deliverer, rounds: int = 3) -> None:
    for _ in range(rounds):
        await deliverer.run_once()


async def test_customer_life_is_delivered_signed_once_each(
    client, merchant, db: Database, settings: Settings, receiver, receiver_server
):
    await subscribe(client, merchant, receiver, receiver_server)
    legacy = await subscribe(
        client, merchant, receiver, receiver_server, name="legacy", event_names="legacy"
    )
    only = await subscribe(
        client,
        merchant,
        receiver,
        receiver_server,
        name="only",
        enabled_events=["connection.deleted"],
    )
    created = await client.post(
        "/v1/test_helpers/connections", json={"balance": "5"}, headers=merchant.headers
    )
    connection_id = created.json()["connection_id"]
    await client.post(
        f"/v1/test_helpers/connections/{connection_id}/fund",
        json={"amount": "2.5"},
        headers=merchant.headers,
    )
    await client.delete(f"/v1/connections/{connection_id}", headers=merchant.headers)
    deliverer = Deliverer(db, settings)
    try:
        await drain(deliverer)
    finally:
        await deliverer.stop()

    assert all(item.event is not None for item in receiver.received)
    by_hook = {
        name: [e["event"] for e in receiver.events(name)] for name in ("all", "legacy", "only")
    }
    assert len(receiver.received) == 9
    assert by_hook["only"] == ["customer.deleted"]  # subscribed by its legacy name
    events = receiver.events("all")
    assert all(e["livemode"] is False and e["id"].startswith("evt_test_") for e in events)
    created_event = next(e for e in events if e["event"] == "customer.created")
    assert created_event["data"]["connection_id"] == connection_id
    balances = [e["data"]["wallet"]["balance"] for e in events if e["event"].endswith("updated")]
    assert "7.50" in balances[-1]
    deliveries = await client.get(
        f"/v1/webhooks/{legacy['webhook_id']}/deliveries", headers=merchant.headers
    )
    rows = deliveries.json()["data"]
    assert len(rows) == 4
    assert all(row["status"] == "delivered" and row["attempt_count"] == 1 for row in rows)
    assert rows[0]["attempts"][0]["status_code"] == 200
    assert len(rows[0]["attempts"][0]["response_body"]) == 2048
    assert only["enabled_events"] == ["connection.deleted"]


async def _until(deliverer: Deliverer, done, seconds: float = 20.0) -> None:
    """Run rounds until `done()` (real time: retries are due after their short delays)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not done():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await deliverer.run_once()
        await asyncio.sleep(0.05)


async def _deliveries(client, merchant, webhook_id: str) -> list[dict]:
    response = await client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=merchant.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_failures_back_off_the_receiver_down_then_back_gets_it(
    client, merchant, db: Database, settings: Settings, receiver, receiver_server
):
    """500 three times, then down (connection refused), then back: delivered, and every
    attempt with its growing pause is visible through the deliveries list."""
    receiver.answer = lambda n: 500 if n <= 3 else 200
    hook = await subscribe(client, merchant, receiver, receiver_server)
    ping = await client.post(f"/v1/webhooks/{hook['webhook_id']}/test", headers=merchant.headers)
    assert ping.json()["status"] == "pending"
    deliverer = Deliverer(db, settings)
    try:
        await _until(deliverer, lambda: len(receiver.received) == 3)
        port = receiver_server.port
        receiver_server.stop()
        for _ in range(40):
            await deliverer.run_once()
            await asyncio.sleep(0.05)
            rows = await _deliveries(client, merchant, hook["webhook_id"])
            if len(rows[0]["attempts"]) >= 5:
                break
        with serve_in_thread(receiver.app(), port=port):
            await _until(deliverer, lambda: len(receiver.received) == 4)
            rows = await _deliveries(client, merchant, hook["webhook_id"])
    finally:
        await deliverer.stop()
    [row] = rows
    assert row["status"] == "delivered" and row["delivered_at"] is not None
    codes = [attempt["status_code"] for attempt in row["attempts"]]
    assert codes[:3] == [500, 500, 500]
    assert codes[-1] == 200
    down = row["attempts"][3:-1]
    assert down and all(a["status_code"] is None and a["error"] for a in down)
    assert row["attempt_count"] == len(codes)
    times = [datetime.fromisoformat(a["attempted_at"]) for a in row["attempts"]]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.2 * 0.8 and gaps[1] >= 0.4 * 0.8  # the configured delays, jittered
    assert [e["event"] for e in receiver.events("all")] == ["ping"]


async def test_redirects_are_not_followed(
    client, merchant, db: Database, settings: Settings, receiver, receiver_server
):
    receiver.answer = lambda n: 302
    hook = await subscribe(client, merchant, receiver, receiver_server)
    await client.post(f"/v1/webhooks/{hook['webhook_id']}/test", headers=merchant.headers)
    deliverer = Deliverer(db, settings)
    try:
        await deliverer.run_once()
    finally:
        await deliverer.stop()
    [row] = await _deliveries(client, merchant, hook["webhook_id"])
    assert row["status"] == "pending" and row["attempts"][0]["status_code"] == 302
    assert len(receiver.received) == 1


async def test_resend_sends_again(
    client, merchant, db: Database, settings: Settings, receiver, receiver_server
):
    hook = await subscribe(client, merchant, receiver, receiver_server)
    ping = (
        await client.post(f"/v1/webhooks/{hook['webhook_id']}/test", headers=merchant.headers)
    ).json()
    deliverer = Deliverer(db, settings)
    try:
        await deliverer.run_once()
        again = await client.post(
            f"/v1/webhooks/{hook['webhook_id']}/deliveries/{ping['delivery_id']}/resend",
            headers=merchant.headers,
        )
        assert again.json()["status"] == "pending"
        await deliverer.run_once()
    finally:
        await deliverer.stop()
    assert len(receiver.received) == 2
    assert len(receiver.events("all")) == 1  # the same event id twice
    [row] = await _deliveries(client, merchant, hook["webhook_id"])
    assert row["status"] == "delivered" and row["attempt_count"] == 2


async def test_attempts_are_kept_for_the_retention_then_forgotten(
    client, merchant, db: Database, settings: Settings, receiver, receiver_server
):
    """A delivered ping and its attempt stay listed within `webhook_retention_days`, go after it;
    a delivery still pending is kept however old."""
    hook = await subscribe(client, merchant, receiver, receiver_server)
    await client.post(f"/v1/webhooks/{hook['webhook_id']}/test", headers=merchant.headers)
    deliverer = Deliverer(db, settings)
    try:
        await deliverer.run_once()
        receiver.answer = lambda n: 200 if n == 1 else 500  # the second ping stays pending
        await client.post(f"/v1/webhooks/{hook['webhook_id']}/test", headers=merchant.headers)
        await deliverer.run_once()
        assert await deliverer.purge(utcnow() + timedelta(days=29)) == 0
        assert len(await _deliveries(client, merchant, hook["webhook_id"])) == 2
        gone = await deliverer.purge(utcnow() + timedelta(days=31))
    finally:
        await deliverer.stop()
    assert gone == 4  # both attempts, the delivered delivery, its event
    [row] = await _deliveries(client, merchant, hook["webhook_id"])
    assert row["status"] == "pending" and row["attempts"] == []


async def test_rotation_signs_with_both_secrets_for_a_day(
    client, merchant, db: Database, settings: Settings, receiver, receiver_server
):
    hook = await subscribe(client, merchant, receiver, receiver_server)
    rotated = (
        await client.post(f"/v1/webhooks/{hook['webhook_id']}/rotate", headers=merchant.headers)
    ).json()
    await client.post(f"/v1/webhooks/{hook['webhook_id']}/test", headers=merchant.headers)
    deliverer = Deliverer(db, settings)
    try:
        await deliverer.run_once()
    finally:
        await deliverer.stop()
    [item] = receiver.received
    assert item.headers["x-lava-signature"].count("v1=") == 2
    for secret in (hook["webhook_secret"], rotated["webhook_secret"]):
        lava_only = {k: v for k, v in item.headers.items() if k != "x-webhook-signature"}
        assert verify(item.body, lava_only, secret)["event"] == "ping"
    assert verify(item.body, item.headers, rotated["webhook_secret"])
    with pytest.raises(WebhookVerificationError):
        verify(item.body, item.headers, "whsec_test_wrong")


async def test_a_live_endpoint_resolving_to_loopback_is_refused_when_connecting(
    client, live_merchant, db: Database, settings: Settings, receiver, receiver_server
):
    """Accepted as a public name, then resolving inside: refused at connect time."""
    hook = (
        await client.post(
            "/v1/webhooks",
            json={"name": "x", "url": "https://hooks.example.com/"},
            headers=live_merchant.headers,
        )
    ).json()
    async with db.write() as session:
        endpoint = await session.get(WebhookEndpoint, hook["webhook_id"])
        assert endpoint is not None
        endpoint.url = f"https://localhost:{receiver_server.port}/hook/x"
    await client.post(f"/v1/webhooks/{hook['webhook_id']}/test", headers=live_merchant.headers)
    deliverer = Deliverer(db, settings)
    try:
        await deliverer.run_once()
    finally:
        await deliverer.stop()
    [row] = await _deliveries(client, live_merchant, hook["webhook_id"])
    assert row["attempts"][0]["status_code"] is None
    assert "loopback" in row["attempts"][0]["error"]
    assert receiver.received == []


async def test_the_resolver_refuses_inside_addresses():
    with pytest.raises(AddressRefused):
        await GuardedResolver().resolve("localhost", 443)
    assert await GuardedResolver(allow_loopback=True).resolve("localhost", 443)


async def test_the_purge_finds_what_it_deletes_through_indexes(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """The retention purge looks up an old event's deliveries, and the old attempts, through
    indexes (migration 0021): without them it read every delivery for every old event, under
    the write lock (quadratic: 8,000 kept events took 1.4 s on SQLite). SQLite's query plans
    (PostgreSQL's depend on its statistics)."""

    async def purge(db: Database) -> None:
        async with db.write() as session:
            await purge_before(session, utcnow())

    plans = await sqlite_plans(sqlite_template, tmp_path, purge)
    deletes = [plan for statement, plan in plans.items() if statement.startswith("DELETE")]
    assert len(deletes) == 3, plans
    for statement, plan in plans.items():
        assert "SCAN webhook_deliveries" not in plan, (statement, plan)
        assert "SCAN webhook_attempts" not in plan, (statement, plan)
