"""Live mode takes real money or refuses. Without a payment provider able to collect cards and a
code sender that reaches customers: live checkout sessions get 409 `live_mode_not_configured`,
live sessions made before cannot be completed, live renewals and autopay top-ups fail without
asking a sandbox provider, and a sandbox test card never funds a live wallet, whatever the
configuration. The sandbox providers themselves refuse live objects."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
import respx
from sqlalchemy import func, select

from lava_server.db.models import (
    ActiveSubscription,
    CheckoutSession,
    LedgerEntry,
    Payment,
    PaymentMethod,
    Wallet,
)
from lava_server.payments import live
from lava_server.payments.code_senders import LogSender, Phone
from lava_server.payments.interface import (
    Card,
    ChargeResult,
    Outcome,
    SavedCard,
    WrongMode,
)
from lava_server.payments.sandbox import SandboxPayments
from lava_server.settings import Settings
from lava_server.wallets.service import check as ledger_check
from lava_server.worker.runner import run_once
from tests.api.test_api_base import assert_error
from tests.checkout.helpers import (
    DECLINED_CARD,
    DETAILS,
    GOOD_CARD,
    NO_FUNDS_CARD,
    LiveCodes,
    Page,
    billing_of,
    create_config,
    create_session,
    error_of,
    make_live,
    old_live_session,
    secret_of,
    sent_codes,
    step_of,
    succeeded_charges,
)
from tests.subscriptions.helpers import spend, subscribe, wallet_row

STRIPE_LIVE_KEY = {"payment_provider": "stripe", "stripe_secret_key": "sk_live_x"}
STRIPE_TEST_KEY = {"payment_provider": "stripe", "stripe_secret_key": "sk_test_x"}
SANDBOX_CARDS = [GOOD_CARD, DECLINED_CARD, NO_FUNDS_CARD]
CARD_FORM = 'name="card_number"'
TEST_MODE_BANNER = '<p class="sandbox" id="test-mode" role="note"><strong>Test mode</strong>'


@pytest.fixture
def settings(database_url: str, request: pytest.FixtureRequest) -> Settings:
    """The database's settings, plus the payment settings a test asks for (`indirect`)."""
    return Settings(database_url=database_url, **getattr(request, "param", {}))


@dataclass
class AnyCardProvider:
    """A live provider that collects cards and would take any of them: what live mode will
    have once real card collection exists. Records what it is asked."""

    name: str = "anycard"
    live: bool = True
    collects_cards: bool = True
    asked: list[str] = field(default_factory=list)

    async def save_card(self, card: Card, *, customer_ref: str, livemode: bool) -> SavedCard:
        self.asked.append(f"save {card.number}")
        return SavedCard("pm_any", "visa", card.number[-4:], card.exp_month, card.exp_year)

    async def charge(self, **params: Any) -> ChargeResult:
        self.asked.append(f"charge {params['amount']}")
        return ChargeResult(Outcome.SUCCEEDED, provider_payment_id="ch_any")


class CarelessSandbox(SandboxPayments):
    """A sandbox provider that lost its own mode check and succeeds: even then no live payment
    reaches it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[dict[str, Any]] = []

    async def charge(self, **params: Any) -> ChargeResult:
        self.asked.append(params)
        return ChargeResult(Outcome.SUCCEEDED, provider_payment_id="ch_careless")


async def count(db, model) -> int:
    async with db.read() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def nothing_moved(db) -> None:
    assert await count(db, Payment) == 0
    assert await count(db, PaymentMethod) == 0
    assert await count(db, LedgerEntry) == 0
    assert (await ledger_check(db)).problems == []


# What live mode lacks, per configuration: one function says it.


def test_what_live_mode_lacks_per_configuration(tmp_path):
    url = f"sqlite:///{tmp_path}/lava.db"

    def lacks(**values: str) -> list[str]:
        found = live.missing(*live.configured(Settings(database_url=url, **values)))
        return [f"{item.what}: {item.why}" for item in found]

    assert lacks() == [
        "a payment provider able to collect cards: LAVA_PAYMENT_PROVIDER is sandbox, which takes "
        "test cards only",
        "a code sender: LAVA_CODE_SENDER_LIVE is empty: set it to twilio, smtp or twilio,smtp",
    ]
    assert lacks(**STRIPE_TEST_KEY)[0] == (
        "a payment provider able to collect cards: the stripe provider has a test key, not a "
        "live one"
    )
    # Stripe with a live key collects cards (Stripe.js on the page): only a code sender lacks.
    assert lacks(**STRIPE_LIVE_KEY) == [
        "a code sender: LAVA_CODE_SENDER_LIVE is empty: set it to twilio, smtp or twilio,smtp"
    ]
    assert live.missing(SandboxPayments(), LogSender())[0].what.startswith("a payment provider")
    assert live.missing(AnyCardProvider(), LogSender()) == [
        live.Missing(
            "a code sender",
            "LAVA_CODE_SENDER_LIVE is empty: set it to twilio, smtp or twilio,smtp",
        )
    ]
    assert live.missing(AnyCardProvider(), LiveCodes()) == []


# The API: live keys get 409 while anything is missing.


@pytest.mark.parametrize(
    "settings",
    [{}, STRIPE_LIVE_KEY, STRIPE_TEST_KEY],
    indirect=True,
    ids=["default", "live", "test"],
)
async def test_a_live_key_cannot_create_a_checkout_session(
    client, merchant, live_merchant, db, settings
):
    cards_missing = settings.stripe_secret_key != STRIPE_LIVE_KEY["stripe_secret_key"]
    config = await create_config(client, live_merchant.headers)  # plans cost nothing: allowed
    for body in (
        {"checkout_mode": "onboarding"},
        {
            "checkout_mode": "subscription",
            "subscription_config_id": config["subscription_config_id"],
        },
        {"checkout_mode": "topup", "connection_id": "con_01JZZZZZZZZZZZZZZZZZZZZZZZ"},
    ):
        response = await client.post(
            "/v1/checkout_sessions",
            json={"origin_url": "https://shop.example", **body},
            headers=live_merchant.headers,
        )
        error = assert_error(response, 409, "live_mode_not_configured")
        assert "param" not in error
        assert ("a payment provider able to collect cards (" in error["message"]) is cards_missing
        assert "a code sender (LAVA_CODE_SENDER_LIVE is empty" in error["message"]
    listed = await client.get("/v1/checkout_sessions", headers=live_merchant.headers)
    assert listed.json()["data"] == []
    await nothing_moved(db)
    # Sandbox keys work as before.
    assert (await create_session(client, merchant.headers))["checkout_session_id"]


async def test_a_live_key_can_create_one_once_live_mode_is_ready(client, live_merchant):
    billing = billing_of(client)
    billing.live, billing.live_codes = AnyCardProvider(), LiveCodes()
    created = await create_session(client, live_merchant.headers)
    assert created["checkout_session_id"].startswith("cs_01")
    billing.live_codes = None
    response = await client.post(
        "/v1/checkout_sessions",
        json={"checkout_mode": "onboarding", "origin_url": "https://shop.example"},
        headers=live_merchant.headers,
    )
    error = assert_error(response, 409, "live_mode_not_configured")
    assert "code sender" in error["message"] and "payment provider" not in error["message"]


# The page: a live session made before cannot be completed, and never shows the card form.


async def test_a_live_session_from_before_takes_nothing(client, live_merchant, db, caplog):
    caplog.set_level(logging.INFO, "lava_server.codes")
    checkout = await old_live_session(db, live_merchant.merchant_id)
    page = Page(client, checkout.secret)
    shown = await page.get()
    assert shown.status_code == 409
    assert step_of(shown) == "Payments are not available"
    assert "Nothing was charged" in shown.text
    assert TEST_MODE_BANNER not in shown.text and "Test mode" not in shown.text
    assert "<input" not in shown.text.replace('type="hidden"', "")  # no field at all
    refused = await page.post("details", **DETAILS)
    assert refused.status_code == 409
    assert "live payments are not set up on this server" in error_of(refused)
    async with db.read() as session:
        after = await session.get(CheckoutSession, checkout.id)
        assert after is not None
        assert after.phone is None and after.codes_sent == 0 and after.code_hash is None
    assert sent_codes(client) == []
    assert "sandbox code" not in caplog.text  # no code in the server log either

    # A topup session at the code step: no code is sent.
    topup = await old_live_session(db, live_merchant.merchant_id, at_pay=True, mode="topup")
    async with db.write() as session:
        found = await session.get(CheckoutSession, topup.id)
        assert found is not None
        found.verified_at = None
    refused = await Page(client, topup.secret).post("send_code")
    assert refused.status_code == 409
    assert sent_codes(client) == []
    assert await count(db, LedgerEntry) == 0


@pytest.mark.parametrize(
    ("settings", "ready"),
    [({}, False), (STRIPE_LIVE_KEY, False), (STRIPE_TEST_KEY, False), ({}, True)],
    indirect=["settings"],
    ids=["default", "stripe-live-key", "stripe-test-key", "live-mode-ready"],
)
async def test_sandbox_cards_never_fund_a_live_wallet(client, live_merchant, db, ready):
    billing = billing_of(client)
    anycard = AnyCardProvider()
    if ready:
        billing.live, billing.live_codes = anycard, LiveCodes()
    checkout = await old_live_session(db, live_merchant.merchant_id, at_pay=True)
    page = Page(client, checkout.secret)
    with respx.mock(assert_all_called=False) as stripe:
        stripe_calls = stripe.route(host="api.stripe.com")
        shown = await page.get()
        assert CARD_FORM not in shown.text and TEST_MODE_BANNER not in shown.text
        for card in SANDBOX_CARDS:
            refused = await page.post("pay", **card)
            assert refused.status_code == 409, refused.text
            assert ("accepted on test checkouts only" if ready else "not set up") in error_of(
                refused
            )
            assert "Nothing was charged" in error_of(refused)
            assert CARD_FORM not in refused.text
        assert not stripe_calls.called
    assert anycard.asked == [] and billing.sandbox.charges == {}
    async with db.read() as session:
        wallet = await session.get(Wallet, checkout.wallet_id)
        assert wallet is not None and wallet.balance == 0
        after = await session.get(CheckoutSession, checkout.id)
        assert after is not None and after.completed_at is None and after.payment_attempts == 0
    await nothing_moved(db)


async def test_a_ready_live_page_has_no_card_form_and_no_test_banner(
    client, merchant, live_merchant
):
    """Once live mode is ready the live page walks through details and code, but the card step
    never shows the page's own card form (it posts card numbers to this server: sandbox only)."""
    billing = billing_of(client)
    live_codes = LiveCodes()
    billing.live, billing.live_codes = AnyCardProvider(), live_codes
    page = Page(client, secret_of(await create_session(client, live_merchant.headers)))
    first = await page.get()
    assert first.status_code == 200 and step_of(first) == "Your details"
    assert "Test mode" not in first.text
    code_page = await page.post("details", **DETAILS)
    assert 'id="sandbox-code"' not in code_page.text  # live codes are never shown
    [text] = live_codes.sent
    assert sent_codes(client) == []
    await page.post("verify", code=text[:6])
    pay_page = await page.post("amount", amount="25")
    assert step_of(pay_page) == "Payment"
    assert CARD_FORM not in pay_page.text and "Test mode" not in pay_page.text
    assert "Card payments are not available on this checkout yet" in pay_page.text

    sandbox = Page(client, secret_of(await create_session(client, merchant.headers)))
    assert TEST_MODE_BANNER in (await sandbox.get()).text
    await sandbox.post("details", **DETAILS)
    await sandbox.verify()
    sandbox_pay = await sandbox.post("amount", amount="25")
    assert CARD_FORM in sandbox_pay.text and TEST_MODE_BANNER in sandbox_pay.text


# The worker: live renewals and autopay never charge through a sandbox provider.


async def test_live_autopay_never_asks_a_sandbox_provider(client, merchant, db, settings, clock):
    session = await create_session(client, merchant.headers)
    await Page(client, secret_of(session)).onboard(
        amount="10",
        card={**GOOD_CARD, "autopay": "on", "autopay_threshold": "5", "autopay_amount": "15"},
    )
    await make_live(db)  # as a live checkout on the sandbox provider left it
    billing = billing_of(client)
    billing.sandbox = careless = CarelessSandbox()
    async with db.read() as db_session:
        wallet_id = (await db_session.execute(select(Wallet.id))).scalar_one()
    await spend(db, settings, wallet_id, Decimal(6), clock.now)
    await run_once(billing, clock.now)
    assert careless.asked == []
    async with db.read() as db_session:
        [top_up] = (
            await db_session.execute(select(Payment).where(Payment.purpose == "autopay"))
        ).scalars()
    assert (top_up.status, top_up.failure_code) == ("failed", "live_mode_not_configured")
    wallet = await wallet_row(db, wallet_id)
    assert wallet.autopay_enabled is False and wallet.balance == Decimal(4)
    # Off: no further attempt, however long it stays below the threshold.
    clock.advance(days=1)
    assert (await run_once(billing, clock.now)).autopay_queued == 0
    assert (await ledger_check(db)).problems == []


@pytest.mark.parametrize(
    "settings", [{}, STRIPE_LIVE_KEY], indirect=True, ids=["default", "stripe-live-key"]
)
async def test_a_live_renewal_through_the_sandbox_ends_the_subscription(
    client, merchant, db, clock
):
    subscription = await subscribe(client, merchant.headers, amount="20")
    await make_live(db)
    billing = billing_of(client)
    with respx.mock(assert_all_called=False) as stripe:
        stripe_calls = stripe.route(host="api.stripe.com")
        clock.advance(days=32)
        done = await run_once(billing, clock.now)
        assert not stripe_calls.called
    assert done.renewals_queued == 1 and done.payments_processed == 1
    assert len(succeeded_charges(billing.sandbox)) == 1  # the checkout, before: no renewal
    async with db.read() as db_session:
        [renewal] = (
            await db_session.execute(select(Payment).where(Payment.purpose == "renewal"))
        ).scalars()
        ended = await db_session.get(ActiveSubscription, subscription["active_subscription_id"])
    assert (renewal.status, renewal.failure_code) == ("failed", "live_mode_not_configured")
    assert ended is not None and (ended.status, ended.cancel_reason) == (
        "cancelled",
        "payment_failed",
    )
    wallet = await wallet_row(db, subscription["wallet_id"])
    assert wallet.balance == 0  # the first period's credit expired with it; nothing added
    assert (await ledger_check(db)).problems == []


async def test_a_pending_live_checkout_payment_is_not_finished_by_the_sandbox(
    client, merchant, db, clock
):
    """A live checkout payment left pending before the upgrade: the worker's retry fails it."""
    session = await create_session(client, merchant.headers)
    page = Page(client, secret_of(session))
    await page.post("details", **DETAILS)
    await page.verify()
    await page.post("amount", amount="25")
    billing = billing_of(client)
    real_charge = billing.sandbox.charge

    async def no_answer(**params: Any) -> ChargeResult:
        return ChargeResult(Outcome.RETRY)

    billing.sandbox.charge = no_answer  # type: ignore[method-assign]
    await page.post("pay", **GOOD_CARD)
    billing.sandbox.charge = real_charge  # type: ignore[method-assign]
    await make_live(db)
    clock.advance(minutes=5)
    assert (await run_once(billing, clock.now)).payments_processed == 1
    assert billing.sandbox.charges == {}
    async with db.read() as db_session:
        [payment] = (await db_session.execute(select(Payment))).scalars()
        checkout = await db_session.get(CheckoutSession, session["checkout_session_id"])
    assert (payment.status, payment.failure_code) == ("failed", "live_mode_not_configured")
    assert checkout is not None and checkout.completed_at is None
    assert await count(db, LedgerEntry) == 0
    shown = await page.get()
    assert step_of(shown) == "Payments are not available" and CARD_FORM not in shown.text


# The sandbox providers themselves serve sandbox objects only.


async def test_the_sandbox_payment_provider_refuses_live_objects():
    sandbox = SandboxPayments()
    with pytest.raises(WrongMode):
        await sandbox.save_card(
            Card("4242424242424242", 12, 2034, "123"), customer_ref="wal_1", livemode=True
        )
    with pytest.raises(WrongMode):
        await sandbox.charge(
            amount=Decimal(50),
            provider_method_id="pm_sandbox_ok_4242",
            customer_ref="wal_1",
            idempotency_key="k",
            description="d",
            off_session=True,
            livemode=True,
        )
    assert sandbox.charges == {}


async def test_the_sandbox_code_sender_refuses_live_sessions(caplog):
    caplog.set_level(logging.INFO, "lava_server.codes")
    sms = LogSender()
    with pytest.raises(WrongMode):
        await sms.send(Phone("+14155550100"), "123456 is your code", livemode=True)
    assert sms.sent == [] and "123456" not in caplog.text
