"""One-time codes on the hosted checkout page: phone or email as the customer chooses, the
hourly send limits (per number or address, per client address; shared by every server process
through the database or Redis), a send that fails (nothing half-done, try again at once), and a
live session whose code goes through the fake Twilio."""

from __future__ import annotations

import asyncio
import re
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select

from lava_server.app import create_app
from lava_server.checkout import flow
from lava_server.checkout.send_limits import SendLimits
from lava_server.db.engine import Database
from lava_server.db.models import CheckoutSession, CodeSend, Wallet
from lava_server.payments.code_senders import TRY_AGAIN, Email, Phone
from lava_server.payments.twilio import INVALID_NUMBER
from lava_server.settings import Settings
from tests.api.test_ratelimit import REDIS_URL, _redis_problem
from tests.checkout.helpers import (
    DETAILS,
    Page,
    billing_of,
    create_session,
    error_of,
    secret_of,
    sent_codes,
    step_of,
)
from tests.checkout.test_live_mode import AnyCardProvider


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


@asynccontextmanager
async def lava(
    database_url: str,
    clock: Clock | None = None,
    client_address: str = "127.0.0.1",
    **values: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """An app of its own (its own database pool: another server process) with these settings."""
    settings = Settings(database_url=database_url, **values)
    db = Database(settings.database_url, pool_size=5)
    app = create_app(settings, db)
    if clock is not None:
        app.state.billing.clock = clock
    transport = httpx.ASGITransport(app=app, client=(client_address, 1234))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://lava.test") as http:
            yield http
    finally:
        await app.state.code_limits.close()
        await db.dispose()


def details(phone: str, **more: str) -> dict[str, str]:
    return {**DETAILS, "phone": phone, **more}


async def new_page(client: httpx.AsyncClient, merchant, **fields: Any) -> Page:
    return Page(client, secret_of(await create_session(client, merchant.headers, **fields)))


async def code_sends(db: Database) -> int:
    async with db.read() as session:
        return int((await session.execute(select(func.count()).select_from(CodeSend))).scalar_one())


async def checkout_of(db: Database, page: Page) -> CheckoutSession:
    async with db.read() as session:
        found = (
            await session.execute(
                select(CheckoutSession).where(CheckoutSession.secret == page.secret)
            )
        ).scalar_one()
        return found


# Phone or email, as the customer chooses.


async def test_the_customer_chooses_email_or_phone(database_url, merchant, db):
    async with lava(database_url, code_log_channels="phone,email") as client:
        page = await new_page(client, merchant)
        first = await page.get()
        assert 'name="code_channel" id="code_channel-phone" value="phone" checked' in first.text
        assert "Send my code by" in first.text
        shown = await page.post("details", **details("+14155550123", code_channel="email"))
        assert step_of(shown) == "Confirm your email"
        assert "a•••@example.com" in shown.text
        [sent] = sent_codes(client)
        assert sent.to == Email("ada@example.com") and await page.code() in sent.text
        assert (await checkout_of(db, page)).code_channel == "email"
        # A new code by text message instead: the session records the change.
        again = await page.post("send_code", code_channel="phone")
        assert "Please wait" in error_of(again)  # the resend wait holds for either channel
        assert step_of(await page.verify()) == "How much would you like to add?"
        async with db.read() as session:
            wallet = (
                await session.execute(select(Wallet).where(Wallet.phone == "+14155550123"))
            ).scalar_one()
            assert wallet.email == "ada@example.com"

        # Someone else's phone with one's own email: the code by email does not open that
        # phone's wallet; a code by text message does.
        other = await new_page(client, merchant)
        await other.post(
            "details", **details("+14155550123", email="mallory@example.com", code_channel="email")
        )
        refused = await other.verify()
        assert refused.status_code == 409 and error_of(refused) == flow.WALLET_NEEDS_PHONE
        assert step_of(refused) == "Confirm your phone"
        sent = await other.post("send_code")
        assert step_of(sent) == "Confirm your phone" and "•••• 0123" in sent.text
        assert sent_codes(client)[-1].to == Phone("+14155550123")
        assert step_of(await other.verify()) == "How much would you like to add?"

        # A channel that is not offered is refused, naming the field.
        third = await new_page(client, merchant)
        bad = await third.post("details", **details("+14155550124", code_channel="pigeon"))
        assert bad.status_code == 400 and "Choose how to get your code" in error_of(bad)


async def test_only_phone_by_default(client, merchant):
    page = await new_page(client, merchant)
    first = await page.get()
    assert "Send my code by" not in first.text
    refused = await page.post("details", **details("+14155550125", code_channel="email"))
    assert refused.status_code == 400 and "Choose how to get your code" in error_of(refused)
    assert sent_codes(client) == []


# Hourly limits.


async def test_the_sixth_code_to_one_number_within_the_hour_is_refused(database_url, merchant, db):
    clock = Clock()
    async with lava(database_url, clock) as client:
        for _ in range(5):
            page = await new_page(client, merchant)
            shown = await page.post("details", **details("+14155550130"))
            assert step_of(shown) == "Confirm your phone"
        sixth = await new_page(client, merchant)
        refused = await sixth.post("details", **details("+14155550130"))
        assert refused.status_code == 429
        assert error_of(refused) == (
            "Too many codes were sent to this number; try again in 60 minutes."
        )
        assert step_of(refused) == "Your details" and 'value="+14155550130"' in refused.text
        assert len(sent_codes(client)) == 5 and await code_sends(db) == 10
        checkout = await checkout_of(db, sixth)
        assert checkout.phone is None and checkout.codes_sent == 0

        # Another number is not held up; after the hour, this one gets codes again.
        other = await new_page(client, merchant)
        assert step_of(await other.post("details", **details("+14155550131"))) == (
            "Confirm your phone"
        )
        clock.now += timedelta(minutes=45)
        assert "try again in 15 minutes" in error_of(
            await sixth.post("details", **details("+14155550130"))
        )
        clock.now += timedelta(minutes=15, seconds=1)
        assert step_of(await sixth.post("details", **details("+14155550130"))) == (
            "Confirm your phone"
        )
        # Sends older than an hour are forgotten as new ones are counted.
        assert await code_sends(db) == 2


async def test_a_client_address_gets_a_limited_number_of_codes(database_url, merchant):
    async with lava(database_url, code_sends_per_client_per_hour=3) as client:
        for n in range(3):
            page = await new_page(client, merchant)
            await page.post("details", **details(f"+1415555014{n}"))
        page = await new_page(client, merchant)
        refused = await page.post("details", **details("+14155550149"))
        assert refused.status_code == 429
        assert error_of(refused) == (
            "Too many codes were asked for from your network; try again in 60 minutes."
        )
    async with lava(
        database_url, client_address="192.0.2.7", code_sends_per_client_per_hour=3
    ) as elsewhere:
        shown = await Page(elsewhere, page.secret).post("details", **details("+14155550149"))
        assert step_of(shown) == "Confirm your phone"


async def test_two_server_processes_share_the_limits_through_the_database(
    database_url, merchant, db
):
    async with lava(database_url) as one, lava(database_url) as two:
        for client in (one, two, one, two, one):
            page = await new_page(client, merchant)
            assert step_of(await page.post("details", **details("+14155550150"))) == (
                "Confirm your phone"
            )
        for client in (one, two):
            page = await new_page(client, merchant)
            refused = await page.post("details", **details("+14155550150"))
            assert refused.status_code == 429, refused.text


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    problem = _redis_problem()
    if problem is not None:
        pytest.skip(f"Redis not reachable at {REDIS_URL} ({problem})")
    prefix = f"lava:test-codes:{uuid.uuid4().hex}:"
    yield prefix
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def test_two_server_processes_share_the_limits_through_redis(
    database_url, merchant, db, redis_prefix
):
    async with (
        lava(database_url, redis_url=REDIS_URL) as one,
        lava(database_url, redis_url=REDIS_URL) as two,
    ):
        for client in (one, two):
            app = client._transport.app  # type: ignore[attr-defined]
            app.state.code_limits = SendLimits(
                app.state.billing.settings, app.state.billing.db, redis_prefix=redis_prefix
            )
        for client in (one, two, one, two, one):
            page = await new_page(client, merchant)
            assert step_of(await page.post("details", **details("+14155550160"))) == (
                "Confirm your phone"
            )
        refused = await (await new_page(two, merchant)).post("details", **details("+14155550160"))
        assert refused.status_code == 429
        assert "Too many codes were sent to this number" in error_of(refused)
        assert await code_sends(db) == 0  # counted in Redis, not in the database
        for client in (one, two):
            await client._transport.app.state.code_limits.close()  # type: ignore[attr-defined]


# A send that fails, through the fake Twilio.


async def test_a_failed_send_changes_nothing_and_can_be_retried(database_url, merchant, db, twilio):
    async with lava(database_url, **twilio.settings("sandbox")) as client:
        page = await new_page(client, merchant)
        twilio.fail_next(2, 503)
        failed = await page.post("details", **details("+14155550170"))
        assert failed.status_code == 502 and error_of(failed) == TRY_AGAIN
        assert step_of(failed) == "Your details" and 'value="+14155550170"' in failed.text
        checkout = await checkout_of(db, page)
        assert checkout.phone is None and checkout.codes_sent == 0 and checkout.code_hash is None
        assert await code_sends(db) == 0 and twilio.messages() == []

        # At once (no resend wait: nothing was sent), and it works.
        sent = await page.post("details", **details("+14155550170"))
        assert step_of(sent) == "Confirm your phone"
        [message] = twilio.messages()
        assert message["to"] == "+14155550170"
        code = re.match(r"([0-9]{6}) is your Test merchant verification code", message["body"])
        assert code is not None
        assert 'id="sandbox-code"' in sent.text  # a sandbox session still shows it

        # A new code that cannot be sent: the one sent before still works.
        checkout = await checkout_of(db, page)
        billing_of(client).clock = lambda: checkout.code_sent_at + timedelta(seconds=31)
        twilio.fail_next(2, 500)
        failed = await page.post("send_code")
        assert failed.status_code == 502 and error_of(failed) == TRY_AGAIN
        assert (await checkout_of(db, page)).codes_sent == 1
        verified = await page.post("verify", code=code.group(1))
        assert step_of(verified) == "How much would you like to add?"

        # A number Twilio says is not valid: the message is next to the phone field.
        other = await new_page(client, merchant)
        refused = await other.post("details", **details("+15005550001"))
        assert refused.status_code == 502 and error_of(refused) == INVALID_NUMBER
        assert 'id="phone-error"' in refused.text


# A live session: the code goes through Twilio (the fake) and is never shown.


async def test_a_live_checkout_sends_its_code_through_twilio(
    database_url, live_merchant, db, twilio
):
    async with lava(database_url, **twilio.settings("live")) as client:
        billing = billing_of(client)
        billing.live = AnyCardProvider()  # the payment step is the Stripe work's
        assert billing.live_mode_missing() == []
        page = await new_page(client, live_merchant)
        shown = await page.post("details", **details("+14155550180"))
        assert step_of(shown) == "Confirm your phone" and 'id="sandbox-code"' not in shown.text
        [message] = twilio.messages()
        assert message["to"] == "+14155550180" and message["status"] == "queued"
        code = message["body"][:6]
        wrong = await page.post("verify", code="000000" if code != "000000" else "111111")
        assert "That code is not right" in error_of(wrong)
        amount = await page.post("verify", code=code)
        assert step_of(amount) == "How much would you like to add?"
        assert step_of(await page.post("amount", amount="25")) == "Payment"
        assert (await checkout_of(db, page)).code_channel == "phone"


async def test_a_live_checkout_where_the_customer_chooses_email(
    database_url, live_merchant, db, twilio, mailbox
):
    values = {**twilio.settings("live"), **mailbox.settings("live")}
    values["code_sender_live"] = "twilio,smtp"
    clock = Clock()
    async with lava(database_url, clock, **values) as client:
        billing_of(client).live = AnyCardProvider()
        page = await new_page(client, live_merchant)
        assert "Send my code by" in (await page.get()).text
        shown = await page.post("details", **details("+14155550185", code_channel="email"))
        assert step_of(shown) == "Confirm your email" and 'id="sandbox-code"' not in shown.text
        assert twilio.messages() == []
        [message] = mailbox.messages
        assert message["To"] == "ada@example.com" and message["From"] == "codes@shop.example"
        assert message["Subject"] == "Your verification code"
        code = mailbox.bodies()[0][:6]
        assert (await checkout_of(db, page)).code_channel == "email"
        assert step_of(await page.post("verify", code=code)) == "How much would you like to add?"

        # The email address has its own hourly limit, worded for it.
        for _ in range(4):
            other = await new_page(client, live_merchant)
            await other.post(
                "details", **details("+14155550186", email="ada@example.com", code_channel="email")
            )
        refused = await (await new_page(client, live_merchant)).post(
            "details", **details("+14155550187", code_channel="email")
        )
        assert refused.status_code == 429 and error_of(refused) == (
            "Too many codes were sent to this email address; try again in 60 minutes."
        )
        assert 'id="email-error"' in refused.text and len(mailbox.messages) == 5


async def test_concurrent_sends_from_two_processes_stop_at_the_limit(database_url, merchant, db):
    async with lava(database_url) as one, lava(database_url) as two:
        pages = [await new_page(client, merchant) for client in (one, two) * 5]
        shown = await asyncio.gather(
            *(page.post("details", **details("+14155550190")) for page in pages)
        )
        assert sorted(response.status_code for response in shown) == [200] * 5 + [429] * 5
        assert await code_sends(db) == 10


async def test_the_database_counts_while_redis_does_not_answer(database_url, merchant, db, caplog):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    async with lava(database_url, redis_url=f"redis://127.0.0.1:{port}/0") as client:
        for _ in range(5):
            page = await new_page(client, merchant)
            assert step_of(await page.post("details", **details("+14155550195"))) == (
                "Confirm your phone"
            )
        refused = await (await new_page(client, merchant)).post(
            "details", **details("+14155550195")
        )
        assert refused.status_code == 429
        assert await code_sends(db) == 10
    assert "Redis failed" in caplog.text


async def test_a_top_up_offers_the_phone_and_email_on_file(database_url, merchant):
    async with lava(database_url, code_log_channels="phone,email") as client:
        onboarding = await new_page(client, merchant)
        done = await onboarding.onboard(**details("+14155550196"))
        assert step_of(done) == "Payment complete"
        connection_id = re.search(r"connectionId&#34;: &#34;(con_[^&]+)&#34;", done.text)
        assert connection_id is not None
        topup = await new_page(client, merchant, mode="topup", connection_id=connection_id.group(1))
        first = await topup.get()
        assert step_of(first) == "Confirm your phone"
        assert "Text me a code" in first.text and "Email me a code" in first.text
        shown = await topup.post("send_code", code_channel="email")
        assert step_of(shown) == "Confirm your email" and "a•••@example.com" in shown.text
        assert sent_codes(client)[-1].to == Email("ada@example.com")
        assert "Text the code to my phone instead" in shown.text
        assert step_of(await topup.verify()) == "How much would you like to add?"
