"""Grants, adjustments, refunds and the payments list: the rules, the provider call, the answers.

A refund never loses money, whatever fails where (`docs/checkout-and-wallets.md#refunds`):

1. **Reserve** (one transaction, wallet then payment locked): the payment must be a succeeded
   top-up of this merchant and mode, not refunded that far; the wallet must hold the amount. The
   refund is recorded `pending` and the wallet debited at once (`refund:<id>`: wallet →
   `refunds:pending`), so nothing can spend the money while the provider is asked.
2. **Ask the provider** with the refund's own key (`refund:<id>`), outside any transaction.
3. **Settle** (one transaction, the refund locked, only if still `pending`): refunded → `succeeded`
   (`refunds:pending` → `refunds:<provider>`); refused → `failed` and the debit given back;
   unknown → still `pending` (502: the client retries with the same `Idempotency-Key`, which finds
   the same refund and asks the provider again with the same key, so it refunds once).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.api.auth import Caller
from lava_server.connections.service import find
from lava_server.db.models import BalanceOperation, Payment, Refund, Wallet
from lava_server.errors import Conflict, InvalidRequest, NotFound, RefundFailed, UpstreamError
from lava_server.ids import new_id
from lava_server.money_ops.schemas import (
    AdjustmentCreate,
    CreditCreate,
    RefundCreate,
    RestBalanceOperation,
    RestPayment,
    RestRefund,
)
from lava_server.payments import repository as payments
from lava_server.payments.context import Billing
from lava_server.payments.interface import CENT, Outcome, RefundResult, WrongMode
from lava_server.payments.repository import PENDING, SUCCEEDED, TOP_UP_MODES
from lava_server.pricing import format_money
from lava_server.timeutil import iso, iso_or_none
from lava_server.wallets import operations
from lava_server.wallets import repository as wallets

log = logging.getLogger("lava_server.refunds")
ZERO = Decimal(0)


def render_operation(
    operation: BalanceOperation, balance: Decimal, held: Decimal
) -> RestBalanceOperation:
    return {
        "id": operation.id,
        "object": "credit" if operation.kind == operations.GRANT else "adjustment",
        "customer_id": operation.connection_id,
        "connection_id": operation.connection_id,
        "amount": format_money(operation.amount),
        "reason": operation.reason,
        "expires_at": iso_or_none(operation.expires_at),
        "wallet_balance": format_money(balance - held),
        "livemode": operation.livemode,
        "created_at": iso(operation.created_at),
    }


async def grant_credit(
    billing: Billing,
    caller: Caller,
    customer_id: str,
    params: CreditCreate,
    *,
    param: str,
    idempotency_key: str | None = None,
) -> RestBalanceOperation:
    """Credit paid by the merchant to the customer's wallet (`wallets.operations.grant`)."""
    now = billing.now()
    async with billing.db.write() as session:
        connection, wallet = await find(session, caller, customer_id, param)
        done = await _made_with(session, caller, idempotency_key, wallet)
        if done is not None:
            return done
        operation = await operations.grant(
            session,
            merchant_id=caller.merchant_id,
            connection_id=connection.id,
            wallet_id=wallet.id,
            livemode=caller.livemode,
            amount=params.amount,
            reason=params.reason,
            expires_at=params.expires_at,
            now=now,
        )
        operation.idempotency_key = idempotency_key
        await wallets.reload_wallet(session, wallet)
        return render_operation(operation, wallet.balance, wallet.held)


async def adjust(
    billing: Billing,
    caller: Caller,
    customer_id: str,
    params: AdjustmentCreate,
    *,
    param: str,
    idempotency_key: str | None = None,
) -> RestBalanceOperation:
    """A signed correction of the customer's wallet (`wallets.operations.adjust`)."""
    now = billing.now()
    async with billing.db.write() as session:
        connection, wallet = await find(session, caller, customer_id, param)
        done = await _made_with(session, caller, idempotency_key, wallet)
        if done is not None:
            return done
        operation = await operations.adjust(
            session,
            billing.settings,
            merchant_id=caller.merchant_id,
            connection_id=connection.id,
            wallet_id=wallet.id,
            livemode=caller.livemode,
            amount=params.amount,
            reason=params.reason,
            now=now,
        )
        operation.idempotency_key = idempotency_key
        await wallets.reload_wallet(session, wallet)
        return render_operation(operation, wallet.balance, wallet.held)


async def _made_with(
    session: AsyncSession, caller: Caller, idempotency_key: str | None, wallet: Wallet
) -> RestBalanceOperation | None:
    """The operation this `Idempotency-Key` already made (its first answer was lost with a
    server that died: `api/idempotency.py`), as it is now; None: not made yet."""
    if idempotency_key is None:
        return None
    done = await wallets.operation_by_key(
        session, caller.merchant_id, caller.livemode, idempotency_key
    )
    if done is None:
        return None
    await wallets.reload_wallet(session, wallet)
    return render_operation(done, wallet.balance, wallet.held)


def render_refund(refund: Refund) -> RestRefund:
    status = refund.status
    assert status in ("pending", "succeeded", "failed")
    return {
        "id": refund.id,
        "object": "refund",
        "payment_id": refund.payment_id,
        "amount": format_money(refund.amount),
        "status": status,  # type: ignore[typeddict-item]
        "provider": refund.provider,
        "provider_refund_id": refund.provider_refund_id,
        "failure_code": refund.failure_code,
        "failure_message": refund.failure_message,
        "livemode": refund.livemode,
        "created_at": iso(refund.created_at),
        "completed_at": iso_or_none(refund.completed_at),
    }


def render_payment(
    payment: Payment, connection_id: str | None, mode: str | None, refunds: Sequence[Refund]
) -> RestPayment:
    refunded = sum((r.amount for r in refunds if r.status != "failed"), ZERO)
    return {
        "id": payment.id,
        "object": "payment",
        "customer_id": connection_id,
        "connection_id": connection_id,
        "purpose": payment.purpose,
        "top_up": mode in TOP_UP_MODES,
        "amount": format_money(payment.amount),
        "amount_refunded": format_money(refunded),
        "status": payment.status,
        "provider": payment.provider,
        "provider_payment_id": payment.provider_payment_id,
        "checkout_session_id": payment.checkout_session_id,
        "failure_code": payment.failure_code,
        "failure_message": payment.failure_message,
        "refunds": [render_refund(r) for r in refunds],
        "livemode": payment.livemode,
        "created_at": iso(payment.created_at),
        "completed_at": iso_or_none(payment.completed_at),
    }


async def list_payments(
    billing: Billing, caller: Caller, cursor: str | None, limit: int, customer_id: str | None
) -> tuple[list[RestPayment], bool]:
    """A page of the merchant's payments (of one customer's wallet), newest first."""
    async with billing.db.read() as session:
        wallet_id = connection_id = None
        if customer_id is not None:
            connection, wallet = await find(session, caller, customer_id, "customer_id")
            wallet_id, connection_id = wallet.id, connection.id
        rows = await payments.payments_page(
            session, caller.merchant_id, caller.livemode, cursor, limit, wallet_id, connection_id
        )
        refunds = await payments.refunds_of(session, [row[0].id for row in rows[:limit]])
    by_payment: dict[str, list[Refund]] = {}
    for refund in refunds:
        by_payment.setdefault(refund.payment_id, []).append(refund)
    page = [
        render_payment(payment, connection_id, mode, by_payment.get(payment.id, []))
        for payment, connection_id, mode in rows[:limit]
    ]
    return page, len(rows) > limit


async def retrieve_payment(billing: Billing, caller: Caller, payment_id: str) -> RestPayment:
    async with billing.db.read() as session:
        found = await payments.payment_of(session, caller.merchant_id, caller.livemode, payment_id)
        if found is None:
            raise NotFound(f"No payment {payment_id}.", param="payment_id")
        payment, connection_id, mode = found
        refunds = await payments.refunds_of(session, [payment.id])
    return render_payment(payment, connection_id, mode, refunds)


async def retrieve_refund(billing: Billing, caller: Caller, refund_id: str) -> RestRefund:
    async with billing.db.read() as session:
        refund = await payments.get_refund(session, refund_id)
    if (
        refund is None
        or refund.merchant_id != caller.merchant_id
        or refund.livemode != caller.livemode
    ):
        raise NotFound(f"No refund {refund_id}.", param="refund_id")
    return render_refund(refund)


@dataclass(frozen=True)
class _Ask:
    """What asking the provider needs, read in the transaction that reserved the refund."""

    refund_id: str
    provider: str
    provider_payment_id: str
    amount: Decimal
    idempotency_key: str
    livemode: bool


async def _reserve(
    billing: Billing, caller: Caller, params: RefundCreate, request_key: str | None
) -> tuple[Refund, _Ask | None]:
    """Step 1: the refund recorded `pending` with the wallet debited, or the refund this
    `Idempotency-Key` started before (asked again while still pending)."""
    now = billing.now()
    async with billing.db.write() as session:
        refund: Refund | None = None
        if request_key is not None:
            refund = await payments.refund_by_request(
                session, caller.merchant_id, caller.livemode, request_key
            )
        if refund is not None and (
            refund.payment_id != params.payment_id
            or (params.amount is not None and refund.amount != params.amount)
        ):
            # Keys are the merchant's: another secret key of it used this one for another refund.
            raise Conflict(
                f"This Idempotency-Key was used for refund {refund.id} of another payment or "
                "amount; use a new key for a new refund.",
                param="Idempotency-Key",
            )
        if refund is None:
            refund = await _new_refund(session, caller, params, request_key, now)
        if refund.status != PENDING:
            return refund, None
        payment = await payments.get_payment(session, refund.payment_id)
        assert payment is not None and payment.provider_payment_id is not None
        return refund, _Ask(
            refund_id=refund.id,
            provider=refund.provider,
            provider_payment_id=payment.provider_payment_id,
            amount=refund.amount,
            idempotency_key=refund.idempotency_key,
            livemode=refund.livemode,
        )


async def _new_refund(
    session: AsyncSession,
    caller: Caller,
    params: RefundCreate,
    request_key: str | None,
    now: datetime,
) -> Refund:
    missing = NotFound(f"No payment {params.payment_id}.", param="payment_id")
    first = await payments.get_payment(session, params.payment_id)
    if first is None or first.merchant_id != caller.merchant_id:
        raise missing
    if first.livemode != caller.livemode:
        raise missing
    # The wallet first, then the payment: the order the payment's settlement takes them in.
    await operations.lock_for_refund(session, first.wallet_id, now)
    payment = await payments.lock_payment(session, first.id)
    assert payment is not None
    if payment.status != SUCCEEDED or payment.provider_payment_id is None:
        raise InvalidRequest(
            f"payment_id: payment {payment.id} is {payment.status}; only a succeeded payment can "
            "be refunded.",
            param="payment_id",
        )
    if not await payments.is_top_up(session, payment):
        raise InvalidRequest(
            f"payment_id: payment {payment.id} ({payment.purpose}) is not a wallet top-up; only "
            "top-ups (onboarding and topup checkouts) are refunded here.",
            param="payment_id",
        )
    left = payment.amount - await payments.refunded_total(session, payment.id)
    amount = left if params.amount is None else params.amount
    if params.amount is not None and (amount <= 0 or amount % CENT != 0):
        raise InvalidRequest("amount must be a positive amount of whole cents.", param="amount")
    if left <= 0:
        raise InvalidRequest(
            f"payment_id: payment {payment.id} was already refunded in full.", param="payment_id"
        )
    if amount > left:
        raise InvalidRequest(
            f"amount: payment {payment.id} of {format_money(payment.amount)} has "
            f"{format_money(left)} left to refund.",
            param="amount",
        )
    refund_id = new_id("re", payment.livemode)
    refund = Refund(
        id=refund_id,
        livemode=payment.livemode,
        merchant_id=caller.merchant_id,
        payment_id=payment.id,
        wallet_id=payment.wallet_id,
        amount=amount,
        status=PENDING,
        provider=payment.provider,
        idempotency_key=f"refund:{refund_id}",
        request_key=request_key,
        created_at=now,
    )
    await payments.add_refund(session, refund)
    await operations.reserve_refund(session, refund, now)
    return refund


async def _ask(billing: Billing, ask: _Ask) -> RefundResult:
    """Step 2; any failure to get an answer is `Outcome.RETRY` (same key next time)."""
    try:
        provider = billing.provider_named(ask.provider)
        if ask.livemode and not provider.live:
            raise WrongMode(f"the {provider.name} payment provider does not serve live objects")
        return await provider.refund(
            provider_payment_id=ask.provider_payment_id,
            amount=ask.amount,
            idempotency_key=ask.idempotency_key,
            livemode=ask.livemode,
        )
    except WrongMode as refused:
        log.warning("refund %s refused, nothing refunded: %s", ask.refund_id, refused)
        return RefundResult(
            Outcome.DECLINED,
            failure_code="live_mode_not_configured",
            message="Live payments are not configured on this server.",
        )
    except Exception:
        log.exception("refund %s: the provider did not answer; it stays pending", ask.refund_id)
        return RefundResult(Outcome.RETRY, message="The payment provider did not answer.")


async def _settle(billing: Billing, refund_id: str, result: RefundResult) -> Refund:
    """Step 3."""
    now = billing.now()
    async with billing.db.write() as session:
        refund = await payments.lock_refund(session, refund_id)
        assert refund is not None
        if refund.status == PENDING:
            if result.outcome is Outcome.SUCCEEDED:
                await operations.settle_refund(session, refund, result.provider_refund_id, now)
            elif result.outcome is Outcome.DECLINED:
                await operations.reverse_refund(
                    session,
                    refund,
                    result.failure_code or "refund_failed",
                    result.message or "The payment provider refused the refund.",
                    now,
                )
        return refund


async def create_refund(
    billing: Billing, caller: Caller, params: RefundCreate, request_key: str | None
) -> RestRefund:
    """`POST /v1/refunds` (module docstring: the order of operations). A refund the provider
    refused answers 402 `refund_failed` (the debit given back; the failed refund is listed with
    its payment); an unknown outcome 502 with the refund still pending."""
    try:
        refund, ask = await _reserve(billing, caller, params, request_key)
    except IntegrityError as clash:
        # The same Idempotency-Key reserved concurrently (past the middleware's window).
        raise Conflict(
            "A refund with this Idempotency-Key is being made; retry later.",
            param="Idempotency-Key",
        ) from clash
    if ask is not None:
        refund = await _settle(billing, ask.refund_id, await _ask(billing, ask))
    if refund.status == "failed":
        raise RefundFailed(
            f"The payment provider refused refund {refund.id} ({refund.failure_message}); "
            "nothing was refunded and the wallet keeps its balance.",
            param="payment_id",
        )
    if refund.status == PENDING:
        raise UpstreamError(
            f"The payment provider did not answer. Refund {refund.id} is pending and the "
            "wallet is debited; retry with the same Idempotency-Key to finish it.",
        )
    return render_refund(refund)


async def finish_pending(billing: Billing, refund_id: str) -> Refund:
    """Ask the provider again about a pending refund (the worker, `lava refunds retry`)."""
    async with billing.db.read() as session:
        refund = await payments.get_refund(session, refund_id)
        if refund is None:
            raise NotFound(f"No refund {refund_id}.", param="refund_id")
        if refund.status != PENDING:
            return refund
        payment = await payments.get_payment(session, refund.payment_id)
        assert payment is not None and payment.provider_payment_id is not None
        ask = _Ask(
            refund.id,
            refund.provider,
            payment.provider_payment_id,
            refund.amount,
            refund.idempotency_key,
            refund.livemode,
        )
    return await _settle(billing, ask.refund_id, await _ask(billing, ask))
