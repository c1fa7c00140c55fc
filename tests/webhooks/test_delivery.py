"""Events reach a real HTTP receiver, signed both ways, once each; the outbox is written with
the change; retries, resend and test pings; on both databases."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from lava_server.db.engine import Database
from lava_server.settings import Settings
from lava_server.testing import ServerThread, serve_in_thread
from lava_server.webhooks.worker import Deliverer
from tests.conftest import MerchantKey
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
