"""The live checkout's part of the Stripe provider: the card is collected by Stripe.js on the page
(never by our server). The page's payment step creates a PaymentIntent; the session is completed
only when Stripe confirms it: by the webhook `payment_intent.succeeded`, or the page's
server-side retrieve when the customer comes back (`checkout.live_payments`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

import stripe as stripe_sdk

from lava_server.payments.interface import SavedCard, to_cents

WEBHOOK_TOLERANCE_SECONDS = 300
CHECKOUT_METADATA = "lava_checkout_session_id"


@dataclass(frozen=True)
class CheckoutIntent:
    """A PaymentIntent of a live checkout, as Stripe says it is (read with the secret key)."""

    id: str
    client_secret: str
    status: str
    livemode: bool
    amount: Decimal  # USD
    amount_received: Decimal  # USD
    checkout_session_id: str | None
    customer: str | None
    card: SavedCard | None  # the card it was paid with, saved for renewals and autopay


@dataclass(frozen=True)
class ProviderRefund:
    """A refund of a charge as Stripe reports it (made in Stripe's dashboard, or ours)."""

    id: str
    amount: Decimal  # USD
    payment_intent: str
    idempotency_key: str | None  # ours, when Lava asked for it (`metadata.lava_idempotency_key`)


@dataclass(frozen=True)
class ProviderDispute:
    """A dispute (chargeback) as Stripe has it."""

    id: str
    amount: Decimal  # USD
    payment_intent: str
    status: str  # Stripe's: needs_response, under_review, won, lost, ...

    @property
    def closed(self) -> bool:
        return self.status in ("won", "lost")


class BadSignature(Exception):
    """A webhook whose signature, timestamp or body is not Stripe's: nothing is changed."""


def _dollars(cents: int | None) -> Decimal:
    return (Decimal(cents or 0) / 100).quantize(Decimal("0.01"))


def _checkout_intent(found: stripe_sdk.PaymentIntent) -> CheckoutIntent:
    intent: dict[str, Any] = found.to_dict()
    customer = intent.get("customer")
    if customer is not None and not isinstance(customer, str):
        customer = customer.get("id")
    method = intent.get("payment_method")
    card: SavedCard | None = None
    if method is not None and not isinstance(method, str) and customer:
        details = method.get("card") or {}
        card = SavedCard(
            provider_method_id=f"{customer} {method.get('id')}",
            brand=str(details.get("brand") or "card"),
            last4=str(details.get("last4") or ""),
            exp_month=int(details.get("exp_month") or 0),
            exp_year=int(details.get("exp_year") or 0),
        )
    metadata = intent.get("metadata") or {}
    return CheckoutIntent(
        id=str(intent.get("id")),
        client_secret=str(intent.get("client_secret") or ""),
        status=str(intent.get("status")),
        livemode=bool(intent.get("livemode")),
        amount=_dollars(intent.get("amount")),
        amount_received=_dollars(intent.get("amount_received")),
        checkout_session_id=metadata.get(CHECKOUT_METADATA),
        customer=customer,
        card=card,
    )


class StripeCheckout:
    """The live checkout's part of the Stripe provider (mixed into `StripePayments`)."""

    client: stripe_sdk.StripeClient
    live: bool
    webhook_secret: str

    async def customer_for(self, wallet_id: str, email: str | None) -> str:
        """A Stripe customer for a wallet that has none saved yet (one per wallet and day)."""
        params: dict[str, Any] = {"metadata": {"lava_wallet_id": wallet_id}}
        if email:
            params["email"] = email
        customer = await self.client.v1.customers.create_async(
            cast(Any, params), {"idempotency_key": f"customer:{wallet_id}"}
        )
        return str(customer.id)

    async def create_checkout_intent(
        self,
        *,
        amount: Decimal,
        customer: str,
        checkout_session_id: str,
        wallet_id: str,
        idempotency_key: str,
        description: str,
    ) -> CheckoutIntent:
        """A PaymentIntent the page confirms with Stripe.js; the card is saved on the customer
        (`setup_future_usage=off_session`) for renewals and autopay."""
        intent = await self.client.v1.payment_intents.create_async(
            {
                "amount": to_cents(amount),
                "currency": "usd",
                "customer": customer,
                "setup_future_usage": "off_session",
                "description": description,
                "metadata": {CHECKOUT_METADATA: checkout_session_id, "lava_wallet_id": wallet_id},
            },
            {"idempotency_key": idempotency_key},
        )
        return _checkout_intent(intent)

    async def retrieve_checkout_intent(self, intent_id: str) -> CheckoutIntent:
        """The PaymentIntent as Stripe has it now, with its payment method (raises
        `stripe.StripeError`, `InvalidRequestError` for an unknown id)."""
        intent = await self.client.v1.payment_intents.retrieve_async(
            intent_id, {"expand": ["payment_method"]}
        )
        return _checkout_intent(intent)

    def verified_event(self, payload: bytes, signature: str) -> dict[str, Any]:
        """The event Stripe signed in `payload` in the last 5 minutes; raises `BadSignature`."""
        if not self.webhook_secret:
            raise BadSignature("LAVA_STRIPE_WEBHOOK_SECRET is not set")
        try:
            event = stripe_sdk.Webhook.construct_event(
                payload, signature, self.webhook_secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
            )
        except (stripe_sdk.SignatureVerificationError, ValueError) as error:
            raise BadSignature(str(error)) from None
        data: dict[str, Any] = event.to_dict()
        return data

    async def dispute(self, dispute_id: str) -> ProviderDispute:
        """A dispute as Stripe has it now (read again, never taken from the event)."""
        found: dict[str, Any] = (await self.client.v1.disputes.retrieve_async(dispute_id)).to_dict()
        return ProviderDispute(
            id=str(found["id"]),
            amount=Decimal(int(found["amount"])) / 100,
            payment_intent=str(found.get("payment_intent") or ""),
            status=str(found.get("status") or ""),
        )

    async def method_detached(self, method_id: str) -> bool:
        """Whether Stripe has the payment method detached from every customer now (read again,
        never taken from the event)."""
        found = await self.client.v1.payment_methods.retrieve_async(method_id)
        return found.customer is None

    async def charge_refunds(self, charge_id: str) -> list[ProviderRefund]:
        """The refunds of a charge as Stripe has them now (read again, never taken from the
        event): those that succeeded or are on their way (`pending`)."""
        listed = await self.client.v1.refunds.list_async({"charge": charge_id, "limit": 100})
        found: list[ProviderRefund] = []
        for item in listed.data:
            refund: dict[str, Any] = item.to_dict()
            if refund.get("status") not in ("succeeded", "pending"):
                continue
            metadata = refund.get("metadata") or {}
            found.append(
                ProviderRefund(
                    id=str(refund["id"]),
                    amount=Decimal(int(refund["amount"])) / 100,
                    payment_intent=str(refund.get("payment_intent") or ""),
                    idempotency_key=metadata.get("lava_idempotency_key"),
                )
            )
        return found
