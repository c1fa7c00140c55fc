"""The hosted checkout page over HTTP (no JavaScript): the three modes, every wrong input, codes,
expiry, and completing at most once."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from lava_server.checkout import flow
from lava_server.db.models import LedgerEntry, Payment, Wallet
from lava_server.payments.code_senders import Phone
from lava_server.wallets.service import check as ledger_check
from lava_server.worker.runner import run_once
from tests.checkout.helpers import (
    DECLINED_CARD,
    DETAILS,
    GOOD_CARD,
    NO_FUNDS_CARD,
    ORIGIN,
    Page,
    balance,
    billing_of,
    connection,
    create_config,
    create_session,
    error_of,
    errors_of,
    secret_of,
    sent_codes,
    step_of,
    succeeded_charges,
)
from tests.metering.helpers import make_connection


async def ledger_entries(db) -> int:
    async with db.read() as session:
        return int(
            (await session.execute(select(func.count()).select_from(LedgerEntry))).scalar_one()
        )


async def test_onboarding_end_to_end(client, merchant, db):
    session = await create_session(client, merchant.headers, reference_id="user-42")
    page = Page(client, secret_of(session))
    first = await page.get()
    assert first.status_code == 200
    assert step_of(first) == "Your details"
    assert first.headers["content-security-policy"].endswith(f"frame-ancestors {ORIGIN}")
    assert first.headers["cache-control"] == "no-store"
    assert first.headers["referrer-policy"] == "no-referrer"
    assert "data-event" not in first.text

    code_page = await page.post("details", **DETAILS)
    assert step_of(code_page) == "Confirm your phone"
    assert "•••• 0100" in code_page.text
    sms = sent_codes(client)
    assert sms[-1].to == Phone("+14155550100") and await page.code() in sms[-1].text
    assert step_of(await page.verify()) == "How much would you like to add?"
    pay_page = await page.post("amount", amount="25.50")
    assert step_of(pay_page) == "Payment" and "Pay $25.50" in pay_page.text
    done = await page.post("pay", **GOOD_CARD)
    assert step_of(done) == "Payment complete"

    fetched = (
        await client.get(
            f"/v1/checkout_sessions/{session['checkout_session_id']}", headers=merchant.headers
        )
    ).json()
    assert fetched["completed_at"].endswith("Z")
    connection_id = fetched["connection_id"]
    assert (
        f'data-event="{{&#34;type&#34;: &#34;lava_checkout_success&#34;, &#34;checkoutSessionId'
        f"&#34;: &#34;{session['checkout_session_id']}&#34;, &#34;connectionId&#34;: "
        f'&#34;{connection_id}&#34;}}"' in done.text
    )
    con = await connection(client, merchant.headers, connection_id)
    assert con["reference_id"] == "user-42"
    assert con["connection_secret"].startswith("cons_test_")
    assert con["wallet"] == {
        "balance": "25.5000000000",
        "phone": "+14155550100",
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "autopay_enabled": False,
    }
    # A reload shows the same end and charges nothing more.
    again = await page.get()
    assert step_of(again) == "Payment complete" and "lava_checkout_success" in again.text
    assert len(succeeded_charges(billing_of(client).sandbox)) == 1
    assert (await ledger_check(db)).problems == []


async def test_known_phone_reuses_its_wallet(client, merchant, db):
    first = await create_session(client, merchant.headers, reference_id="a")
    await Page(client, secret_of(first)).onboard(amount="10")
    second = await create_session(client, merchant.headers, reference_id="b")
    await Page(client, secret_of(second)).onboard(amount="5", email="other@example.com")
    sessions = [
        (
            await client.get(
                f"/v1/checkout_sessions/{s['checkout_session_id']}", headers=merchant.headers
            )
        ).json()
        for s in (first, second)
    ]
    a, b = [await connection(client, merchant.headers, s["connection_id"]) for s in sessions]
    assert a["connection_id"] != b["connection_id"]
    assert a["wallet"]["balance"] == b["wallet"]["balance"] == "15.0000000000"
    assert b["wallet"]["email"] == "ada@example.com"  # the wallet's details stay
    async with db.read() as session:
        assert (await session.execute(select(func.count()).select_from(Wallet))).scalar_one() == 1


async def _at_pay_step(client, merchant) -> Page:
    session = await create_session(client, merchant.headers)
    page = Page(client, secret_of(session))
    await page.post("details", **DETAILS)
    await page.verify()
    await page.post("amount", amount="20")
    return page


@pytest.mark.parametrize(
    ("action", "fields", "message"),
    [
        ("details", {**DETAILS, "phone": "415 555"}, "international format"),
        ("details", {**DETAILS, "phone": "+1 (415) 555-01x0"}, "international format"),
        ("details", {**DETAILS, "email": "ada@"}, "email address"),
        ("details", {**DETAILS, "first_name": "  "}, "first name"),
        ("details", {**DETAILS, "last_name": "x" * 256}, "at most 255"),
        # NUL characters: PostgreSQL cannot store them, so both databases refuse them here
        ("details", {**DETAILS, "first_name": "Ada\x00"}, "letters, digits"),
        ("details", {**DETAILS, "email": "ada\x00@example.com"}, "email address"),
    ],
)
async def test_bad_details_change_nothing(client, merchant, action, fields, message):
    session = await create_session(client, merchant.headers)
    page = Page(client, secret_of(session))
    response = await page.post(action, **fields)
    assert response.status_code == 400
    assert message in error_of(response)
    assert 'aria-invalid="true"' in response.text
    assert step_of(await page.get()) == "Your details"
    assert sent_codes(client) == []


async def test_every_wrong_field_is_named_at_once(client, merchant):
    page = Page(client, secret_of(await create_session(client, merchant.headers)))
    response = await page.post("details", phone="", email="x", first_name="", last_name="Ok")
    assert response.status_code == 400
    assert [m.split(" ")[0:2] for m in errors_of(response)] == [
        ["Enter", "your"],
        ["Enter", "an"],
        ["Enter", "your"],
    ]
    for field in ("phone", "email", "first_name"):
        assert f'id="{field}-error"' in response.text
    assert 'id="last_name-error"' not in response.text
    assert 'value="Ok"' in response.text  # what was right is kept
    pay = await _at_pay_step(client, merchant)
    response = await pay.post("pay", card_number="1", card_expiry="", card_cvc="")
    assert errors_of(response) == [
        "Enter a valid card number.",
        "Enter the expiry date as MM / YY.",
        "Enter the 3 or 4 digit security code.",
    ]


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0.99", "from $1.00 to $10,000.00"),
        ("10000.01", "from $1.00 to $10,000.00"),
        ("-5", "like 25 or 25.50"),
        ("1.001", "like 25 or 25.50"),
        ("1e3", "like 25 or 25.50"),
        ("NaN", "like 25 or 25.50"),
        ("", "like 25 or 25.50"),
    ],
)
async def test_amount_out_of_range_changes_nothing(client, merchant, amount, message):
    session = await create_session(client, merchant.headers)
    page = Page(client, secret_of(session))
    await page.post("details", **DETAILS)
    await page.verify()
    response = await page.post("amount", amount=amount)
    assert response.status_code == 400 and message in error_of(response)
    assert step_of(await page.get()) == "How much would you like to add?"


async def test_amount_limits_come_from_settings(database_url, db, merchant):
    import httpx

    from lava_server.app import create_app
    from lava_server.settings import Settings

    settings = Settings(
        database_url=database_url, checkout_min_amount="5", checkout_max_amount="50"
    )
    app = create_app(settings, db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://lava.test"
    ) as client:
        page = Page(client, secret_of(await create_session(client, merchant.headers)))
        await page.post("details", **DETAILS)
        await page.verify()
        for amount in ("4.99", "50.01"):
            response = await page.post("amount", amount=amount)
            assert "from $5.00 to $50.00" in error_of(response)
        assert step_of(await page.post("amount", amount="50")) == "Payment"


@pytest.mark.parametrize(
    ("card", "field_message"),
    [
        ({**GOOD_CARD, "card_number": "4242 4242 4242 4241"}, "valid card number"),
        ({**GOOD_CARD, "card_number": "4242"}, "valid card number"),
        ({**GOOD_CARD, "card_expiry": "13 / 30"}, "MM / YY"),
        ({**GOOD_CARD, "card_expiry": "01 / 20"}, "expired"),
        ({**GOOD_CARD, "card_cvc": "12"}, "security code"),
        ({**GOOD_CARD, "card_number": "5555 5555 5555 4444"}, "test card"),
        (DECLINED_CARD, "Your card was declined."),
        (NO_FUNDS_CARD, "insufficient funds"),
    ],
)
async def test_bad_or_refused_cards_change_nothing(client, merchant, db, card, field_message):
    page = await _at_pay_step(client, merchant)
    response = await page.post("pay", **card)
    assert response.status_code in (400, 402)
    assert field_message in error_of(response)
    assert 'name="card_number" type="text" value=""' in response.text  # never echoed
    assert 'name="card_cvc" type="text" value=""' in response.text
    assert step_of(await page.get()) == "Payment"
    assert await ledger_entries(db) == 0
    async with db.read() as session:
        assert (await session.execute(select(Wallet.balance))).scalar_one() == 0
    # ... and the next card works.
    done = await page.post("pay", **GOOD_CARD)
    assert step_of(done) == "Payment complete"
    assert len(succeeded_charges(billing_of(client).sandbox)) == 1


async def test_decline_then_success_uses_a_new_idempotency_key(client, merchant, db):
    page = await _at_pay_step(client, merchant)
    await page.post("pay", **DECLINED_CARD)
    await page.post("pay", **GOOD_CARD)
    async with db.read() as session:
        rows = (await session.execute(select(Payment).order_by(Payment.created_at))).scalars().all()
    assert [(p.status, p.idempotency_key.rsplit(":", 2)[1:]) for p in rows] == [
        ("failed", ["pay", "1"]),
        ("succeeded", ["pay", "2"]),
    ]


async def test_wrong_codes_use_up_tries_then_need_a_new_code(client, merchant, clock):
    page = Page(client, secret_of(await create_session(client, merchant.headers)))
    await page.post("details", **DETAILS)
    right = await page.code()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    malformed = await page.post("verify", code="12345")
    assert "6-digit code" in error_of(malformed)
    for left in (4, 3, 2, 1):
        response = await page.post("verify", code=wrong)
        assert response.status_code == 400
        assert f"{left} {'try' if left == 1 else 'tries'} left" in error_of(response)
    assert "last try" in error_of(await page.post("verify", code=wrong))
    # Even the right code is refused now.
    assert "Too many wrong tries" in error_of(await page.post("verify", code=right))
    assert "wait" in error_of(await page.post("send_code")).lower()
    clock.advance(seconds=31)
    assert step_of(await page.post("send_code")) == "Confirm your phone"
    new = await page.code()
    assert step_of(await page.post("verify", code=new)) == "How much would you like to add?"


async def test_codes_expire_after_ten_minutes(client, merchant, clock):
    page = Page(client, secret_of(await create_session(client, merchant.headers)))
    await page.post("details", **DETAILS)
    code = await page.code()
    clock.advance(minutes=10)
    assert "expired" in error_of(await page.post("verify", code=code))
    await page.post("send_code")
    assert step_of(await page.verify()) == "How much would you like to add?"


async def test_at_most_five_codes_per_session(client, merchant, clock):
    page = Page(client, secret_of(await create_session(client, merchant.headers)))
    await page.post("details", **DETAILS)
    for _ in range(4):
        clock.advance(seconds=31)
        await page.post("send_code")
    clock.advance(seconds=31)
    assert "Too many codes" in error_of(await page.post("send_code"))
    assert len(sent_codes(client)) == 5


async def test_change_phone_goes_back_to_details(client, merchant):
    page = Page(client, secret_of(await create_session(client, merchant.headers)))
    await page.post("details", **DETAILS)
    assert step_of(await page.post("change_phone")) == "Your details"
    await page.post("details", **{**DETAILS, "phone": "+44 20 7946 0958"})
    assert "•••• 0958" in (await page.get()).text


async def test_expired_session_says_so_and_takes_nothing(client, merchant, clock, db):
    page = await _at_pay_step(client, merchant)
    clock.advance(hours=24)
    shown = await page.get()
    assert shown.status_code == 410 and step_of(shown) == "This checkout has expired"
    refused = await page.post("pay", **GOOD_CARD)
    assert refused.status_code == 410 and "expired" in error_of(refused)
    assert await ledger_entries(db) == 0
    assert billing_of(client).sandbox.charges == {}


async def test_double_submits_charge_once(client, merchant, db):
    page = await _at_pay_step(client, merchant)
    responses = await asyncio.gather(*(page.post("pay", **GOOD_CARD) for _ in range(6)))
    assert all(r.status_code == 200 for r in responses), [r.status_code for r in responses]
    assert step_of(await page.get()) == "Payment complete"
    assert len(succeeded_charges(billing_of(client).sandbox)) == 1
    async with db.read() as session:
        assert (await session.execute(select(Wallet.balance))).scalar_one() == Decimal(20)
        assert (await session.execute(select(func.count()).select_from(Payment))).scalar_one() == 1
    # And after completion, a resubmit does nothing.
    assert step_of(await page.post("pay", **GOOD_CARD)) == "Payment complete"
    assert (await ledger_check(db)).problems == []
    assert await ledger_entries(db) == 2


async def test_a_charge_with_no_answer_is_retried_with_the_same_key(client, merchant, db):
    page = await _at_pay_step(client, merchant)
    sandbox = billing_of(client).sandbox
    real_charge = sandbox.charge
    keys: list[str] = []

    async def flaky(**kwargs):
        keys.append(kwargs["idempotency_key"])
        result = await real_charge(**kwargs)  # the card network charged...
        if len(keys) == 1:
            raise ConnectionError("...but the answer was lost")
        return result

    sandbox.charge = flaky  # type: ignore[method-assign]
    first = await page.post("pay", **GOOD_CARD)
    assert first.status_code == 402 and "try again" in error_of(first)
    assert step_of(await page.get()) == "Payment"
    assert "being processed" in (await page.get()).text
    async with db.read() as session:
        assert (await session.execute(select(Wallet.balance))).scalar_one() == 0
    done = await page.post("pay")  # "Check payment": no card fields needed
    assert step_of(done) == "Payment complete"
    assert keys[0] == keys[1]
    assert len(succeeded_charges(sandbox)) == 1
    async with db.read() as session:
        assert (await session.execute(select(Wallet.balance))).scalar_one() == Decimal(20)


async def test_worker_finishes_a_payment_whose_request_died(
    client, merchant, db, clock, monkeypatch
):
    page = await _at_pay_step(client, merchant)
    real_settle = flow.settle

    async def dies(*args, **kwargs):
        raise RuntimeError("the process died after charging")

    monkeypatch.setattr(flow, "settle", dies)
    died = await page.post("pay", **GOOD_CARD)
    assert died.status_code == 500 and died.json()["error"]["code"] == "internal_error"
    monkeypatch.setattr(flow, "settle", real_settle)
    billing = billing_of(client)
    assert len(succeeded_charges(billing.sandbox)) == 1
    assert (await run_once(billing, clock.now)).payments_processed == 0  # not yet its turn
    report = await run_once(billing, clock.advance(minutes=3))
    assert report.payments_processed == 1
    assert step_of(await page.get()) == "Payment complete"
    assert len(succeeded_charges(billing.sandbox)) == 1
    async with db.read() as session:
        assert (await session.execute(select(Wallet.balance))).scalar_one() == Decimal(20)
    assert (await ledger_check(db)).problems == []


async def test_topup_with_the_code_to_the_phone_on_file(client, merchant, db):
    con = await make_connection(client, merchant.headers, balance="3", phone="+14155550199")
    session = await create_session(
        client, merchant.headers, "topup", connection_id=con["connection_id"]
    )
    page = Page(client, secret_of(session))
    first = await page.get()
    assert step_of(first) == "Confirm your phone" and "•••• 0199" in first.text
    assert "Use a different phone number" not in first.text
    await page.post("send_code")
    await page.verify()
    await page.post("amount", amount="7")
    done = await page.post("pay", **GOOD_CARD)
    assert step_of(done) == "Payment complete" and "$10.00" in done.text
    assert await balance(client, merchant.headers, con["connection_id"]) == Decimal(10)
    fetched = (
        await client.get(
            f"/v1/checkout_sessions/{session['checkout_session_id']}", headers=merchant.headers
        )
    ).json()
    assert fetched["connection_id"] == con["connection_id"]
    assert (await ledger_check(db)).problems == []


async def test_subscription_for_a_new_customer(client, merchant, db):
    config = await create_config(client, merchant.headers, amount="20", name="Pro")
    session = await create_session(
        client,
        merchant.headers,
        "subscription",
        subscription_config_id=config["subscription_config_id"],
        reference_id="sub-1",
    )
    page = Page(client, secret_of(session))
    await page.post("details", **DETAILS)
    plan = await page.verify()
    assert step_of(plan) == "Subscribe"
    assert "Pro" in plan.text and "$20.00" in plan.text and "Pay $20.00" in plan.text
    done = await page.post("pay", **GOOD_CARD)
    assert step_of(done) == "You are subscribed"
    subs = (await client.get("/v1/active-subscriptions", headers=merchant.headers)).json()
    assert len(subs) == 1
    sub = subs[0]
    assert sub["status"] == "active"
    assert sub["subscription_config"] == config
    assert sub["wallet"]["active_balance"] == "20.0000000000"
    fetched = (
        await client.get(
            f"/v1/checkout_sessions/{session['checkout_session_id']}", headers=merchant.headers
        )
    ).json()
    assert sub["connection_id"] == fetched["connection_id"]
    con = await connection(client, merchant.headers, fetched["connection_id"])
    assert con["reference_id"] == "sub-1"
    assert con["previous_usage_reset"] == sub["current_period_start"] == sub["started_at"]
    assert con["next_usage_reset"] == sub["current_period_end"]
    assert (await ledger_check(db)).problems == []


async def test_subscription_with_a_connection_asks_only_the_code(client, merchant):
    config = await create_config(client, merchant.headers)
    con = await make_connection(client, merchant.headers, phone="+14155550111")
    session = await create_session(
        client,
        merchant.headers,
        "subscription",
        subscription_config_id=config["subscription_config_id"],
        connection_id=con["connection_id"],
    )
    page = Page(client, secret_of(session))
    assert step_of(await page.get()) == "Confirm your phone"
    await page.post("send_code")
    assert step_of(await page.verify()) == "Subscribe"
    assert step_of(await page.post("pay", **GOOD_CARD)) == "You are subscribed"
    # A second subscription for the same wallet is refused, before any charge.
    response = await client.post(
        "/v1/checkout_sessions",
        json={
            "checkout_mode": "subscription",
            "origin_url": ORIGIN,
            "subscription_config_id": config["subscription_config_id"],
            "connection_id": con["connection_id"],
        },
        headers=merchant.headers,
    )
    assert response.status_code == 409


async def test_second_subscription_by_phone_is_refused_on_the_page(client, merchant):
    config = await create_config(client, merchant.headers)
    for expected in ("You are subscribed", "Subscribe"):
        session = await create_session(
            client,
            merchant.headers,
            "subscription",
            subscription_config_id=config["subscription_config_id"],
        )
        page = Page(client, secret_of(session))
        await page.post("details", **DETAILS)
        shown = await page.verify()
        if expected == "Subscribe":
            assert "already has an active subscription" in shown.text
            refused = await page.post("pay", **GOOD_CARD)
            assert refused.status_code == 409 and "already has an active subscription" in error_of(
                refused
            )
        else:
            assert step_of(await page.post("pay", **GOOD_CARD)) == expected
    assert len(succeeded_charges(billing_of(client).sandbox)) == 1


async def test_autopay_is_turned_on_at_payment(client, merchant):
    page = await _at_pay_step(client, merchant)
    refused = await page.post(
        "pay", **GOOD_CARD, autopay="on", autopay_threshold="5", autopay_amount="0.5"
    )
    assert "from $1.00" in error_of(refused)
    await page.post("pay", **GOOD_CARD, autopay="on", autopay_threshold="5", autopay_amount="15")
    fetched = (await client.get("/v1/checkout_sessions", headers=merchant.headers)).json()["data"][
        0
    ]
    wallet = (await connection(client, merchant.headers, fetched["connection_id"]))["wallet"]
    assert wallet["autopay_enabled"] is True
    assert wallet["autopay_threshold"] == "5.0000000000"
    assert wallet["autopay_amount"] == "15.0000000000"


async def test_unknown_link_and_bad_posts(client, merchant):
    missing = await client.get("/embed/checkout/css_test_" + "x" * 43)
    assert missing.status_code == 404 and "not valid" in missing.text
    assert missing.headers["content-security-policy"].endswith("frame-ancestors 'none'")
    assert (await client.get("/embed/checkout/whatever")).status_code == 404
    page = Page(client, secret_of(await create_session(client, merchant.headers)))
    as_json = await client.post(page.path, json={"action": "details"})
    assert as_json.status_code == 415 and "submit the form" in error_of(as_json)
    unknown = await client.post(page.path, data={"action": "refund"})
    assert unknown.status_code == 400 and "Unknown action" in error_of(unknown)
    # An action of another step does nothing and shows the current step.
    assert step_of(await page.post("pay", **GOOD_CARD)) == "Your details"
    assert step_of(await page.post("amount", amount="10")) == "Your details"


async def test_static_files_are_served(client):
    css = await client.get("/embed/static/checkout.css")
    js = await client.get("/embed/static/checkout.js")
    assert css.status_code == js.status_code == 200
    assert "lava_checkout_cancel" in js.text


async def test_two_checkouts_of_one_new_phone_make_one_wallet(client, merchant, db):
    pages = [
        Page(client, secret_of(await create_session(client, merchant.headers))) for _ in range(3)
    ]
    for page in pages:
        await page.post("details", **DETAILS)
    codes = [await page.code() for page in pages]
    await asyncio.gather(*(page.post("verify", code=c) for page, c in zip(pages, codes)))
    await asyncio.gather(*(page.post("amount", amount="5") for page in pages))
    await asyncio.gather(*(page.post("pay", **GOOD_CARD) for page in pages))
    async with db.read() as session:
        [wallet] = (await session.execute(select(Wallet))).scalars().all()
    assert wallet.balance == Decimal(15)
    assert (await ledger_check(db)).problems == []


async def test_a_top_up_past_the_range_of_money_charges_nothing(client, merchant, db):
    con = await make_connection(client, merchant.headers, balance="99999995", phone="+14155550198")
    session = await create_session(
        client, merchant.headers, "topup", connection_id=con["connection_id"]
    )
    page = Page(client, secret_of(session))
    await page.post("send_code")
    await page.verify()
    await page.post("amount", amount="7")
    refused = await page.post("pay", **GOOD_CARD)
    assert refused.status_code == 409
    assert "at most $100,000,000.00" in error_of(refused)
    assert await balance(client, merchant.headers, con["connection_id"]) == Decimal(99999995)
    assert billing_of(client).sandbox.charges == {}  # type: ignore[attr-defined]
    async with db.read() as session:
        assert (await session.execute(select(func.count()).select_from(Payment))).scalar_one() == 0
    assert (await ledger_check(db)).problems == []
