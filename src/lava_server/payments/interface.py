"""What a payment provider does for us: save a card, charge a saved card, and refund a charge,
each with an idempotency key (the same key never charges or refunds twice). A provider serves
the objects of one mode only: `live` ones move real money, the others never do."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

CENT = Decimal("0.01")


class Outcome(enum.Enum):
    SUCCEEDED = "succeeded"
    DECLINED = "declined"  # final: the card was refused
    RETRY = "retry"  # unknown or transient (network, provider error): charge again, same key


@dataclass(frozen=True)
class Card:
    """Card details as the customer typed them (sandbox only: a live provider collects them in
    its own fields and hands us a token)."""

    number: str  # digits only
    exp_month: int
    exp_year: int  # four digits
    cvc: str


@dataclass(frozen=True)
class SavedCard:
    provider_method_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class ChargeResult:
    outcome: Outcome
    provider_payment_id: str | None = None
    failure_code: str | None = None
    message: str = ""


@dataclass(frozen=True)
class RefundResult:
    """A provider's answer to a refund: `SUCCEEDED` (the money went back to the card), `DECLINED`
    (final: nothing was refunded) or `RETRY` (unknown: ask again with the same key)."""

    outcome: Outcome
    provider_refund_id: str | None = None
    failure_code: str | None = None
    message: str = ""


class CardRefused(Exception):
    """The provider will not save this card; `message` is for the customer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WrongMode(Exception):
    """A provider was handed an object of the mode it does not serve (a live wallet to the
    sandbox, say): nothing was charged or saved."""


class PaymentProvider(Protocol):
    name: str
    live: bool  # serves live objects (real money), and only those
    collects_cards: bool  # can collect a live session's card on the hosted page

    async def save_card(self, card: Card, *, customer_ref: str, livemode: bool) -> SavedCard:
        """Keep the card for later charges (raises `CardRefused`; `WrongMode` when `livemode`
        is not the provider's)."""
        ...

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
        """Charge `amount` USD (whole cents). Never raises for a refused or failed charge: the
        result says so; `Outcome.RETRY` when the outcome is unknown. Raises `WrongMode` when
        `livemode` is not the provider's, before asking anyone."""
        ...

    async def refund(
        self, *, provider_payment_id: str, amount: Decimal, idempotency_key: str, livemode: bool
    ) -> RefundResult:
        """Give back `amount` USD (whole cents) of the charge `provider_payment_id`. Never raises
        for a refused or failed refund: the result says so; `Outcome.RETRY` when the outcome is
        unknown. Raises `WrongMode` when `livemode` is not the provider's, before asking anyone."""
        ...


def to_cents(amount: Decimal) -> int:
    """`amount` in cents; refuses fractions of a cent (nothing here rounds money)."""
    cents = amount / CENT
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of cents")
    return int(cents)
