"""Payment records: each charge is claimed as a `pending` row whose idempotency key names the
logical charge, then charged with that key, then settled in one transaction that holds the
wallet's lock and credits the wallet only if the row was still pending. A retry, a double
submit or a second worker reuses the row and its key, so the provider charges once and the
wallet is credited once.

A live payment is only ever sent to a provider that serves live objects: otherwise it fails at
once (a final decline, `live_mode_not_configured`): a checkout shows it, a renewal ends its
subscription and an autopay top-up turns autopay off, as for any declined card."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import Payment, PaymentMethod
from lava_server.errors import LiveModeNotConfigured
from lava_server.ids import new_id
from lava_server.payments.context import Billing
from lava_server.payments.interface import ChargeResult, Outcome, SavedCard, WrongMode
from lava_server.payments.repository import CHECKOUT, FAILED, PENDING, SUCCEEDED, get_method

log = logging.getLogger("lava_server.payments")

# How long a worker leaves a pending payment to whoever is charging it before charging it too
# (with the same key, so at worst the provider answers twice with the same charge).
LEASE = timedelta(seconds=60)
# Retries of an unknown outcome: growing pauses, then it is given up as failed.
_RETRY_PAUSES = (30, 60, 300, 900, 3600)
GIVE_UP_AFTER = timedelta(hours=23)  # inside providers' 24 h idempotency window


def save_method(
    wallet_id: str, livemode: bool, provider: str, card: SavedCard, now: datetime
) -> PaymentMethod:
    return PaymentMethod(
        id=new_id("pm", livemode),
        wallet_id=wallet_id,
        livemode=livemode,
        provider=provider,
        provider_method_id=card.provider_method_id,
        brand=card.brand,
        last4=card.last4,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        created_at=now,
    )


def new_payment(
    *,
    purpose: str,
    idempotency_key: str | None,
    method: PaymentMethod,
    amount: Decimal,
    merchant_id: str | None,
    now: datetime,
    next_attempt_at: datetime,
    checkout_session_id: str | None = None,
    active_subscription_id: str | None = None,
    period_index: int | None = None,
    credit_bundle_id: str | None = None,
) -> Payment:
    """A pending payment; without an `idempotency_key` the payment is its own logical charge."""
    payment_id = new_id("pay", method.livemode)
    return Payment(
        id=payment_id,
        livemode=method.livemode,
        wallet_id=method.wallet_id,
        merchant_id=merchant_id,
        purpose=purpose,
        amount=amount,
        status=PENDING,
        provider=method.provider,
        payment_method_id=method.id,
        idempotency_key=idempotency_key or f"{purpose}:{payment_id}",
        checkout_session_id=checkout_session_id,
        active_subscription_id=active_subscription_id,
        period_index=period_index,
        credit_bundle_id=credit_bundle_id,
        attempts=0,
        next_attempt_at=next_attempt_at,
        created_at=now,
    )


@dataclass(frozen=True)
class ChargeRequest:
    """What charging a pending payment needs, read in the transaction that claimed it."""

    payment_id: str
    purpose: str
    livemode: bool
    provider: str
    amount: Decimal
    provider_method_id: str
    wallet_id: str
    idempotency_key: str
    description: str
    off_session: bool


async def charge_request(session: AsyncSession, payment: Payment) -> ChargeRequest:
    method = await get_method(session, payment.payment_method_id)
    assert method is not None
    return ChargeRequest(
        payment_id=payment.id,
        purpose=payment.purpose,
        livemode=payment.livemode,
        provider=payment.provider,
        amount=payment.amount,
        provider_method_id=method.provider_method_id,
        wallet_id=payment.wallet_id,
        idempotency_key=payment.idempotency_key,
        description=f"Lava wallet {payment.purpose} {payment.id}",
        off_session=payment.purpose != CHECKOUT,
    )


async def charge(billing: Billing, request: ChargeRequest) -> ChargeResult:
    """Ask the provider; any failure to get an answer is `Outcome.RETRY` (same key next time).
    A live payment whose provider does not serve live objects is declined without asking it."""
    try:
        provider = billing.provider_named(request.provider)
        if request.livemode and not provider.live:
            raise WrongMode(f"the {provider.name} payment provider does not serve live objects")
        return await provider.charge(
            amount=request.amount,
            provider_method_id=request.provider_method_id,
            customer_ref=request.wallet_id,
            idempotency_key=request.idempotency_key,
            description=request.description,
            off_session=request.off_session,
            livemode=request.livemode,
        )
    except WrongMode as refused:
        log.warning("payment %s refused, nothing charged: %s", request.payment_id, refused)
        return ChargeResult(
            Outcome.DECLINED,
            failure_code=LiveModeNotConfigured.code,
            message="Live payments are not configured on this server.",
        )
    except Exception:
        log.exception("charging payment %s failed; it will be retried", request.payment_id)
        return ChargeResult(Outcome.RETRY, message="The payment could not be completed right now.")


def record_outcome(payment: Payment, result: ChargeResult, now: datetime) -> None:
    """Apply a provider's answer to a pending payment the caller has locked."""
    assert payment.status == PENDING
    payment.attempts += 1
    if result.outcome is Outcome.SUCCEEDED:
        payment.status = SUCCEEDED
        payment.provider_payment_id = result.provider_payment_id
        payment.completed_at = now
    elif result.outcome is Outcome.DECLINED or now - payment.created_at >= GIVE_UP_AFTER:
        payment.status = FAILED
        payment.failure_code = result.failure_code or "processing_error"
        payment.failure_message = (result.message or "The payment failed.")[:255]
        payment.completed_at = now
    else:
        pause = _RETRY_PAUSES[min(payment.attempts, len(_RETRY_PAUSES)) - 1]
        payment.next_attempt_at = now + timedelta(seconds=pause)
