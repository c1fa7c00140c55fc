"""The Stripe provider's refunds against a fake of Stripe's HTTP API (respx; no network): one
idempotent Refund of the PaymentIntent, refusals and unknown outcomes told apart, and only
objects of its key's mode."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from lava_server.payments.interface import Outcome, WrongMode
from lava_server.payments.stripe import StripePayments

REFUNDS = "https://api.stripe.com/v1/refunds"
LIVE_KEY = "sk_live_x"


async def refund(provider: StripePayments, amount: str = "7.25", *, livemode: bool = True):
    return await provider.refund(
        provider_payment_id="pi_1",
        amount=Decimal(amount),
        idempotency_key="refund:re_1",
        livemode=livemode,
    )


@respx.mock
async def test_a_refund_is_one_idempotent_stripe_refund():
    route = respx.post(REFUNDS).mock(
        return_value=httpx.Response(
            200, json={"id": "re_s1", "object": "refund", "status": "succeeded"}
        )
    )
    result = await refund(StripePayments(LIVE_KEY))
    assert (result.outcome, result.provider_refund_id) == (Outcome.SUCCEEDED, "re_s1")
    [call] = route.calls
    assert call.request.headers["Idempotency-Key"] == "refund:re_1"
    form = parse_qs(call.request.content.decode())
    assert form["payment_intent"] == ["pi_1"] and form["amount"] == ["725"]
    assert form["metadata[lava_idempotency_key]"] == ["refund:re_1"]


@respx.mock
async def test_a_pending_stripe_refund_counts_as_made():
    respx.post(REFUNDS).mock(
        return_value=httpx.Response(
            200, json={"id": "re_s2", "object": "refund", "status": "pending"}
        )
    )
    result = await refund(StripePayments(LIVE_KEY))
    assert (result.outcome, result.provider_refund_id) == (Outcome.SUCCEEDED, "re_s2")


@respx.mock
async def test_a_refusal_is_final_and_an_outage_is_unknown():
    respx.post(REFUNDS).mock(
        return_value=httpx.Response(
            400,
            json={
                "error": {
                    "type": "invalid_request_error",
                    "code": "charge_already_refunded",
                    "message": "Charge pi_1 has already been refunded.",
                }
            },
        )
    )
    result = await refund(StripePayments(LIVE_KEY))
    assert (result.outcome, result.failure_code) == (Outcome.DECLINED, "charge_already_refunded")
    respx.post(REFUNDS).mock(
        return_value=httpx.Response(500, json={"error": {"type": "api_error"}})
    )
    provider = StripePayments(LIVE_KEY)
    provider.client = provider.client  # the library retries 5xx itself, then gives up
    assert (await refund(provider)).outcome is Outcome.RETRY


async def test_a_test_key_refunds_no_live_payment():
    with pytest.raises(WrongMode):
        await refund(StripePayments("sk_test_x"), livemode=True)
    with pytest.raises(WrongMode):
        await refund(StripePayments(LIVE_KEY), livemode=False)
