"""The hosted checkout driven in Chromium, embedded in an iframe by a merchant page on another
origin exactly as Lava's front-end helper does: onboarding, a top-up and a subscription with the
sandbox test cards, the `lava_checkout_success` / `lava_checkout_cancel` messages with the right
ids, the messages of a declined card and a wrong code, `frame-ancestors`, a phone-sized screen;
then the balances and the ledger. Screenshots of every step go to test-artifacts/browser/."""

from __future__ import annotations

import asyncio
import base64
import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from lava_server.app import create_app
from lava_server.settings import Settings
from lava_server.testing.server import ServerThread
from lava_server.wallets.service import check as ledger_check
from tests.browser.merchant_site import MerchantSite
from tests.checkout.helpers import old_live_session

pytestmark = pytest.mark.slow


class Shop:
    """The merchant's page in a browser tab, and Lava's API for checking what happened."""

    def __init__(self, page, lava: httpx.AsyncClient, artifacts: Path) -> None:
        self.page = page
        self.lava = lava
        self.artifacts = artifacts
        self.shots = 0
        self.frame = page.frame_locator("#lava-checkout")

    async def shot(self, name: str) -> None:
        self.shots += 1
        await self.page.screenshot(path=self.artifacts / f"{self.shots:02d}-{name}.png")

    async def open(self, **params: str) -> str:
        session_id = await self.page.evaluate("params => startCheckout(params)", params)
        await self.frame.locator("h1").wait_for()
        return str(session_id)

    async def heading(self) -> str:
        return str(await self.frame.locator("h1").inner_text())

    async def error(self) -> str:
        return str(await self.frame.locator("#error-summary").inner_text())

    async def fill(self, label: str, value: str) -> None:
        await self.frame.get_by_label(label, exact=True).fill(value)

    async def press(self, name: str) -> None:
        """Click a submit button and wait for the page the server answers with."""
        await self.frame.locator("body").evaluate("body => body.setAttribute('data-stale', '')")
        await self.frame.get_by_role("button", name=name).click()
        await self.frame.locator("body:not([data-stale]) h1").wait_for()

    async def sandbox_code(self) -> str:
        return str(await self.frame.locator("#sandbox-code").inner_text())

    async def messages(self, count: int) -> list[dict]:
        await self.page.wait_for_function(f"window.lavaMessages.length >= {count}")
        return list(await self.page.evaluate("window.lavaMessages"))

    async def pay(self, card: str) -> None:
        await self.fill("Card number", card)
        await self.fill("Expiry date (MM / YY)", "12 / 34")
        await self.fill("Security code", "123")

    async def labels_ok(self) -> None:
        """Every visible form control has a label (what a screen reader announces)."""
        unlabeled = await self.frame.locator("body").evaluate(
            """body => Array.from(body.querySelectorAll("input:not([type=hidden])"))
                 .filter(input => input.labels.length === 0).map(input => input.name)"""
        )
        assert unlabeled == []


@pytest.fixture
async def site(database_url, merchant):
    """Lava on 127.0.0.1 and the merchant's site on localhost: two origins, two sites. Both
    listen on ports picked when they bind (no race for a free port)."""
    settings = Settings(database_url=database_url, separate_worker=True)
    lava_app = create_app(settings)
    shop = MerchantSite(merchant.secret_key)
    with ServerThread(lava_app) as lava_server, ServerThread(shop.app) as shop_server:
        public = Settings(
            database_url=database_url, separate_worker=True, public_url=lava_server.url
        )
        lava_app.state.billing.settings = public  # the token's base is read per request
        shop.configure(public.public_base, f"http://localhost:{shop_server.port}")
        async with httpx.AsyncClient(
            base_url=lava_server.url, headers={"Authorization": f"Bearer {merchant.secret_key}"}
        ) as lava:
            yield shop.origin, lava


async def test_onboarding_topup_and_subscription_embedded(browser, site, artifacts, db):
    shop_origin, lava = site
    context = await browser.new_context(viewport={"width": 1000, "height": 900})
    page = await context.new_page()
    await page.goto(shop_origin + "/")
    shop = Shop(page, lava, artifacts)

    # Onboarding, with a wrong code and a declined card on the way.
    session_id = await shop.open(checkout_mode="onboarding", reference_id="customer-7")
    assert await shop.heading() == "Your details"
    await shop.labels_ok()
    await shop.shot("onboarding-details")
    await shop.fill("Mobile phone number", "+1 415 555")
    await shop.fill("Email address", "grace@example.com")
    await shop.fill("First name", "Grace")
    await shop.fill("Last name", "Hopper")
    await shop.press("Send code")
    assert "international format" in await shop.error()
    await shop.shot("onboarding-bad-phone")
    await shop.fill("Mobile phone number", "+1 415 555 0142")
    await shop.press("Send code")
    assert await shop.heading() == "Confirm your phone"
    code = await shop.sandbox_code()
    await shop.fill("Code", "000000" if code != "000000" else "111111")
    await shop.press("Confirm")
    assert "That code is not right. 4 tries left." in await shop.error()
    await shop.shot("onboarding-wrong-code")
    await shop.fill("Code", code)
    await shop.press("Confirm")
    assert await shop.heading() == "How much would you like to add?"
    await shop.fill("Amount in US dollars", "25")
    await shop.press("Continue")
    assert await shop.heading() == "Payment"
    await shop.labels_ok()
    await shop.pay("4000 0000 0000 0002")
    await shop.press("Pay $25.00")
    assert "Your card was declined." in await shop.error()
    await shop.shot("onboarding-declined")
    await shop.pay("4242 4242 4242 4242")
    await shop.press("Pay $25.00")
    assert await shop.heading() == "Payment complete"
    await shop.shot("onboarding-done")
    [message] = await shop.messages(1)
    session = (await lava.get(f"/v1/checkout_sessions/{session_id}")).json()
    assert "completed_at" in session
    assert message == {
        "type": "lava_checkout_success",
        "checkoutSessionId": session_id,
        "connectionId": session["connection_id"],
    }
    connection_id = session["connection_id"]
    connection = (await lava.get(f"/v1/connections/{connection_id}")).json()
    assert connection["reference_id"] == "customer-7"
    assert connection["wallet"]["balance"] == "25.0000000000"

    # A top-up of that connection: the code goes to the phone on file.
    topup_id = await shop.open(checkout_mode="topup", connection_id=connection_id)
    assert await shop.heading() == "Confirm your phone"
    await shop.shot("topup-code")
    await shop.press("Send code")
    await shop.fill("Code", await shop.sandbox_code())
    await shop.press("Confirm")
    await shop.fill("Amount in US dollars", "10.50")
    await shop.press("Continue")
    await shop.pay("4242 4242 4242 4242")
    await shop.shot("topup-card")
    await shop.press("Pay $10.50")
    assert await shop.heading() == "Payment complete"
    await shop.shot("topup-done")
    messages = await shop.messages(2)
    assert messages[1] == {
        "type": "lava_checkout_success",
        "checkoutSessionId": topup_id,
        "connectionId": connection_id,
    }
    connection = (await lava.get(f"/v1/connections/{connection_id}")).json()
    assert connection["wallet"]["balance"] == "35.5000000000"

    # A subscription for a new customer.
    config = (
        await lava.post(
            "/v1/subscription-configs",
            json={"name": "Pro monthly", "period_amount": "20", "rollover_type": "none"},
        )
    ).json()
    subscription_id = await shop.open(
        checkout_mode="subscription",
        subscription_config_id=config["subscription_config_id"],
        reference_id="customer-8",
    )
    await shop.fill("Mobile phone number", "+44 20 7946 0000")
    await shop.fill("Email address", "alan@example.com")
    await shop.fill("First name", "Alan")
    await shop.fill("Last name", "Turing")
    await shop.press("Send code")
    await shop.fill("Code", await shop.sandbox_code())
    await shop.press("Confirm")
    assert await shop.heading() == "Subscribe"
    assert "Pro monthly" in await shop.frame.locator("main").inner_text()
    await shop.pay("4000 0000 0000 9995")
    await shop.press("Pay $20.00")
    assert "insufficient funds" in await shop.error()
    await shop.shot("subscription-no-funds")
    await shop.pay("4242 4242 4242 4242")
    await shop.press("Pay $20.00")
    assert await shop.heading() == "You are subscribed"
    await shop.shot("subscription-done")
    messages = await shop.messages(3)
    subscribed = (await lava.get(f"/v1/checkout_sessions/{subscription_id}")).json()
    assert messages[2] == {
        "type": "lava_checkout_success",
        "checkoutSessionId": subscription_id,
        "connectionId": subscribed["connection_id"],
    }
    [active] = (await lava.get("/v1/active-subscriptions")).json()
    assert active["status"] == "active"
    assert active["connection_id"] == subscribed["connection_id"]
    assert active["wallet"]["active_balance"] == "20.0000000000"

    # Cancelling from the page tells the merchant page too.
    cancelled_id = await shop.open(checkout_mode="onboarding")
    await shop.frame.get_by_role("button", name="Cancel and return to Test merchant").click()
    messages = await shop.messages(4)
    assert messages[3] == {"type": "lava_checkout_cancel", "checkoutSessionId": cancelled_id}

    # Money: every charge once, and the ledger balances.
    balances = sorted(
        [
            Decimal(c["wallet"]["balance"])
            for c in (await lava.get("/v1/connections")).json()["data"]
        ]
    )
    assert balances == [Decimal(20), Decimal("35.5")]
    assert (await ledger_check(db)).problems == []
    await context.close()


async def test_only_the_sessions_origin_can_frame_it(browser, site, artifacts):
    shop_origin, lava = site
    other_origin = shop_origin.replace("localhost", "127.0.0.1")  # same site server, other origin
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(other_origin + "/")
    blocked = []
    page.on("console", lambda message: blocked.append(message.text))
    created = (
        await lava.post(
            "/v1/checkout_sessions",
            json={"checkout_mode": "onboarding", "origin_url": shop_origin},
        )
    ).json()
    await page.evaluate("token => openLavaCheckout(token)", created["checkout_session_token"])
    await asyncio.sleep(1.5)
    frame = page.frame_locator("#lava-checkout")
    assert await frame.locator("h1#title").count() == 0
    assert any("frame-ancestors" in text for text in blocked), blocked
    await page.screenshot(path=artifacts / "01-blocked-on-another-origin.png")
    await context.close()


async def test_phone_sized_screen(browser, site, artifacts):
    shop_origin, _ = site
    context = await browser.new_context(
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = await context.new_page()
    await page.goto(shop_origin + "/")
    shop = Shop(page, _, artifacts)
    await shop.open(checkout_mode="onboarding")
    await shop.shot("phone-details")
    overflow = await shop.frame.locator("body").evaluate(
        "body => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    box = await shop.frame.get_by_role("button", name="Send code").bounding_box()
    assert box is not None and box["height"] >= 44  # a comfortable touch target
    await shop.press("Send code")  # everything empty: one clear message, nothing sent
    assert "international format" in await shop.error()
    await shop.shot("phone-error")
    await context.close()


async def test_live_page_has_no_card_form_and_sandbox_page_shows_test_mode(
    browser, site, artifacts, db, merchant
):
    """A sandbox checkout shows a visible "Test mode" banner. A live one (made before live mode
    needed real providers, its customer at the card step) shows neither the banner nor the
    page's card form, which posts card numbers to this server: it says it takes nothing."""
    shop_origin, lava = site
    context = await browser.new_context(viewport={"width": 1000, "height": 900})
    page = await context.new_page()
    await page.goto(shop_origin + "/")
    shop = Shop(page, lava, artifacts)
    await shop.open(checkout_mode="onboarding")
    banner = shop.frame.locator("#test-mode")
    assert await banner.is_visible()
    assert (await banner.inner_text()).startswith("Test mode")
    await shop.shot("sandbox-test-mode")

    checkout = await old_live_session(db, merchant.merchant_id, at_pay=True, origin_url=shop_origin)
    base = str(lava.base_url).rstrip("/") + "/"
    token = base64.b64encode(json.dumps({"secret": checkout.secret, "base": base}).encode())
    await page.evaluate("token => openLavaCheckout(token)", token.decode())
    await shop.frame.locator("h1#title").wait_for()
    assert await shop.heading() == "Payments are not available"
    assert "Nothing was charged" in await shop.frame.locator("main").inner_text()
    assert await shop.frame.locator("input[name=card_number]").count() == 0
    assert await shop.frame.locator("input:not([type=hidden])").count() == 0
    assert await shop.frame.locator("#test-mode").count() == 0
    assert "Test mode" not in await shop.frame.locator("body").inner_text()
    await shop.shot("live-unavailable")
    await context.close()
