"""Live checkouts paid through Stripe, against the fake Stripe over real HTTP with the official
`stripe` library: the page's payment step creates a PaymentIntent, and the session is completed
only when Stripe confirms it (the signed webhook, or the page's return), each PaymentIntent
crediting once however many confirmations arrive together."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
import stripe
from sqlalchemy import func, select

from lava_server.app import create_app
from lava_server.db.models import CheckoutSession, Payment, PaymentMethod, Wallet
from lava_server.payments import repository as payment_records
from lava_server.payments.interface import Outcome
from lava_server.payments.stripe import StripePayments
from lava_server.settings import Settings
from lava_server.testing import ServerThread, serve_in_thread
from lava_server.testing.fake_stripe import create_fake_stripe_app, sign
from lava_server.wallets.service import check as ledger_check
from tests.checkout.helpers import (
    DETAILS,
    LiveCodes,
    Page,
    billing_of,
    create_session,
    secret_of,
)

SECRET_KEY = "sk_live_lavatest"
PUBLISHABLE_KEY = "pk_live_lavatest"
WEBHOOK_SECRET = "whsec_lavatest"


@pytest.fixture(scope="module")
def fake_stripe() -> Iterator[ServerThread]:
    app = create_fake_stripe_app(webhook_secret=WEBHOOK_SECRET, publishable_key=PUBLISHABLE_KEY)
    with serve_in_thread(app) as server:
        yield server


@pytest.fixture
def settings(database_url: str, fake_stripe: ServerThread) -> Settings:
    return Settings(
        database_url=database_url,
        payment_provider="stripe",
        stripe_secret_key=SECRET_KEY,
        stripe_publishable_key=PUBLISHABLE_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=fake_stripe.url,
        stripe_js_url=f"{fake_stripe.url}/v3/",
        # The race test pays 50 checkouts from one test client (the limits: tests/codes/).
        code_sends_per_client_per_hour=100,
        # The race tests send 25-50 requests at once: 8 connections (16 at most) still race
        # them in the database, and keep this test within PostgreSQL's 100 connections beside
        # another worker's (it once ran out with the default 20, "too many clients").
        db_pool_size=8,
    )


@pytest.fixture
def stripe_client(fake_stripe: ServerThread) -> stripe.StripeClient:
    return stripe.StripeClient(
        SECRET_KEY, base_addresses={"api": fake_stripe.url}, max_network_retries=0
    )


@pytest.fixture
def sms(client: httpx.AsyncClient) -> LiveCodes:
    sender = LiveCodes()
    billing_of(client).live_codes = sender
    return sender


async def at_payment_step(
    client, live_merchant, sms: LiveCodes, amount: str = "25", phone: str = DETAILS["phone"]
) -> Page:
    session = await create_session(client, live_merchant.headers)
    page = Page(client, secret_of(session))
    response = await page.post("details", **{**DETAILS, "phone": phone})
    assert response.status_code == 200, response.text
    code = re.search(r"\b([0-9]{6})\b", sms.sent[-1])
    assert code is not None
    await page.post("verify", code=code.group(1))
    response = await page.post("amount", amount=amount)
    assert response.status_code == 200, response.text
    return page


def client_secret_of(html: str) -> str:
    found = re.search(r'data-client-secret="(pi_[^"]+)"', html)
    assert found, html
    return found.group(1)


async def count(db, model, *where) -> int:
    async with db.read() as session:
        query = select(func.count()).select_from(model).where(*where)
        return int((await session.execute(query)).scalar_one())


async def balance(db, wallet_id: str) -> Decimal:
    async with db.read() as session:
        wallet = await session.get(Wallet, wallet_id, populate_existing=True)
        assert wallet is not None
        return wallet.balance


async def checkout_row(db, secret: str) -> CheckoutSession:
    async with db.read() as session:
        found = (
            await session.execute(select(CheckoutSession).where(CheckoutSession.secret == secret))
        ).scalar_one()
        return found


def succeeded_event(fake_stripe: ServerThread, intent_id: str) -> bytes:
    """The `payment_intent.succeeded` event of the intent, as the fake would POST it."""
    events = httpx.get(
        f"{fake_stripe.url}/v1/events",
        params={"type": "payment_intent.succeeded", "limit": 100},
        auth=(SECRET_KEY, ""),
    ).json()["data"]
    [event] = [e for e in events if e["data"]["object"]["id"] == intent_id]
    found = httpx.get(f"{fake_stripe.url}/v1/events/{event['id']}", auth=(SECRET_KEY, ""))
    return found.content


async def test_the_payment_step_creates_a_payment_intent_for_stripe_js(
    client, live_merchant, sms, stripe_client, fake_stripe, db
):
    page = await at_payment_step(client, live_merchant, sms)
    response = await page.get()
    assert response.status_code == 200
    html = response.text
    assert f'<script src="{fake_stripe.url}/v3/" defer></script>' in html
    assert f'data-key="{PUBLISHABLE_KEY}"' in html and 'id="payment-element"' in html
    assert 'name="card_number"' not in html  # card data never reaches our server
    policy = response.headers["content-security-policy"]
    assert f"script-src 'self' {fake_stripe.url}" in policy
    assert f"connect-src {fake_stripe.url}" in policy
    intent_id = client_secret_of(html).split("_secret_")[0]
    intent = stripe_client.v1.payment_intents.retrieve(intent_id)
    assert (intent.amount, intent.currency, intent.livemode) == (2500, "usd", True)
    assert intent.setup_future_usage == "off_session" and intent.customer
    checkout = await checkout_row(db, page.secret)
    assert intent.metadata["lava_checkout_session_id"] == checkout.id
    # Showing the page again gives the same PaymentIntent; nothing is credited before Stripe
    # confirms the payment.
    assert client_secret_of((await page.get()).text).startswith(intent_id)
    assert await count(db, Payment) == 0 and checkout.completed_at is None


async def test_webhooks_and_returns_arriving_together_credit_once(
    client, live_merchant, sms, stripe_client, fake_stripe, db
):
    """25 deliveries of the signed `payment_intent.succeeded` and 25 page returns, all at once:
    one payment, one credit, one completed session, a clean ledger."""
    page = await at_payment_step(client, live_merchant, sms)
    intent_id = client_secret_of((await page.get()).text).split("_secret_")[0]
    paid = stripe_client.v1.payment_intents.confirm(intent_id, {"payment_method": "pm_card_visa"})
    assert paid.status == "succeeded"
    payload = succeeded_event(fake_stripe, intent_id)

    async def webhook() -> int:
        headers = {
            "Stripe-Signature": sign(payload, WEBHOOK_SECRET),
            "Content-Type": "application/json; charset=utf-8",
        }
        response = await client.post("/v1/stripe/webhook", content=payload, headers=headers)
        return response.status_code

    async def back() -> int:
        response = await client.get(f"{page.path}/return", params={"payment_intent": intent_id})
        return response.status_code

    statuses = await asyncio.gather(*[webhook() for _ in range(25)], *[back() for _ in range(25)])
    assert statuses == [200] * 25 + [303] * 25
    checkout = await checkout_row(db, page.secret)
    assert checkout.completed_at is not None and checkout.connection_id is not None
    assert await count(db, Payment) == 1
    assert await count(db, Payment, Payment.provider_payment_id == intent_id) == 1
    assert checkout.wallet_id is not None
    assert await balance(db, checkout.wallet_id) == Decimal("25")
    assert (await ledger_check(db)).problems == []
    # The card is saved on the customer, for renewals and autopay.
    async with db.read() as session:
        method = (await session.execute(select(PaymentMethod))).scalar_one()
    customer, _, pm = method.provider_method_id.partition(" ")
    assert customer == paid.customer and pm.startswith("pm_") and method.last4 == "4242"
    assert (method.provider, method.livemode) == ("stripe", True)
    # Later deliveries change nothing.
    assert await webhook() == 200 and await back() == 303
    assert await balance(db, checkout.wallet_id) == Decimal("25")


async def test_50_payment_intents_each_confirmed_by_webhook_and_page_together(
    client, live_merchant, sms, stripe_client, fake_stripe, db
):
    """50 checkouts paid; for each, the signed webhook and the page's return arrive at the same
    moment, all 100 at once: each PaymentIntent credits its wallet once."""
    pages = [
        await at_payment_step(client, live_merchant, sms, "10", phone=f"+1 415 555 01{n:02}")
        for n in range(50)
    ]
    intents = []
    for page in pages:
        intent_id = client_secret_of((await page.get()).text).split("_secret_")[0]
        stripe_client.v1.payment_intents.confirm(intent_id, {"payment_method": "pm_card_visa"})
        intents.append((page, intent_id, succeeded_event(fake_stripe, intent_id)))

    async def webhook(payload: bytes) -> int:
        headers = {"Stripe-Signature": sign(payload, WEBHOOK_SECRET)}
        response = await client.post("/v1/stripe/webhook", content=payload, headers=headers)
        return response.status_code

    async def back(page: Page, intent_id: str) -> int:
        response = await client.get(f"{page.path}/return", params={"payment_intent": intent_id})
        return response.status_code

    calls = []
    for page, intent_id, payload in intents:
        calls += [webhook(payload), back(page, intent_id)]
    assert await asyncio.gather(*calls) == [200, 303] * 50
    assert await count(db, Payment) == 50
    for page, intent_id, _ in intents:
        assert await count(db, Payment, Payment.provider_payment_id == intent_id) == 1
        checkout = await checkout_row(db, page.secret)
        assert checkout.completed_at is not None and checkout.wallet_id is not None
        assert await balance(db, checkout.wallet_id) == Decimal("10")
    assert (await ledger_check(db)).problems == []


async def test_a_bad_signature_is_400_and_changes_nothing(
    client, live_merchant, sms, stripe_client, fake_stripe, db
):
    page = await at_payment_step(client, live_merchant, sms)
    intent_id = client_secret_of((await page.get()).text).split("_secret_")[0]
    stripe_client.v1.payment_intents.confirm(intent_id, {"payment_method": "pm_card_visa"})
    payload = succeeded_event(fake_stripe, intent_id)
    for header in (
        sign(payload, "whsec_other"),
        sign(payload, WEBHOOK_SECRET, int(time.time()) - 301),  # older than 5 minutes
        "",
    ):
        response = await client.post(
            "/v1/stripe/webhook", content=payload, headers={"Stripe-Signature": header}
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_signature"
    tampered = payload.replace(b'"amount": 2500', b'"amount": 9900')
    response = await client.post(
        "/v1/stripe/webhook",
        content=tampered + b" ",
        headers={"Stripe-Signature": sign(payload, WEBHOOK_SECRET)},
    )
    assert response.status_code == 400
    assert await count(db, Payment) == 0


async def test_an_unpaid_payment_intent_completes_nothing(
    client, live_merchant, sms, stripe_client, db
):
    page = await at_payment_step(client, live_merchant, sms)
    intent_id = client_secret_of((await page.get()).text).split("_secret_")[0]
    with pytest.raises(stripe.CardError):
        stripe_client.v1.payment_intents.confirm(
            intent_id, {"payment_method": "pm_card_chargeDeclined"}
        )
    response = await client.get(f"{page.path}/return", params={"payment_intent": intent_id})
    assert response.status_code == 303
    assert await count(db, Payment) == 0
    assert (await checkout_row(db, page.secret)).completed_at is None
    # Another checkout's PaymentIntent, or a made-up one, completes nothing either.
    response = await client.get(f"{page.path}/return", params={"payment_intent": "pi_unknown"})
    assert response.status_code == 303 and await count(db, Payment) == 0


async def test_typed_card_numbers_are_refused_on_a_live_session(client, live_merchant, sms, db):
    page = await at_payment_step(client, live_merchant, sms)
    response = await page.post(
        "pay", card_number="4242424242424242", card_expiry="12 / 34", card_cvc="123"
    )
    assert response.status_code == 409
    assert await count(db, Payment) == 0


async def test_an_off_session_charge_needing_authentication_is_declined(stripe_client, settings):
    """Renewals and autopay charge saved cards off session: a card that needs the customer
    (3-D Secure) is a final decline with `authentication_required`, nothing charged."""
    customer = stripe_client.v1.customers.create({"email": "a@example.com"})
    method = stripe_client.v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": "4000002760003184", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    stripe_client.v1.payment_methods.attach(method.id, {"customer": customer.id})
    provider = StripePayments.from_settings(settings)
    result = await provider.charge(
        amount=Decimal("20"),
        provider_method_id=f"{customer.id} {method.id}",
        customer_ref="wal_x",
        idempotency_key=f"renewal-{method.id}",
        description="Lava wallet renewal",
        off_session=True,
        livemode=True,
    )
    assert result.outcome is Outcome.DECLINED
    assert result.failure_code == "authentication_required"


async def test_the_fakes_concurrent_deliveries_and_returns_over_http_credit_once(
    settings, live_merchant, stripe_client, fake_stripe, db
):
    """Lava served over real HTTP; the fake Stripe delivers the signed event 25 times at once
    (`/_fake/events/{id}/deliver`) while 25 page returns arrive: one credit."""
    app = create_app(settings)
    sms = LiveCodes()
    app.state.billing.live_codes = sms
    with ServerThread(app) as lava:
        control = httpx.AsyncClient(base_url=fake_stripe.url, timeout=30)
        async with control, httpx.AsyncClient(base_url=lava.url, timeout=30) as http:
            await control.post("/_fake/webhook", json={"url": f"{lava.url}/v1/stripe/webhook"})
            try:
                page = await at_payment_step(http, live_merchant, sms)
                intent_id = client_secret_of((await page.get()).text).split("_secret_")[0]
                await control.post("/_fake/webhook", json={"url": None})  # we deliver below
                stripe_client.v1.payment_intents.confirm(
                    intent_id, {"payment_method": "pm_card_visa"}
                )
                event = next(
                    e
                    for e in stripe_client.v1.events.list({"type": "payment_intent.succeeded"})
                    if e.data.object["id"] == intent_id
                )
                await control.post("/_fake/webhook", json={"url": f"{lava.url}/v1/stripe/webhook"})
                deliver = control.post(
                    f"/_fake/events/{event.id}/deliver", json={"times": 25, "concurrently": True}
                )
                returns = [
                    http.get(f"{page.path}/return", params={"payment_intent": intent_id})
                    for _ in range(25)
                ]
                delivered, *back = await asyncio.gather(deliver, *returns)
            finally:
                await control.post("/_fake/webhook", json={"url": None})
    attempts = delivered.json()
    attempts = attempts.get("data", attempts) if isinstance(attempts, dict) else attempts
    assert len(attempts) == 25 and all(a["status"] == 200 for a in attempts), attempts
    assert all(response.status_code == 303 for response in back)
    checkout = await checkout_row(db, page.secret)
    assert checkout.completed_at is not None and checkout.wallet_id is not None
    assert await count(db, Payment) == 1
    assert await balance(db, checkout.wallet_id) == Decimal("25")
    assert (await ledger_check(db)).problems == []


@pytest.mark.parametrize(
    ("card", "outcome", "failure_code"),
    [
        ("4000002500003155", Outcome.SUCCEEDED, None),  # set up with 3-D Secure: later charges go
        ("4000002760003184", Outcome.DECLINED, "authentication_required"),  # asks every time
    ],
)
async def test_the_card_a_checkout_saved_is_charged_off_session(
    client, live_merchant, sms, stripe_client, fake_stripe, db, card, outcome, failure_code
):
    """The card of a live checkout (3-D Secure completed by the customer) is saved on the
    Stripe customer; renewals and autopay charge it off session, and a card that needs the
    customer every time is a final decline with `authentication_required`."""
    page = await at_payment_step(client, live_merchant, sms)
    intent_id = client_secret_of((await page.get()).text).split("_secret_")[0]
    method = stripe_client.v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": card, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    intent = stripe_client.v1.payment_intents.confirm(intent_id, {"payment_method": method.id})
    assert intent.status == "requires_action"
    assert await count(db, Payment) == 0  # not paid yet: nothing credited
    httpx.post(
        f"{fake_stripe.url}/_fake/payment_intents/{intent_id}/authenticate",
        json={"result": "complete"},
    ).raise_for_status()
    await client.get(f"{page.path}/return", params={"payment_intent": intent_id})
    checkout = await checkout_row(db, page.secret)
    assert checkout.completed_at is not None and checkout.wallet_id is not None
    async with db.read() as session:
        saved = (await session.execute(select(PaymentMethod))).scalar_one()
    result = await billing_of(client).live.charge(  # type: ignore[union-attr]
        amount=Decimal("20"),
        provider_method_id=saved.provider_method_id,
        customer_ref=checkout.wallet_id,
        idempotency_key=f"autopay:{checkout.wallet_id}:1",
        description="Lava wallet autopay",
        off_session=True,
        livemode=True,
    )
    assert (result.outcome, result.failure_code) == (outcome, failure_code)


@dataclass
class Paid:
    """A live checkout paid through the fake Stripe, with Lava served over real HTTP."""

    http: httpx.AsyncClient  # Lava
    control: httpx.AsyncClient  # the fake Stripe's controls
    charge: str
    checkout: CheckoutSession


@asynccontextmanager
async def paid_live_checkout(
    settings, live_merchant, stripe_client, fake_stripe, db
) -> AsyncIterator[Paid]:
    """Lava in a server thread, the fake Stripe's webhooks pointed at it, a $25 live checkout
    paid with a card and completed by the webhook; the webhooks are turned off at the end."""
    app = create_app(settings)
    sms = LiveCodes()
    app.state.billing.live_codes = sms
    with ServerThread(app) as lava:
        control = httpx.AsyncClient(base_url=fake_stripe.url, timeout=30)
        async with control, httpx.AsyncClient(base_url=lava.url, timeout=30) as http:
            await control.post("/_fake/webhook", json={"url": f"{lava.url}/v1/stripe/webhook"})
            try:
                page = await at_payment_step(http, live_merchant, sms)
                intent_id = client_secret_of((await page.get()).text).split("_secret_")[0]
                intent = stripe_client.v1.payment_intents.confirm(
                    intent_id, {"payment_method": "pm_card_visa"}
                )
                await control.post("/_fake/drain", json={"timeout": 10})
                checkout = await checkout_row(db, page.secret)
                assert checkout.completed_at is not None and checkout.wallet_id is not None
                assert await balance(db, checkout.wallet_id) == Decimal("25")
                yield Paid(http, control, str(intent.latest_charge), checkout)
            finally:
                await control.post("/_fake/webhook", json={"url": None})


async def test_a_refund_made_in_stripe_debits_the_wallet_once(
    settings, live_merchant, stripe_client, fake_stripe, db
):
    """A live checkout paid; then a refund made "in Stripe's dashboard" (the fake's control):
    its `charge.refunded` is delivered three times at once, and once more later; the wallet is
    debited once, the payment shows the refund, the ledger is clean. A second, partial refund of
    the same charge is booked once too."""
    async with paid_live_checkout(settings, live_merchant, stripe_client, fake_stripe, db) as paid:
        control, charge, checkout = paid.control, paid.charge, paid.checkout
        assert checkout.wallet_id is not None
        url = (await control.get("/_fake/webhook")).json()["url"]
        await control.post("/_fake/webhook", json={"url": None})  # we deliver below
        refunded = await control.post(f"/_fake/charges/{charge}/refund", json={"amount": 1000})
        assert refunded.status_code == 200, refunded.text
        event = next(
            e
            for e in stripe_client.v1.events.list({"type": "charge.refunded"})
            if e.data.object["id"] == charge
        )
        await control.post("/_fake/webhook", json={"url": url})
        delivered = await control.post(
            f"/_fake/events/{event.id}/deliver", json={"times": 3, "concurrently": True}
        )
        again = await control.post(f"/_fake/events/{event.id}/deliver", json={"times": 1})
        await control.post("/_fake/drain", json={"timeout": 10})
        assert await balance(db, checkout.wallet_id) == Decimal("15")
        # A second refund of the rest: its own event books it, the first stays once.
        await control.post(f"/_fake/charges/{charge}/refund", json={"amount": 500})
        await control.post("/_fake/drain", json={"timeout": 10})
        payments_listed = await paid.http.get("/v1/payments", headers=live_merchant.headers)
    for answer in (delivered, again):
        attempts = answer.json()
        attempts = attempts.get("data", attempts) if isinstance(attempts, dict) else attempts
        assert all(a["status"] == 200 for a in attempts), attempts
    assert await balance(db, checkout.wallet_id) == Decimal("10")
    [payment] = payments_listed.json()["data"]
    assert sorted(Decimal(r["amount"]) for r in payment["refunds"]) == [Decimal(5), Decimal(10)]
    assert Decimal(payment["amount_refunded"]) == Decimal(15)
    assert (await ledger_check(db)).problems == []


@pytest.mark.parametrize("outcome", ["won", "lost"])
async def test_a_dispute_freezes_the_wallet_until_it_closes(
    settings, live_merchant, stripe_client, fake_stripe, db, outcome
):
    """A paid live checkout's charge is disputed for $10 (the fake's control, as a card holder
    would): `charge.dispute.created` freezes the wallet (reports get 402 `wallet_frozen`,
    nothing charged); closed, it thaws; lost, the $10 leave the wallet, once, however many
    times the events are delivered."""
    headers = live_merchant.headers
    async with paid_live_checkout(settings, live_merchant, stripe_client, fake_stripe, db) as paid:
        http, control, checkout = paid.http, paid.control, paid.checkout
        assert checkout.wallet_id is not None and checkout.connection_id is not None
        wallet_id = checkout.wallet_id
        tiers = [{"start": 0, "rate": "2", "type": "tokens_1m"}]
        product = (
            await http.post("/v1/products", json={"name": "Chat", "tiers": tiers}, headers=headers)
        ).json()
        connection = (
            await http.get(f"/v1/connections/{checkout.connection_id}", headers=headers)
        ).json()

        async def report(n: int) -> httpx.Response:
            return await http.post(
                "/v1/requests",
                json={
                    "request_id": f"r{n}",
                    "connection_secret": connection["connection_secret"],
                    "product_secret": product["product_secret"],
                    "input_tokens": 1000,
                },
                headers=headers,
            )

        first = await report(1)
        assert first.status_code in (200, 201), first.text
        disputed = await control.post(
            f"/_fake/charges/{paid.charge}/dispute", json={"amount": 1000}
        )
        assert disputed.status_code == 200, disputed.text
        dispute_id = disputed.json()["id"]
        await control.post("/_fake/drain", json={"timeout": 10})
        before = await balance(db, wallet_id)
        frozen = await report(2)
        assert frozen.status_code == 402, frozen.text
        assert frozen.json()["error"]["code"] == "wallet_frozen"
        assert await balance(db, wallet_id) == before
        await control.post(f"/_fake/disputes/{dispute_id}/close", json={"status": outcome})
        await control.post("/_fake/drain", json={"timeout": 10})
        for kind in ("charge.dispute.closed", "charge.dispute.created"):  # again, and late
            for event in stripe_client.v1.events.list({"type": kind}):
                await control.post(f"/_fake/events/{event.id}/deliver", json={"times": 2})
        await control.post("/_fake/drain", json={"timeout": 10})
        closed = await balance(db, wallet_id)
        third = await report(3)
        assert third.status_code in (200, 201), third.text
    assert closed == before - (Decimal(10) if outcome == "lost" else Decimal(0))
    assert (await ledger_check(db)).problems == []


async def test_a_card_detached_in_stripe_is_never_charged_again(
    settings, live_merchant, stripe_client, fake_stripe, db
):
    """The card a live checkout saved is detached in Stripe: its `payment_method.detached`
    (delivered by the fake, checked against Stripe) marks our saved card, and autopay finds no
    card to charge. A forged-looking but signed event for a card still attached changes
    nothing."""
    async with paid_live_checkout(settings, live_merchant, stripe_client, fake_stripe, db) as paid:
        assert paid.checkout.wallet_id is not None
        wallet_id = paid.checkout.wallet_id
        async with db.read() as session:
            saved = (await session.execute(select(PaymentMethod))).scalar_one()
        customer, _, method_id = saved.provider_method_id.partition(" ")
        # A second card on the customer, still attached: its "detached" event is not believed.
        other = stripe_client.v1.payment_methods.create(
            {
                "type": "card",
                "card": {
                    "number": "4242424242424242",
                    "exp_month": 12,
                    "exp_year": 2034,
                    "cvc": "123",
                },
            }
        )
        stripe_client.v1.payment_methods.attach(other.id, {"customer": customer})
        await paid.control.post("/_fake/drain", json={"timeout": 10})
        body = (
            '{"id": "evt_forged", "object": "event", "type": "payment_method.detached", '
            f'"data": {{"object": {{"id": "{other.id}", "object": "payment_method"}}}}}}'
        ).encode()
        signed = {"Stripe-Signature": sign(body, WEBHOOK_SECRET)}
        answer = await paid.http.post("/v1/stripe/webhook", content=body, headers=signed)
        assert answer.status_code == 200
        async with db.read() as session:
            assert (await session.get(PaymentMethod, saved.id)).detached_at is None  # type: ignore[union-attr]
        stripe_client.v1.payment_methods.detach(method_id)
        await paid.control.post("/_fake/drain", json={"timeout": 10})
    async with db.read() as session:
        found = await session.get(PaymentMethod, saved.id, populate_existing=True)
        assert found is not None and found.detached_at is not None
        assert await payment_records.latest_method(session, wallet_id) is None
    assert (await ledger_check(db)).problems == []
