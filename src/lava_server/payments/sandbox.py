"""The sandbox payment provider: no money moves. Its test cards (`docs/checkout-and-wallets.md`):

- 4242 4242 4242 4242 succeeds,
- 4000 0000 0000 0002 is declined,
- 4000 0000 0000 9995 fails for insufficient funds.

It serves sandbox objects only: a live wallet's card or charge raises `WrongMode`, so a test
card can never fund a live wallet, whatever called it.

Like a real provider it answers a repeated idempotency key with the first result, so `charges`
holds each charge once however often it was retried; tests read it as the card network's view.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

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

SUCCEEDS = "4242424242424242"
DECLINED = "4000000000000002"
INSUFFICIENT_FUNDS = "4000000000009995"
_BEHAVIOUR = {SUCCEEDS: "ok", DECLINED: "declined", INSUFFICIENT_FUNDS: "funds"}
_PREFIX = "pm_sandbox_"


@dataclass(frozen=True)
class SandboxRefund:
    idempotency_key: str
    provider_payment_id: str
    amount: Decimal
    result: RefundResult


@dataclass(frozen=True)
class SandboxCharge:
    idempotency_key: str
    amount: Decimal
    provider_method_id: str
    result: ChargeResult


def _refuse_live(livemode: bool) -> None:
    if livemode:
        raise WrongMode("the sandbox payment provider serves sandbox objects only")


class SandboxPayments:
    name = "sandbox"
    live = False
    collects_cards = False  # only sandbox sessions' test cards

    def __init__(self) -> None:
        self.charges: dict[str, SandboxCharge] = {}
        self.refunds: dict[str, SandboxRefund] = {}
        # Tests set this to make refunds answer so (`Outcome.DECLINED`, `Outcome.RETRY`).
        self.refund_outcome = Outcome.SUCCEEDED

    async def save_card(self, card: Card, *, customer_ref: str, livemode: bool) -> SavedCard:
        _refuse_live(livemode)
        behaviour = _BEHAVIOUR.get(card.number)
        if behaviour is None:
            raise CardRefused(
                "This is a sandbox checkout: use the test card 4242 4242 4242 4242 "
                "(or 4000 0000 0000 0002 to see a decline)."
            )
        return SavedCard(
            provider_method_id=f"{_PREFIX}{behaviour}_{card.number[-4:]}",
            brand="visa",
            last4=card.number[-4:],
            exp_month=card.exp_month,
            exp_year=card.exp_year,
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
        _refuse_live(livemode)
        earlier = self.charges.get(idempotency_key)
        if earlier is not None:
            return earlier.result
        to_cents(amount)
        behaviour = provider_method_id.removeprefix(_PREFIX).split("_")[0]
        if behaviour == "ok":
            digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
            result = ChargeResult(Outcome.SUCCEEDED, provider_payment_id=f"ch_sandbox_{digest}")
        elif behaviour == "funds":
            result = ChargeResult(
                Outcome.DECLINED,
                failure_code="insufficient_funds",
                message="Your card has insufficient funds.",
            )
        else:
            result = ChargeResult(
                Outcome.DECLINED, failure_code="card_declined", message="Your card was declined."
            )
        self.charges[idempotency_key] = SandboxCharge(
            idempotency_key, amount, provider_method_id, result
        )
        return result

    def refunded(self, provider_payment_id: str) -> Decimal:
        """What the card network gave back on this charge, each refund once."""
        return sum(
            (
                r.amount
                for r in self.refunds.values()
                if r.provider_payment_id == provider_payment_id
                and r.result.outcome is Outcome.SUCCEEDED
            ),
            Decimal(0),
        )

    async def refund(
        self, *, provider_payment_id: str, amount: Decimal, idempotency_key: str, livemode: bool
    ) -> RefundResult:
        """Refunds a succeeded sandbox charge, at most what it charged in all; a repeated key
        answers its first result (a `RETRY` answer is not kept, like a request that never
        arrived)."""
        _refuse_live(livemode)
        earlier = self.refunds.get(idempotency_key)
        if earlier is not None:
            return earlier.result
        to_cents(amount)
        if self.refund_outcome is Outcome.RETRY:
            return RefundResult(Outcome.RETRY, message="The sandbox did not answer.")
        charged = [
            c.amount
            for c in self.charges.values()
            if c.result.provider_payment_id == provider_payment_id
            and c.result.outcome is Outcome.SUCCEEDED
        ]
        if self.refund_outcome is Outcome.DECLINED:
            result = RefundResult(
                Outcome.DECLINED, failure_code="refund_declined", message="Refund declined."
            )
        elif charged and self.refunded(provider_payment_id) + amount > charged[0]:
            result = RefundResult(
                Outcome.DECLINED,
                failure_code="amount_too_large",
                message="The refund is more than what is left of the charge.",
            )
        else:
            digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
            result = RefundResult(Outcome.SUCCEEDED, provider_refund_id=f"re_sandbox_{digest}")
        self.refunds[idempotency_key] = SandboxRefund(
            idempotency_key, provider_payment_id, amount, result
        )
        return result
