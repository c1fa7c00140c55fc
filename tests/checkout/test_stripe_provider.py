"""The Stripe provider against a fake of Stripe's HTTP API (no network here): one idempotent
PaymentIntent per charge, declines and unknown outcomes told apart, and only objects of its key's
mode (a test key never charges a live wallet)."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from lava_server.payments.interface import Card, CardRefused, Outcome, WrongMode
from lava_server.payments.stripe import StripePayments

INTENTS = "https://api.stripe.com/v1/payment_intents"
LIVE_KEY = "sk_live_x"


async def charge(provider: StripePayments, amount: str = "20.50", *, livemode: bool = True):
    return await provider.charge(
        amount=Decimal(amount),
        provider_method_id="cus_123 pm_456",
        customer_ref="wal_1",
        idempotency_key="as_1:renewal:3",
        description="Lava wallet renewal",
        off_session=True,
        livemode=livemode,
    )


@respx.mock
async def test_a_charge_is_one_idempotent_payment_intent():
    route = respx.post(INTENTS).mock(
        return_value=httpx.Response(
            200, json={"id": "pi_1", "object": "payment_intent", "status": "succeeded"}
        )
    )
    result = await charge(StripePayments(LIVE_KEY))
    assert (result.outcome, result.provider_payment_id) == (Outcome.SUCCEEDED, "pi_1")
    [call] = route.calls
    assert call.request.headers["Idempotency-Key"] == "as_1:renewal:3"
    assert call.request.headers["Authorization"] == f"Bearer {LIVE_KEY}"
    form = parse_qs(call.request.content.decode())
    assert form["amount"] == ["2050"] and form["currency"] == ["usd"]
    assert form["customer"] == ["cus_123"] and form["payment_method"] == ["pm_456"]
    assert form["confirm"] == ["true"] and form["off_session"] == ["true"]
    assert form["metadata[lava_wallet_id]"] == ["wal_1"]


@respx.mock
async def test_a_card_error_is_a_decline():
    respx.post(INTENTS).mock(
        return_value=httpx.Response(
            402,
            json={
                "error": {
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": "insufficient_funds",
                    "message": "Your card has insufficient funds.",
                }
            },
        )
    )
    result = await charge(StripePayments(LIVE_KEY))
    assert result.outcome is Outcome.DECLINED
    assert result.failure_code == "card_declined"


@respx.mock
async def test_no_answer_is_retried_later_not_a_decline():
    respx.post(INTENTS).mock(side_effect=httpx.ConnectError("unreachable"))
    provider = StripePayments(LIVE_KEY)
    assert (await charge(provider)).outcome is Outcome.RETRY


@respx.mock
async def test_an_intent_needing_the_customer_is_declined():
    respx.post(INTENTS).mock(
        return_value=httpx.Response(
            200,
            json={"id": "pi_2", "object": "payment_intent", "status": "requires_action"},
        )
    )
    result = await charge(StripePayments(LIVE_KEY))
    assert result.outcome is Outcome.DECLINED
    assert result.failure_code == "authentication_required"


async def test_fractions_of_a_cent_are_refused():
    with pytest.raises(ValueError, match="cents"):
        await charge(StripePayments(LIVE_KEY), amount="1.005")


async def test_cards_cannot_be_typed_into_the_page_for_stripe():
    with pytest.raises(CardRefused):
        await StripePayments(LIVE_KEY).save_card(
            Card("4242424242424242", 12, 2034, "123"), customer_ref="wal", livemode=True
        )


@respx.mock
@pytest.mark.parametrize(
    ("key", "livemode", "live"),
    [("sk_test_x", True, False), ("rk_test_x", True, False), (LIVE_KEY, False, True)],
)
async def test_only_objects_of_the_keys_mode_are_charged(key, livemode, live):
    """With a test key Stripe's test cards succeed: such a provider must never charge a live
    wallet (nor a live key a sandbox one). It refuses before any request."""
    route = respx.post(INTENTS).mock(return_value=httpx.Response(500))
    provider = StripePayments(key)
    assert provider.live is live
    with pytest.raises(WrongMode):
        await charge(provider, livemode=livemode)
    assert not route.called


def test_only_a_live_key_is_live():
    assert StripePayments("rk_live_x").live and StripePayments(LIVE_KEY).live
    assert not StripePayments("sk_test_x").live


def test_settings_point_the_client_at_the_configured_api(monkeypatch):
    """`LAVA_STRIPE_*` settings build the provider: the fake Stripe's address in tests."""
    from lava_server.payments import live
    from lava_server.settings import Settings

    monkeypatch.setenv("LAVA_STRIPE_API_BASE", "http://127.0.0.1:12111/")
    monkeypatch.setenv("LAVA_STRIPE_PUBLISHABLE_KEY", "pk_live_x")
    monkeypatch.setenv("LAVA_STRIPE_WEBHOOK_SECRET", "whsec_x")
    settings = Settings(payment_provider="stripe", stripe_secret_key=LIVE_KEY)
    provider, _ = live.configured(settings)
    assert isinstance(provider, StripePayments)
    assert provider.api_base == "http://127.0.0.1:12111"
    assert (provider.publishable_key, provider.webhook_secret) == ("pk_live_x", "whsec_x")
    assert provider.js_url == "https://js.stripe.com/v3/"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("stripe_api_base", "api.stripe.com"),
        ("stripe_js_url", "js.stripe.com/v3"),
        ("stripe_publishable_key", "sk_live_x"),
        ("stripe_webhook_secret", "secret"),
    ],
)
def test_bad_stripe_settings_are_refused(name, value):
    from pydantic import ValidationError

    from lava_server.settings import Settings

    with pytest.raises(ValidationError, match=name):
        Settings(**{name: value})
