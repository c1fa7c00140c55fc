"""A live checkout paid in Chromium through Stripe.js (the fake Stripe's stand-in, on its own
origin): the page never sees the card; a 4242 card, a 3-D Secure card whose challenge the
customer completes in Stripe.js's dialog, and a declined card whose message the page shows with
nothing credited. The fake Stripe sends its signed webhooks to Lava over real HTTP. No request
leaves this machine."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from lava_server.app import create_app
from lava_server.db.models import Payment, Wallet
from lava_server.settings import Settings
from lava_server.testing import ServerThread
from lava_server.testing.fake_stripe import create_fake_stripe_app
from lava_server.wallets.service import check as ledger_check
from tests.checkout.helpers import LiveCodes, secret_of

pytestmark = pytest.mark.slow

SECRET_KEY = "sk_live_browser"
PUBLISHABLE_KEY = "pk_live_browser"
WEBHOOK_SECRET = "whsec_browser"


@dataclass
class Live:
    lava: httpx.AsyncClient
    url: str
    sms: LiveCodes
    stripe_url: str


@pytest.fixture
async def live(database_url, live_merchant) -> AsyncIterator[Live]:
    fake = create_fake_stripe_app(webhook_secret=WEBHOOK_SECRET, publishable_key=PUBLISHABLE_KEY)
    with ServerThread(fake) as stripe_server:

        def settings(**more: Any) -> Settings:
            return Settings(
                database_url=database_url,
                separate_worker=True,
                payment_provider="stripe",
                stripe_secret_key=SECRET_KEY,
                stripe_publishable_key=PUBLISHABLE_KEY,
                stripe_webhook_secret=WEBHOOK_SECRET,
                stripe_api_base=stripe_server.url,
                stripe_js_url=f"{stripe_server.url}/v3/",
                **more,
            )

        app = create_app(settings())
        sms = LiveCodes()
        app.state.billing.live_codes = sms
        with ServerThread(app) as lava_server:
            app.state.billing.settings = settings(public_url=lava_server.url)
            httpx.post(
                f"{stripe_server.url}/_fake/webhook",
                json={"url": f"{lava_server.url}/v1/stripe/webhook"},
            ).raise_for_status()
            headers = {"Authorization": f"Bearer {live_merchant.secret_key}"}
            async with httpx.AsyncClient(base_url=lava_server.url, headers=headers) as lava:
                yield Live(lava, lava_server.url, sms, stripe_server.url)


async def open_page(browser, live: Live):
    context = await browser.new_context(viewport={"width": 900, "height": 900})
    page = await context.new_page()
    outside: list[str] = []

    async def only_this_machine(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_this_machine)
    return context, page, outside


async def to_payment_step(page, live: Live) -> str:
    created = await live.lava.post(
        "/v1/checkout_sessions",
        json={"checkout_mode": "onboarding", "origin_url": "https://shop.example"},
    )
    assert created.status_code == 201, created.text
    session = created.json()
    await page.goto(f"{live.url}/embed/checkout/{secret_of(session)}")
    await page.get_by_label("Mobile phone number", exact=True).fill("+1 415 555 0142")
    await page.get_by_label("Email address", exact=True).fill("grace@example.com")
    await page.get_by_label("First name", exact=True).fill("Grace")
    await page.get_by_label("Last name", exact=True).fill("Hopper")
    await page.get_by_role("button", name="Send code").click()
    await page.locator("h1", has_text="Confirm your phone").wait_for()
    code = re.search(r"\b([0-9]{6})\b", live.sms.sent[-1])
    assert code is not None
    await page.get_by_label("Code", exact=True).fill(code.group(1))
    await page.get_by_role("button", name="Confirm").click()
    await page.locator("h1", has_text="How much would you like to add?").wait_for()
    await page.get_by_label("Amount in US dollars", exact=True).fill("25")
    await page.get_by_role("button", name="Continue").click()
    await page.locator("h1", has_text="Payment").wait_for()
    return str(session["checkout_session_id"])


async def type_card(page, number: str) -> None:
    await page.get_by_label("Card number").fill(number)
    await page.get_by_label("Expiration date").fill("12 / 34")
    await page.get_by_label("Security code").fill("123")
    await page.get_by_role("button", name="Pay $25.00").click()


async def paid(db, session_id: str) -> tuple[int, Decimal]:
    async with db.read() as session:
        payments = (
            await session.execute(
                select(func.count()).where(Payment.checkout_session_id == session_id)
            )
        ).scalar_one()
        wallets = list((await session.execute(select(Wallet))).scalars())
        return int(payments), sum((w.balance for w in wallets), Decimal(0))


@pytest.mark.parametrize("card", ["4242424242424242", "4000002500003155"], ids=["card", "3ds"])
async def test_a_live_checkout_paid_through_stripe_js(browser, live, db, card):
    context, page, outside = await open_page(browser, live)
    session_id = await to_payment_step(page, live)
    assert await page.locator('input[name="card_number"]').count() == 0  # not our form
    await type_card(page, card)
    if card.startswith("40000025"):
        dialog = page.get_by_role("dialog", name="3D Secure authentication")
        await dialog.wait_for()
        await dialog.get_by_role("button", name="Complete authentication").click()
    await page.locator("h1", has_text="Payment complete").wait_for()
    assert await paid(db, session_id) == (1, Decimal("25"))
    assert (await ledger_check(db)).problems == []
    assert outside == []
    await context.close()


async def test_a_declined_card_is_shown_and_nothing_is_credited(browser, live, db):
    context, page, outside = await open_page(browser, live)
    session_id = await to_payment_step(page, live)
    await type_card(page, "4000000000000002")
    error = page.locator("#stripe-error")
    await error.wait_for()
    assert "declined" in (await error.inner_text()).lower()
    assert await page.locator("h1").inner_text() == "Payment"
    assert await paid(db, session_id) == (0, Decimal("0"))
    # Another card then pays on the same page.
    await page.get_by_label("Card number").fill("4242424242424242")
    await page.get_by_role("button", name="Pay $25.00").click()
    await page.locator("h1", has_text="Payment complete").wait_for()
    assert await paid(db, session_id) == (1, Decimal("25"))
    assert outside == []
    await context.close()


async def test_a_sandbox_card_posted_to_a_live_page_is_refused(browser, live, db):
    """The live payment step has no card form of ours; a customer who adds one to the page (the
    sandbox's fields, with the 4242 test card) and submits it gets the refusal, and nothing is
    charged or credited."""
    context, page, outside = await open_page(browser, live)
    session_id = await to_payment_step(page, live)
    assert await page.locator('input[name="card_number"]').count() == 0
    await page.evaluate(
        """() => {
            const form = document.createElement("form");
            form.method = "post";
            form.action = location.pathname;
            for (const hidden of document.querySelectorAll('input[type="hidden"]')) {
                if (hidden.name && hidden.name !== "action") form.appendChild(hidden.cloneNode());
            }
            const fields = {action: "pay", card_number: "4242 4242 4242 4242",
                            card_expiry: "12 / 34", card_cvc: "123"};
            for (const [name, value] of Object.entries(fields)) {
                const input = document.createElement("input");
                input.type = "hidden"; input.name = name; input.value = value;
                form.appendChild(input);
            }
            document.body.appendChild(form);
            form.submit();
        }"""
    )
    refusal = page.get_by_text("accepted on test checkouts only")
    await refusal.wait_for()
    assert "Nothing was charged" in await page.content()
    assert await page.locator('input[name="card_number"]').count() == 0
    assert await paid(db, session_id) == (0, Decimal("0"))
    assert (await ledger_check(db)).problems == []
    assert outside == []
    await context.close()
