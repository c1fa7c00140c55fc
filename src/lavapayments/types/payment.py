"""Payments, refunds, grants of credit and adjustments (our extension:
``docs/checkout-and-wallets.md#merchant-money-operations``). Money is ``Decimal``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from .._models import BaseModel, Money

__all__ = ["RestBalanceOperation", "RestPayment", "RestRefund"]


class RestBalanceOperation(BaseModel):
    """A grant of credit (``object == "credit"``) or an adjustment (``"adjustment"``), with the
    wallet's available balance right after it."""

    id: str
    object: Literal["credit", "adjustment"]
    customer_id: str
    connection_id: str
    amount: Money
    reason: str
    expires_at: datetime | None = None
    wallet_balance: Money
    livemode: bool
    created_at: datetime


class RestRefund(BaseModel):
    """A refund of a payment through the provider that took it."""

    id: str
    object: Literal["refund"]
    payment_id: str
    amount: Money
    status: Literal["pending", "succeeded", "failed"]
    provider: str
    provider_refund_id: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    livemode: bool
    created_at: datetime
    completed_at: datetime | None = None


class RestPayment(BaseModel):
    """A card payment with its refunds; ``top_up`` says whether it can be refunded."""

    id: str
    object: Literal["payment"]
    customer_id: str | None = None
    connection_id: str | None = None
    purpose: str
    top_up: bool
    amount: Money
    amount_refunded: Money
    status: str
    provider: str
    provider_payment_id: str | None = None
    checkout_session_id: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    refunds: list[RestRefund]
    livemode: bool
    created_at: datetime
    completed_at: datetime | None = None
