"""One-time codes in Chromium, through real senders: the customer chooses email or phone on the
hosted page (codes by email go to a local SMTP server, by SMS to the fake Twilio), switches
channel on the code step, and sees a clear message when the fake Twilio fails the send, then
retries at once. Every request to a host other than this machine is aborted (none is made).
Screenshots go to test-artifacts/browser/."""

from __future__ import annotations

import re
import socket
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from urllib.parse import urlsplit

import httpx
import pytest
from aiosmtpd.controller import Controller

from lava_server.app import create_app
from lava_server.payments.code_senders import TRY_AGAIN
from lava_server.settings import Settings
from lava_server.testing.server import ServerThread
from tests.browser.merchant_site import MerchantSite
from tests.browser.test_checkout_in_chromium import Shop
from tests.codes.conftest import twilio, twilio_server  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow


class Inbox:
    def __init__(self) -> None:
        self.bodies: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content)
        self.bodies.append((list(envelope.rcpt_tos), message.get_payload(decode=True).decode()))
        return "250 OK"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def inbox():
    found = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(found, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield found, port
    finally:
        controller.stop()


@pytest.fixture
async def site(database_url, merchant, twilio, inbox):  # noqa: F811
    _, smtp_port = inbox
    values = {
        **twilio.settings("sandbox"),
        "code_sender_sandbox": "twilio,smtp",
        "smtp_url": f"smtp://127.0.0.1:{smtp_port}",
        "smtp_from": "codes@shop.example",
        "separate_worker": True,
    }
    settings = Settings(database_url=database_url, **values)
    lava_app = create_app(settings)
    clock = Clock()
    lava_app.state.billing.clock = clock
    shop = MerchantSite(merchant.secret_key)
    with ServerThread(lava_app) as lava_server, ServerThread(shop.app) as shop_server:
        public = Settings(database_url=database_url, public_url=lava_server.url, **values)
        lava_app.state.billing.settings = public
        shop.configure(public.public_base, f"http://localhost:{shop_server.port}")
        async with httpx.AsyncClient(
            base_url=lava_server.url, headers={"Authorization": f"Bearer {merchant.secret_key}"}
        ) as lava:
            yield shop.origin, lava, clock


async def test_email_or_phone_and_a_failed_send(browser, site, artifacts, twilio, inbox):  # noqa: F811
    shop_origin, lava, clock = site
    mails, _ = inbox
    context = await browser.new_context(viewport={"width": 420, "height": 900})
    page = await context.new_page()
    outside: list[str] = []

    async def only_this_machine(route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_this_machine)
    await page.goto(shop_origin + "/")
    shop = Shop(page, lava, artifacts)

    # The code by email.
    await shop.open(checkout_mode="onboarding")
    assert await shop.heading() == "Your details"
    await shop.labels_ok()
    await shop.fill("Mobile phone number", "+1 415 555 0190")
    await shop.fill("Email address", "grace@example.com")
    await shop.fill("First name", "Grace")
    await shop.fill("Last name", "Hopper")
    assert await shop.frame.locator("#code_channel-phone").is_checked()
    await shop.frame.get_by_label("Email", exact=True).check()
    await shop.shot("details-email-chosen")
    await shop.press("Send code")
    assert await shop.heading() == "Confirm your email"
    assert "g•••@example.com" in await shop.frame.locator("#code-destination").inner_text()
    [(to, body)] = mails.bodies
    assert to == ["grace@example.com"] and (await shop.sandbox_code()) in body
    assert twilio.messages() == []
    await shop.shot("code-by-email")

    # Then by text message instead (after the resend wait), which the fake Twilio fails.
    clock.now += timedelta(seconds=31)
    twilio.fail_next(2, 503)
    await shop.press("Text the code to my phone instead")
    assert TRY_AGAIN in await shop.error()
    assert await shop.heading() == "Confirm your email"  # nothing changed
    await shop.shot("sms-failed")
    # Retried at once: it goes through.
    await shop.press("Text the code to my phone instead")
    assert await shop.heading() == "Confirm your phone"
    assert "0190" in await shop.frame.locator("#code-destination").inner_text()
    [message] = twilio.messages()
    assert message["to"] == "+14155550190"
    code = re.match(r"[0-9]{6}", message["body"])
    assert code is not None and code.group(0) == await shop.sandbox_code()
    await shop.shot("code-by-sms")
    await shop.fill("Code", code.group(0))
    await shop.press("Confirm")
    assert await shop.heading() == "How much would you like to add?"

    # A failure on the details step: the message, the fields kept, and a retry.
    await shop.open(checkout_mode="onboarding")
    await shop.fill("Mobile phone number", "+1 415 555 0191")
    await shop.fill("Email address", "alan@example.com")
    await shop.fill("First name", "Alan")
    await shop.fill("Last name", "Turing")
    twilio.fail_next(2, 500)
    await shop.press("Send code")
    assert TRY_AGAIN in await shop.error()
    assert await shop.heading() == "Your details"
    assert await shop.frame.get_by_label("Mobile phone number").input_value() == "+1 415 555 0191"
    await shop.shot("details-send-failed")
    await shop.press("Send code")
    assert await shop.heading() == "Confirm your phone"
    assert twilio.messages()[-1]["to"] == "+14155550191"
    await shop.shot("details-retried")

    await context.close()
    assert outside == []
