"""`POST /v1/stripe/webhook`: Stripe's signed events (`docs/checkout-and-wallets.md#live-payments`).

The raw body is verified with `stripe.Webhook.construct_event` (tolerance 5 minutes): a bad
signature is 400 and changes nothing. `payment_intent.succeeded` of a live checkout settles it
(`live_payments.confirm`, which reads the PaymentIntent again); `charge.refunded` (a refund made
in Stripe's dashboard, or one of ours) books the charge's refunds once each
(`live_payments.record_refunds`, which reads them again); `charge.dispute.created` freezes the
wallet the disputed payment funded and `charge.dispute.closed` closes the dispute (a lost one
debits the wallet; `live_payments.record_dispute`, which reads the dispute again);
`payment_method.detached` stops charging that card (`live_payments.record_detached`, which reads
it again); other events are acknowledged.
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
        event = provider.verified_event(payload, request.headers.get("stripe-signature", ""))
    except BadSignature as bad:
        return _error(400, "invalid_signature", f"The Stripe-Signature is not valid: {bad}")
    kind = event.get("type")
    found = (event.get("data") or {}).get("object") or {}
    object_id = found.get("id") if isinstance(found, dict) else None
    try:
        if kind == "payment_intent.succeeded" and object_id:
            await live_payments.confirm(billing, str(object_id), billing.now())
        elif kind == "charge.refunded" and object_id:
            await live_payments.record_refunds(billing, str(object_id), billing.now())
        elif kind in ("charge.dispute.created", "charge.dispute.closed") and object_id:
            await live_payments.record_dispute(billing, str(object_id), billing.now())
        elif kind == "payment_method.detached" and object_id:
            await live_payments.record_detached(billing, str(object_id), billing.now())
    except stripe_sdk.StripeError:
        log.exception(
            "reading %s %s from Stripe failed; Stripe will send it again", kind, object_id
        )
        return _error(503, "provider_unavailable", "Stripe did not answer; try again.")
    return JSONResponse({"received": True})
