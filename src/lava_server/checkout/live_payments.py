"""Live checkouts paid through Stripe (`docs/checkout-and-wallets.md#live-payments`).

The page's payment step creates a PaymentIntent (amount in cents, the wallet's Stripe customer,
`setup_future_usage=off_session` so the card is saved for renewals and autopay, the checkout
session's id in its metadata) and Stripe.js confirms it in the customer's browser: card details
never reach this server. The session is completed only when Stripe confirms the payment, by
whichever comes first of the webhook `payment_intent.succeeded` and the page's return (both read
the PaymentIntent again with the secret key, so neither trusts what it was sent). Each
PaymentIntent is one payment record whose idempotency key is `stripe:<PaymentIntent id>` (keys are
unique): it is created and settled in one transaction holding the session's and the wallet's
locks, through `flow.settle_locked`, so a PaymentIntent credits the wallet at most once however
many confirmations arrive together.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import stripe as stripe_sdk
from sqlalchemy.exc import IntegrityError

from lava_server.checkout import flow, repository
from lava_server.checkout.flow import Step, View
from lava_server.checkout.forms import FormError, dollars
from lava_server.payments import repository as payment_records
from lava_server.payments import service as payments
from lava_server.payments.context import Billing
from lava_server.payments.interface import ChargeResult, Outcome
from lava_server.payments.repository import CHECKOUT
from lava_server.payments.stripe_checkout import CheckoutIntent, ProviderRefund, StripeCheckout
from lava_server.pricing import MAX_AMOUNT
from lava_server.wallets import operations
from lava_server.wallets import repository as wallets
from lava_server.wallets.ledger import lock_wallet

log = logging.getLogger("lava_server.checkout")


@dataclass(frozen=True)
class PageIntent:
    """What the page's payment step gives Stripe.js."""

    client_secret: str
    publishable_key: str
    js_url: str


def stripe_of(billing: Billing) -> StripeCheckout | None:
    provider = billing.live
    return provider if isinstance(provider, StripeCheckout) else None


async def intent_for_page(billing: Billing, view: View) -> PageIntent | None:
    """The PaymentIntent of a live session at its payment step (None when there is nothing to
    pay now). The same attempt and amount give the same PaymentIntent (Stripe's idempotency)."""
    checkout = view.checkout
    provider = stripe_of(billing)
    if (
        provider is None
        or not checkout.livemode
        or view.step is not Step.PAY
        or view.processing
        or view.already_subscribed
        or checkout.wallet_id is None
    ):
        return None
    async with billing.db.read() as session:
        amount = checkout.amount
        if checkout.mode == "subscription":
            amount = await flow._subscription_amount(session, checkout)
        elif checkout.mode == "credit_bundle":
            amount = (await flow._bundle_bought(session, checkout))[0].cost
        saved = await payment_records.latest_method(session, checkout.wallet_id)
        wallet = await wallets.get_wallet(session, checkout.wallet_id)
    if amount is None:  # a downgrade: nothing to charge now (not offered on live pages yet)
        return None
    if wallet is not None and wallet.balance + amount > MAX_AMOUNT:  # as `flow.pay` checks
        raise FormError(
            f"This wallet can hold at most {dollars(MAX_AMOUNT)}; it holds "
            f"{dollars(wallet.balance)} already. Nothing was charged.",
            status=409,
        )
    customer = None
    if saved is not None and saved.provider == "stripe":
        customer = saved.provider_method_id.partition(" ")[0]
    try:
        if customer is None:
            customer = await provider.customer_for(checkout.wallet_id, checkout.email)
        intent = await provider.create_checkout_intent(
            amount=amount,
            customer=customer,
            checkout_session_id=checkout.id,
            wallet_id=checkout.wallet_id,
            idempotency_key=f"{checkout.id}:intent:{checkout.payment_attempts}:{amount}",
            description=f"Lava wallet checkout {checkout.id}",
        )
    except stripe_sdk.StripeError:
        log.exception("creating the PaymentIntent of checkout %s failed", checkout.id)
        raise FormError(
            "The payment provider did not answer. Please reload this page in a moment; "
            "nothing was charged.",
            status=503,
        ) from None
    return PageIntent(intent.client_secret, getattr(provider, "publishable_key", ""), _js(provider))


def _js(provider: StripeCheckout) -> str:
    return str(getattr(provider, "js_url", "https://js.stripe.com/v3/"))


async def confirm(billing: Billing, intent_id: str, now: datetime) -> CheckoutIntent | None:
    """Read the PaymentIntent from Stripe and, when it succeeded, settle its checkout (once).
    None when it is not a PaymentIntent of a live checkout of this server."""
    provider = stripe_of(billing)
    if provider is None:
        return None
    intent = await provider.retrieve_checkout_intent(intent_id)
    if intent.checkout_session_id is None or intent.livemode != provider.live:
        return None
    if intent.status == "succeeded":
        for attempt in range(2):
            try:
                await _settle(billing, intent, now)
                break
            except IntegrityError:  # the same PaymentIntent recorded at the same moment
                if attempt:
                    raise
    return intent


async def _settle(billing: Billing, intent: CheckoutIntent, now: datetime) -> None:
    key = f"stripe:{intent.id}"
    async with billing.db.write() as session:
        assert intent.checkout_session_id is not None
        checkout = await repository.lock_if_there(session, intent.checkout_session_id)
        if checkout is None or not checkout.livemode or checkout.wallet_id is None:
            log.warning("PaymentIntent %s names no live checkout of ours", intent.id)
            return
        await lock_wallet(session, checkout.wallet_id)
        payment = await payment_records.lock_payment_by_key(session, key)
        if payment is None:
            if intent.card is None:
                log.warning("PaymentIntent %s succeeded without a card", intent.id)
                return
            method = payments.save_method(checkout.wallet_id, True, "stripe", intent.card, now)
            await payment_records.add_method(session, method)
            checkout.payment_attempts += 1
            payment = payments.new_payment(
                purpose=CHECKOUT,
                idempotency_key=key,
                method=method,
                amount=intent.amount_received,
                merchant_id=checkout.merchant_id,
                now=now,
                next_attempt_at=now,
                checkout_session_id=checkout.id,
            )
            await payment_records.add_payment(session, payment)
        result = ChargeResult(Outcome.SUCCEEDED, provider_payment_id=intent.id)
        await flow.settle_locked(billing, session, checkout, payment, result, now)


async def record_refunds(billing: Billing, charge_id: str, now: datetime) -> int:
    """Stripe's `charge.refunded`: book each refund of the charge that Stripe has (read again
    with the secret key) against the payment of its PaymentIntent, once per Stripe refund id
    (`wallets.operations.book_provider_refund`: the wallet is debited, even below zero, since
    the money has left; a refund Lava asked for is settled, not booked twice). Returns how many
    refunds were booked now."""
    provider = stripe_of(billing)
    if provider is None:
        return 0
    booked = 0
    for refund in await provider.charge_refunds(charge_id):
        for attempt in range(2):
            try:
                if await _book_refund(billing, refund, now):
                    booked += 1
                break
            except IntegrityError:  # the same refund booked by a delivery at the same moment
                if attempt:
                    raise
    return booked


async def _book_refund(billing: Billing, refund: ProviderRefund, now: datetime) -> bool:
    async with billing.db.write() as session:
        payment = await payment_records.payment_by_provider_id(
            session, "stripe", refund.payment_intent
        )
        if payment is None:
            log.warning("Stripe refund %s is of no payment of ours", refund.id)
            return False
        # The wallet first (the order of every money movement), then the refunds: deliveries
        # of one event queue here, and the later ones find the refund booked.
        await operations.lock_for_refund(session, payment.wallet_id, now)
        if await payment_records.refund_by_provider_id(session, "stripe", refund.id) is not None:
            return False
        await operations.book_provider_refund(
            session,
            payment,
            provider_refund_id=refund.id,
            amount=refund.amount,
            now=now,
            idempotency_key=refund.idempotency_key,
        )
        return True


async def record_dispute(billing: Billing, dispute_id: str, now: datetime) -> None:
    """Stripe's `charge.dispute.created` / `charge.dispute.closed`: the dispute is read again
    from Stripe; an open one freezes the wallet its payment funded, a closed one closes ours
    (lost: the wallet is debited by its amount; the wallet thaws when none is left open:
    `wallets.operations`)."""
    provider = stripe_of(billing)
    if provider is None:
        return
    dispute = await provider.dispute(dispute_id)
    for attempt in range(2):
        try:
            async with billing.db.write() as session:
                payment = await payment_records.payment_by_provider_id(
                    session, "stripe", dispute.payment_intent
                )
                if payment is None:
                    log.warning("Stripe dispute %s is of no payment of ours", dispute.id)
                    return
                await operations.open_dispute(
                    session, payment, dispute_id=dispute.id, amount=dispute.amount, now=now
                )
                if dispute.closed:
                    await operations.close_dispute(
                        session, "stripe", dispute.id, won=dispute.status == "won", now=now
                    )
            return
        except IntegrityError:  # the same dispute recorded by a delivery at the same moment
            if attempt:
                raise


async def record_detached(billing: Billing, method_id: str, now: datetime) -> int:
    """Stripe's `payment_method.detached` (a card removed in Stripe's dashboard or by the
    customer's bank): once Stripe confirms it, our saved card of it is never charged again
    (renewals and autopay take the card the wallet saved last, or go on the dunning schedule).
    Returns how many saved cards were still attached."""
    provider = stripe_of(billing)
    if provider is None or not await provider.method_detached(method_id):
        return 0
    async with billing.db.write() as session:
        return await payment_records.detach_methods(session, "stripe", f" {method_id}", now)
