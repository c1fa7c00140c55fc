"""The Stripe provider for live merchants: PaymentIntents through the official `stripe` library,
confirmed at once on the saved payment method, with our idempotency key as Stripe's.

A saved method is `"<customer id> <payment method id>"`. A live checkout's card is collected by
Stripe.js on the page and confirmed there (`stripe_checkout`, `checkout.live_payments`); cards
typed into our own forms are refused (`save_card`). Charging saved methods (renewals, autopay)
works. `refund` creates a Refund of the PaymentIntent (the `provider_payment_id`) with our
idempotency key as Stripe's. Only a live secret key (`sk_live_`, `rk_live_`) serves live
objects: with a test key Stripe's test cards succeed, which must never fund a live wallet.
"""

from __future__ import annotations

from decimal import Decimal

import stripe as stripe_sdk

from lava_server.payments.interface import (
    Card,
    CardRefused,
    ChargeResult,
    Outcome,
    RefundResult,
    SavedCard,
    WrongMode,
    to_cents,
)
from lava_server.payments.stripe_checkout import StripeCheckout
from lava_server.settings import Settings

API_BASE = "https://api.stripe.com"
JS_URL = "https://js.stripe.com/v3/"


class StripePayments(StripeCheckout):
    name = "stripe"
    collects_cards = True  # Stripe.js on the page (`checkout.live_payments`)

    def __init__(
        self,
        secret_key: str,
        *,
        client: stripe_sdk.StripeClient | None = None,
        api_base: str = API_BASE,
        publishable_key: str = "",
        webhook_secret: str = "",
        js_url: str = JS_URL,
    ) -> None:
        self.live = secret_key.startswith(("sk_live_", "rk_live_"))
        self.api_base = api_base.rstrip("/")
        self.publishable_key = publishable_key
        self.webhook_secret = webhook_secret
        self.js_url = js_url
        self.client = client or stripe_sdk.StripeClient(
            secret_key,
            base_addresses={"api": self.api_base},
            http_client=stripe_sdk.HTTPXClient(allow_sync_methods=False),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> StripePayments:
        return cls(
            settings.stripe_secret_key,
            api_base=settings.stripe_api_base,
            publishable_key=settings.stripe_publishable_key,
            webhook_secret=settings.stripe_webhook_secret,
            js_url=settings.stripe_js_url,
        )

    def _check_mode(self, livemode: bool) -> None:
        if livemode != self.live:
            mode = "live" if self.live else "test"
            raise WrongMode(f"the stripe provider has a {mode} key and serves {mode} objects only")

    async def save_card(self, card: Card, *, customer_ref: str, livemode: bool) -> SavedCard:
        # Live cards are collected by Stripe.js on the page, never typed into our forms.
        raise CardRefused(
            "Card details typed into this page are not accepted here. Please contact the shop."
        )

    async def charge(
        self,
        *,
        amount: Decimal,
        provider_method_id: str,
        customer_ref: str,
        idempotency_key: str,
        description: str,
        off_session: bool,
        livemode: bool,
    ) -> ChargeResult:
        self._check_mode(livemode)
        customer, _, method = provider_method_id.partition(" ")
        try:
            intent = await self.client.v1.payment_intents.create_async(
                {
                    "amount": to_cents(amount),
                    "currency": "usd",
                    "customer": customer,
                    "payment_method": method,
                    "confirm": True,
                    "off_session": off_session,
                    "description": description,
                    "metadata": {"lava_wallet_id": customer_ref},
                },
                {"idempotency_key": idempotency_key},
            )
        except stripe_sdk.CardError as error:
            return ChargeResult(
                Outcome.DECLINED,
                failure_code=error.code or "card_declined",
                message=error.user_message or "Your card was declined.",
            )
        except (stripe_sdk.InvalidRequestError, stripe_sdk.AuthenticationError) as error:
            # Our request is wrong, not the network: retrying would not help.
            return ChargeResult(
                Outcome.DECLINED,
                failure_code=error.code or "invalid_request",
                message="The payment could not be made.",
            )
        except stripe_sdk.StripeError:
            return ChargeResult(Outcome.RETRY, message="The payment provider did not answer.")
        if intent.status == "succeeded":
            return ChargeResult(Outcome.SUCCEEDED, provider_payment_id=intent.id)
        if intent.status in ("processing", "requires_capture"):
            return ChargeResult(Outcome.RETRY, provider_payment_id=intent.id)
        needs_customer = intent.status == "requires_action"  # 3-D Secure, off session
        return ChargeResult(
            Outcome.DECLINED,
            provider_payment_id=intent.id,
            failure_code="authentication_required" if needs_customer else intent.status,
            message="Your card needs a confirmation this checkout cannot ask for.",
        )

    async def refund(
        self, *, provider_payment_id: str, amount: Decimal, idempotency_key: str, livemode: bool
    ) -> RefundResult:
        self._check_mode(livemode)
        try:
            refund = await self.client.v1.refunds.create_async(
                {
                    "payment_intent": provider_payment_id,
                    "amount": to_cents(amount),
                    # Stripe's `charge.refunded` webhook carries it back: the refund is then
                    # matched to ours (`wallets.operations.book_provider_refund`), not booked twice.
                    "metadata": {"lava_idempotency_key": idempotency_key},
                },
                {"idempotency_key": idempotency_key},
            )
        except (stripe_sdk.InvalidRequestError, stripe_sdk.AuthenticationError) as error:
            # Refused (more than is left of the charge, a disputed charge...): final.
            return RefundResult(
                Outcome.DECLINED,
                failure_code=error.code or "invalid_request",
                message=(error.user_message or "The payment provider refused the refund.")[:255],
            )
        except stripe_sdk.StripeError:
            return RefundResult(Outcome.RETRY, message="The payment provider did not answer.")
        # `pending`: Stripe accepted it and sends the money back; the rare later failure comes
        # as a `refund.failed` / `charge.refund.updated` webhook (not handled here). Asking again
        # with the same key would only replay this answer.
        if refund.status in ("succeeded", "pending", "requires_action"):
            return RefundResult(Outcome.SUCCEEDED, provider_refund_id=refund.id)
        return RefundResult(
            Outcome.DECLINED,
            provider_refund_id=refund.id,
            failure_code=refund.failure_reason or refund.status or "failed",
            message="The payment provider could not refund the payment.",
        )
