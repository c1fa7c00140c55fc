"""Issue 12's end-to-end test: our server over real HTTP (its embedded delivery worker on), a
receiver on a loopback port subscribed to everything. A checkout through the hosted page, a
top-up through it, 1,000 forwarded calls through the proxy to the fake provider, a grant (the
sandbox's funding), a connection deleted: the receiver verifies both signatures with the SDK's
helper and gets each expected event exactly once (after deduplication by id), and per object
their `created_at` follow the order of the changes. Both databases."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from lava_server.app import create_app
from lava_server.settings import Settings
from lava_server.testing import ServerThread, serve_in_thread
from lava_server.testing.fake_provider import FakeProvider
from lavapayments.forward_token import encode_forward_token
from tests.checkout.helpers import GOOD_CARD, Page, create_session, secret_of, step_of
from tests.conftest import MerchantKey
from tests.metering.helpers import make_product
from tests.proxy.conftest import upstream_env  # noqa: F401  (a fixture)
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.slow
OPENAI = "https://api.openai.com/v1"
CALLS = 1000


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        webhooks_allow_http=True,
        webhook_balance_coalesce_s=1,
        webhook_poll_seconds=0.1,
        webhook_retry_delays="0.5,1",
    )


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, ServerThread]]:
    receiver = Receiver()
    with serve_in_thread(receiver.app()) as server:
        yield receiver, server


@pytest.fixture
def lava(settings: Settings, upstream_env: None, fake: FakeProvider) -> Iterator[ServerThread]:  # noqa: F811
    with serve_in_thread(create_app(settings), shutdown_timeout=5) as server:
        yield server


async def wait_for(condition: Any, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_every_event_once_signed_and_in_order(
    lava: ServerThread, merchant: MerchantKey, receiver: tuple[Receiver, ServerThread]
) -> None:
    hooks, hook_server = receiver
    h = merchant.headers
    async with httpx.AsyncClient(base_url=lava.url, timeout=30) as http:
        created = await http.post(
            "/v1/webhooks", json={"name": "all", "url": f"{hook_server.url}/hook/all"}, headers=h
        )
        assert created.status_code == 201, created.text
        hooks.secrets["all"] = created.json()["webhook_secret"]

        # A checkout through the hosted page: a new customer pays 25.
        session = await create_session(http, h)
        done = await Page(http, secret_of(session)).onboard(amount="25")
        assert step_of(done) == "Payment complete", done.text
        checkout = (
            await http.get(f"/v1/checkout_sessions/{session['checkout_session_id']}", headers=h)
        ).json()
        connection_id = checkout["connection_id"]
        connection = (await http.get(f"/v1/connections/{connection_id}", headers=h)).json()

        # A top-up through the page: 7 more.
        topup = await create_session(http, h, "topup", connection_id=connection_id)
        page = Page(http, secret_of(topup))
        await page.post("send_code")
        await page.verify()
        await page.post("amount", amount="7")
        assert step_of(await page.post("pay", **GOOD_CARD)) == "Payment complete"

        # 1,000 forwarded calls, 32 at a time.
        product = await make_product(http, h)
        token = encode_forward_token(
            secret_key=merchant.secret_key,
            connection_secret=connection["connection_secret"],
            product_secret=product["product_secret"],
        )
        limit = asyncio.Semaphore(32)
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}

        async def call() -> int:
            async with limit:
                response = await http.post(
                    f"/v1/forward?u={OPENAI}/chat/completions",
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                )
                return response.status_code

        statuses = await asyncio.gather(*(call() for _ in range(CALLS)))
        assert statuses == [200] * CALLS

        async def balance() -> Decimal:
            response = await http.get(f"/v1/connections/{connection_id}", headers=h)
            return Decimal(response.json()["wallet"]["balance"])

        # Each call's bill is written just after its answer: wait for the last one.
        after_calls, previous = await balance(), None
        while after_calls != previous:
            await asyncio.sleep(0.3)
            previous, after_calls = after_calls, await balance()

        # The last debit window closes (1 s), and its row waits 1 s more for late commits:
        # its event, rendered then, shows the balance after every call.
        def debits_reported() -> bool:
            return any(
                e["event"] == "customer.wallet.balance.updated"
                and Decimal(e["data"]["wallet"]["balance"]) == after_calls
                for e in hooks.events("all")
            )

        await wait_for(debits_reported)
        await asyncio.sleep(2.5)

        # A grant (sandbox funding), then the connection is deleted.
        granted = await http.post(
            f"/v1/test_helpers/connections/{connection_id}/fund", json={"amount": "3"}, headers=h
        )
        assert granted.status_code == 200, granted.text
        deleted = await http.delete(f"/v1/connections/{connection_id}", headers=h)
        assert deleted.status_code == 200

        def deleted_seen() -> bool:
            return any(e["event"] == "customer.deleted" for e in hooks.events("all"))

        await wait_for(deleted_seen)
        await asyncio.sleep(2.5)  # anything late would show up now
        deliveries = (
            await http.get(
                f"/v1/webhooks/{created.json()['webhook_id']}/deliveries?limit=100", headers=h
            )
        ).json()

    assert all(item.event is not None for item in hooks.received), "a signature did not verify"
    events = hooks.events("all")
    assert len({e["id"] for e in events}) == len(events)
    assert all(d["status"] == "delivered" for d in deliveries["data"])
    assert len(deliveries["data"]) == len(events)

    def of(kind: str) -> list[dict[str, Any]]:
        return [e for e in events if e["event"] == kind]

    completed = sorted(of("checkout.completed"), key=lambda e: e["created_at"])
    assert [e["data"]["checkout_session_id"] for e in completed] == [
        session["checkout_session_id"],
        topup["checkout_session_id"],
    ]
    assert all(e["data"]["completed_at"] for e in completed)
    assert [e["data"]["connection_id"] for e in of("customer.created")] == [connection_id]
    assert [e["data"]["connection_id"] for e in of("customer.deleted")] == [connection_id]
    balances = sorted(of("customer.wallet.balance.updated"), key=lambda e: e["created_at"])
    shown = [Decimal(e["data"]["wallet"]["balance"]) for e in balances]
    # Three credits (checkout 25, top-up 7, grant 3) and the debits, coalesced per second.
    assert shown[0] == Decimal(25) and shown[1] == Decimal(32)
    assert shown[-1] == after_calls + 3
    debits = shown[2:-1]
    assert 1 <= len(debits) <= 30, len(debits)
    # What calls in flight hold is out of the balance shown, so it need not fall steadily.
    assert all(value < Decimal(32) for value in debits) and debits[-1] == after_calls
    assert after_calls < Decimal(32)
    assert not of("customer.wallet.low_balance")
    assert {e["event"] for e in events} == {
        "customer.created",
        "customer.deleted",
        "customer.wallet.balance.updated",
        "checkout.completed",
    }

    # Per object, created_at follows the order of the changes (equal within one transaction:
    # the checkout's customer and its first credit).
    mine = [e for e in events if e["event"].startswith("customer.")]
    ranked = sorted(mine, key=lambda e: e["created_at"])
    assert ranked[-1]["event"] == "customer.deleted"
    assert all(e["created_at"] >= of("customer.created")[0]["created_at"] for e in mine)
    assert [e["event"] for e in ranked[2:-1]] == ["customer.wallet.balance.updated"] * (
        len(ranked) - 3
    )
    for event in events:
        assert event["livemode"] is False and event["id"].startswith("evt_test_")
