"""`POST /v1/stripe/webhook`: Stripe's signed events (`docs/checkout-and-wallets.md#live-payments`).

The raw body is verified with `stripe.Webhook.construct_event` (tolerance 5 minutes): a bad
signature is 400 and changes nothing. `payment_intent.succeeded` of a live checkout settles it
(`live_payments.confirm`, which reads the PaymentIntent again); other events are acknowledged.
"""

from __future__ import annotations

import logging

import stripe as stripe_sdk
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from lava_server.checkout import live_payments
from lava_server.payments.context import Billing, get_billing
from lava_server.payments.stripe_checkout import BadSignature

log = logging.getLogger("lava_server.checkout")

router = APIRouter(prefix="/v1/stripe", include_in_schema=False)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"type": "invalid_request_error", "code": code, "message": message}},
        status_code=status,
    )


@router.post("/webhook")
async def stripe_webhook(request: Request, billing: Billing = Depends(get_billing)) -> JSONResponse:
    provider = live_payments.stripe_of(billing)
    if provider is None:
        return _error(404, "not_found", "The Stripe provider is not configured on this server.")
    payload = await request.body()
    try:
        intent_id = provider.succeeded_intent_id(
            payload, request.headers.get("stripe-signature", "")
        )
    except BadSignature as bad:
        return _error(400, "invalid_signature", f"The Stripe-Signature is not valid: {bad}")
    if intent_id is not None:
        try:
            await live_payments.confirm(billing, intent_id, billing.now())
        except stripe_sdk.StripeError:
            log.exception("reading PaymentIntent %s failed; Stripe will send it again", intent_id)
            return _error(503, "provider_unavailable", "Stripe did not answer; try again.")
    return JSONResponse({"received": True})
