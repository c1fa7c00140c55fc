"""The auto top-up of credit bundles (`docs/checkout-and-wallets.md#auto-top-up-of-credit-bundles`)
over real HTTP, on SQLite and PostgreSQL: a subscriber whose credit runs out has the auto top-up
bundle bought, at the hold of the request that would be refused (both doors) or proactively by the
worker after a charge leaves little; a declined card is a clear 402; concurrent requests buy one
bundle; balances are exact and the ledger stays clean."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from lava_server.app import create_app
from lava_server.db.models import Payment, PaymentMethod, WebhookOutbox
from lava_server.payments.context import Billing
from lava_server.settings import Settings
from lava_server.testing import ServerThread, serve_in_thread
from lava_server.wallets.service import check as ledger_check
from lava_server.worker.runner import run_once
from lavapayments.forward_token import encode_forward_token
from tests.checkout.helpers import DETAILS, GOOD_CARD, ORIGIN, Page, secret_of, succeeded_charges
from tests.conftest import MerchantKey
from tests.metering.helpers import make_product

CHAT_URL = "https://api.openai.com/v1/chat/completions"
# A $1 plan granting 1 credit; its bundle costs $5 and grants 6 credits.
PLAN = {
    "name": "Basic",
    "period_amount": "1",
    "included_credit": "1",
    "billing_interval": "month",
    "credit_bundles": [{"name": "Refill", "cost": "5", "credit_amount": "6"}],
    "default_auto_top_up_bundle_index": 0,
}
# The meter charges $2 per million tokens, plus the 1.9 % service charge.
ONE = 500_000  # tokens of a $1.019 request


def cost_of(tokens: int) -> Decimal:
    return Decimal(tokens) * 2 / 1_000_000 * Decimal("1.019")


@pytest.fixture
def proxy_settings(settings: Settings) -> Settings:
    """The worker runs when the test says (`run_once`), not every 5 s beside the server."""
    return settings.model_copy(
        update={
            "upstream_first_byte_timeout": 3.0,
            "upstream_idle_timeout": 1.0,
            "separate_worker": True,
        }
    )


class Subscriber:
    """A merchant with a meter and a plan with an auto top-up bundle, and a customer subscribed
    to it through the hosted checkout with a card."""

    def __init__(self, lava: ServerThread, merchant: MerchantKey, db: Any) -> None:
        self.lava = lava
        self.merchant = merchant
        self.db = db
        self.customer_id = ""
        self.wallet_id = ""
        self.plan: dict[str, Any] = {}

    @property
    def billing(self) -> Billing:
        billing: Billing = self.lava.app.state.billing  # type: ignore[attr-defined]
        return billing

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.lava.url, timeout=30)

    async def setup(self, plan: dict[str, Any] | None = None) -> Subscriber:
        h = self.merchant.headers
        async with self.http() as http:
            await make_product(http, h, name="Chat Meter")
            answer = await http.post("/v1/plans", json=plan or PLAN, headers=h)
            assert answer.status_code == 201, answer.text
            self.plan = answer.json()
            session = await http.post(
                "/v1/checkout_sessions",
                json={
                    "origin_url": ORIGIN,
                    "checkout_mode": "subscription",
                    "plan_id": self.plan["plan_id"],
                },
                headers=h,
            )
            assert session.status_code == 201, session.text
            page = Page(http, secret_of(session.json()))
            await page.post("details", **DETAILS)
            await page.verify()
            done = await page.post("pay", **GOOD_CARD)
            assert "You are subscribed" in done.text, done.text
            found = await http.get(
                f"/v1/checkout_sessions/{session.json()['checkout_session_id']}", headers=h
            )
            self.customer_id = found.json()["customer_id"]
            subs = (await http.get("/v1/active-subscriptions", headers=h)).json()
            self.wallet_id = next(
                s["wallet_id"] for s in subs if s["connection_id"] == self.customer_id
            )
        sub = await self.subscription()
        assert sub["auto_top_up_bundle_id"] == self.bundle_id
        return self

    @property
    def bundle_id(self) -> str:
        return str(self.plan["credit_bundles"][0]["credit_bundle_id"])

    async def report(self, request_id: str, tokens: int) -> httpx.Response:
        async with self.http() as http:
            return await http.post(
                "/v1/requests",
                json={
                    "request_id": request_id,
                    "customer_id": self.customer_id,
                    "meter_slug": "chat-meter",
                    "input_tokens": tokens,
                    "output_tokens": 0,
                },
                headers=self.merchant.headers,
            )

    async def forward(self, **token_fields: Any) -> httpx.Response:
        token = encode_forward_token(
            secret_key=self.merchant.secret_key,
            customer_id=self.customer_id,
            meter_slug="chat-meter",
            **token_fields,
        )
        async with self.http() as http:
            return await http.post(
                f"/v1/forward?u={CHAT_URL}",
                json={
                    "model": "gpt-4o-mini",
                    "messages": [{"role": "user", "content": "Hello there"}],
                    "max_tokens": 50,
                },
                headers={"Authorization": f"Bearer {token}"},
            )

    async def set_bundle(self, bundle_id: str | None) -> None:
        sub = await self.subscription()
        async with self.http() as http:
            answer = await http.patch(
                f"/v1/subscriptions/{sub['subscription_id']}",
                json={"auto_top_up_bundle_id": bundle_id},
                headers=self.merchant.headers,
            )
        assert answer.status_code == 200, answer.text

    async def subscription(self) -> dict[str, Any]:
        async with self.http() as http:
            answer = await http.get(
                f"/v1/customers/{self.customer_id}/subscription", headers=self.merchant.headers
            )
        assert answer.status_code == 200, answer.text
        return dict(answer.json()["subscription"])

    async def balance(self) -> Decimal:
        async with self.http() as http:
            answer = await http.get(
                f"/v1/connections/{self.customer_id}", headers=self.merchant.headers
            )
        return Decimal(answer.json()["wallet"]["balance"])

    async def top_ups(self) -> list[Payment]:
        async with self.db.read() as session:
            rows = await session.execute(
                select(Payment)
                .where(Payment.wallet_id == self.wallet_id, Payment.purpose == "auto_top_up")
                .order_by(Payment.created_at, Payment.id)
            )
            return list(rows.scalars())

    async def events(self, event_type: str) -> list[WebhookOutbox]:
        async with self.db.read() as session:
            rows = await session.execute(
                select(WebhookOutbox).where(
                    WebhookOutbox.type == event_type,
                    WebhookOutbox.merchant_id == self.merchant.merchant_id,
                )
            )
            return list(rows.scalars())

    def charged(self) -> list[Decimal]:
        return [c.amount for c in succeeded_charges(self.billing.sandbox)]

    async def decline_card(self) -> None:
        """The saved card starts to be declined (the sandbox's declined test card)."""
        async with self.db.write() as session:
            await session.execute(
                update(PaymentMethod)
                .where(PaymentMethod.wallet_id == self.wallet_id)
                .values(provider_method_id="pm_sandbox_declined_0002")
            )


@pytest.fixture
async def subscriber(lava, merchant, db) -> Subscriber:
    return await Subscriber(lava, merchant, db).setup()


async def test_a_report_that_would_be_refused_buys_the_bundle_then_the_worker_buys_ahead(
    subscriber: Subscriber, db, proxy_settings: Settings
) -> None:
    s = subscriber
    assert s.charged() == [Decimal(1)]  # the plan
    assert await s.balance() == Decimal(1)

    # 1 credit left, the request costs $1.019: the bundle is bought at once, and it goes through.
    first = await s.report("r-1", ONE)
    assert first.status_code == 201, first.text
    assert first.json()["total_wallet_cost"] == "1.0190000000"
    assert s.charged() == [Decimal(1), Decimal(5)]
    (bought,) = await s.top_ups()
    assert (bought.status, bought.amount, bought.credit_bundle_id) == (
        "succeeded",
        Decimal(5),
        s.bundle_id,
    )
    assert bought.idempotency_key.startswith("auto_top_up:")
    expected = Decimal(1) + 6 - cost_of(ONE)
    assert await s.balance() == expected
    sub = await s.subscription()
    assert sub["credits"]["cycle_remaining"] == "0.0000000000"
    assert Decimal(sub["credits"]["bundle_remaining"]) == expected

    # A charge that leaves more than a tenth of the bundle (0.6) buys nothing.
    second = await s.report("r-2", 2_500_000)
    assert second.status_code == 201, second.text
    expected -= cost_of(2_500_000)
    assert expected == Decimal("0.886")
    assert len(await s.top_ups()) == 1
    # One that leaves less queues the bundle: the worker buys it, before credit runs out.
    third = await s.report("r-3", 200_000)
    assert third.status_code == 201, third.text
    expected -= cost_of(200_000)
    assert await s.balance() == expected
    queued = await s.top_ups()
    assert [p.status for p in queued] == ["succeeded", "pending"]
    assert s.charged() == [Decimal(1), Decimal(5)]
    worker = Billing(proxy_settings, db, sandbox=s.billing.sandbox)
    done = await run_once(worker)
    assert done.payments_processed == 1
    assert [p.status for p in await s.top_ups()] == ["succeeded", "succeeded"]
    assert s.charged() == [Decimal(1), Decimal(5), Decimal(5)]
    expected += 6
    assert await s.balance() == expected
    sub = await s.subscription()
    assert Decimal(sub["credits"]["bundle_remaining"]) == expected
    # The bundle's credit is what it grants: $5 paid, 6 credited (1 from the merchant).
    events = await s.events("auto_top_up.succeeded")
    assert len(events) == 2
    assert events[0].data is not None
    assert events[0].data["credit_bundle_id"] == s.bundle_id
    assert events[0].data["payment"]["amount"] == "5.0000000000"
    assert (await ledger_check(db)).problems == []


async def test_a_forwarded_call_buys_the_bundle_at_its_hold(subscriber: Subscriber, db) -> None:
    s = subscriber
    # Spend the cycle's credit exactly, so that a forwarded call's hold does not fit.
    spent = await s.report("r-1", 490_677)
    assert spent.status_code == 201, spent.text
    left = Decimal(1) - Decimal(spent.json()["total_wallet_cost"])
    assert Decimal(0) <= left < Decimal("0.0001")
    # That charge queued the bundle for the worker; the worker has not come by yet.
    (queued,) = await s.top_ups()
    assert queued.status == "pending"
    assert s.charged() == [Decimal(1)]
    # The call's hold does not wait for it: it buys that same queued bundle, once.
    answer = await s.forward()
    assert answer.status_code == 200, answer.text
    assert s.charged() == [Decimal(1), Decimal(5)]
    (bought,) = await s.top_ups()
    assert (bought.id, bought.status) == (queued.id, "succeeded")
    request_id = answer.headers["x-lava-request-id"]
    async with s.http() as http:
        for _ in range(500):
            stored = (
                await http.get(f"/v1/requests/{request_id}", headers=s.merchant.headers)
            ).json()
            if stored["status"] != "pending":
                break
            await asyncio.sleep(0.01)
    assert stored["status"] == "completed"
    assert await s.balance() == left + 6 - Decimal(stored["total_wallet_cost"])
    assert (await ledger_check(db)).problems == []


async def test_a_declined_card_is_a_clear_402_and_is_not_retried_at_once(
    subscriber: Subscriber, db
) -> None:
    s = subscriber
    await s.decline_card()
    refused = await s.report("r-1", ONE)
    assert refused.status_code == 402, refused.text
    error = refused.json()["error"]
    assert error["code"] == "insufficient_balance"
    assert "Auto top-up: the auto top-up failed: Your card was declined." in error["message"]
    (failed,) = await s.top_ups()
    assert (failed.status, failed.failure_code) == ("failed", "card_declined")
    assert len(await s.events("auto_top_up.failed")) == 1
    # The next request within the cooldown does not charge the card again, and says why.
    again = await s.report("r-2", ONE)
    assert again.status_code == 402, again.text
    assert "failed (Your card was declined.)" in again.json()["error"]["message"]
    assert len(await s.top_ups()) == 1
    # What fits still goes through (and queues nothing in the cooldown) ...
    fits = await s.report("r-3", 490_677)
    assert fits.status_code == 201, fits.text
    left = Decimal(1) - Decimal(fits.json()["total_wallet_cost"])
    assert len(await s.top_ups()) == 1
    # ... and the forward proxy's door follows the same rule.
    forwarded = await s.forward()
    assert forwarded.status_code == 402, forwarded.text
    message = forwarded.json()["error"]["message"]
    assert "Nothing was forwarded" in message
    assert "Auto top-up: the auto top-up of credit bundle" in message
    assert "failed (Your card was declined.)" in message
    # Nothing was charged or granted, the ledger clean.
    assert s.charged() == [Decimal(1)]
    assert len(await s.top_ups()) == 1
    assert await s.balance() == left
    assert (await ledger_check(db)).problems == []
    # The card works again and the cooldown has passed: the next refused request buys it.
    async with db.write() as session:
        await session.execute(
            update(PaymentMethod)
            .where(PaymentMethod.wallet_id == s.wallet_id)
            .values(provider_method_id="pm_sandbox_ok_4242")
        )
        await session.execute(
            update(Payment)
            .where(Payment.id == failed.id)
            .values(completed_at=failed.created_at - timedelta(seconds=301))
        )
    bought = await s.report("r-4", 10_000)
    assert bought.status_code == 201, bought.text
    assert s.charged() == [Decimal(1), Decimal(5)]
    assert [p.status for p in await s.top_ups()] == ["failed", "succeeded"]
    assert await s.balance() == left + 6 - cost_of(10_000)
    assert (await ledger_check(db)).problems == []


async def test_a_bundle_too_small_for_the_request_is_not_bought(subscriber: Subscriber, db) -> None:
    s = subscriber
    refused = await s.report("r-1", 5_000_000)  # $10.19 > 1 + 6
    assert refused.status_code == 402, refused.text
    assert "would not cover it, so it was not bought" in refused.json()["error"]["message"]
    assert await s.top_ups() == []
    assert s.charged() == [Decimal(1)]


async def test_concurrent_requests_buy_one_bundle(subscriber: Subscriber, db) -> None:
    s = subscriber
    # Spend the credit with no auto top-up bundle set (nothing is queued), then set it again:
    # the concurrent requests below race to start the purchase themselves.
    await s.set_bundle(None)
    spent = await s.report("r-0", ONE - 10_000)  # leaves 0.0204 of the cycle's credit
    assert spent.status_code == 201, spent.text
    await s.set_bundle(s.bundle_id)
    assert await s.top_ups() == []
    small = 100_000  # $0.2038 each: 8 of them need one bundle
    answers = await asyncio.gather(*(s.report(f"r-{n}", small) for n in range(1, 9)))
    assert [a.status_code for a in answers] == [201] * 8, [a.text for a in answers]
    assert s.charged() == [Decimal(1), Decimal(5)]
    assert [p.status for p in await s.top_ups()] == ["succeeded"]
    expected = Decimal(1) + 6 - cost_of(ONE - 10_000) - 8 * cost_of(small)
    assert await s.balance() == expected
    assert (await ledger_check(db)).problems == []


async def test_two_servers_buy_one_bundle(subscriber: Subscriber, db, proxy_settings) -> None:
    """Concurrent requests split between two servers on the same database (each with its own
    engine and pool, as two `lava serve` processes have) buy one bundle. They share the sandbox
    card network, as two processes share a real payment provider."""
    s = subscriber
    spent = await s.report("r-0", ONE - 10_000)  # queues the bundle: the requests drive it
    assert spent.status_code == 201, spent.text
    assert [p.status for p in await s.top_ups()] == ["pending"]
    other_app = create_app(proxy_settings)
    other_app.state.billing.sandbox = s.billing.sandbox
    with serve_in_thread(other_app, shutdown_timeout=5) as other:
        other_s = Subscriber(other, s.merchant, db)
        other_s.customer_id, other_s.wallet_id = s.customer_id, s.wallet_id
        small = 100_000
        answers = await asyncio.gather(
            *((s if n % 2 else other_s).report(f"r-{n}", small) for n in range(1, 11))
        )
    assert [a.status_code for a in answers] == [201] * 10, [a.text for a in answers]
    assert s.charged() == [Decimal(1), Decimal(5)]
    assert [p.status for p in await s.top_ups()] == ["succeeded"]
    expected = Decimal(1) + 6 - cost_of(ONE - 10_000) - 10 * cost_of(small)
    assert await s.balance() == expected
    assert (await ledger_check(db)).problems == []
