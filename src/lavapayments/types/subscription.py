from __future__ import annotations

from datetime import datetime
from typing import Literal, TypeAlias

from .._models import BaseModel, Money

__all__ = [
    "RestActiveSubscription",
    "RestActiveSubscriptionWallet",
    "RestSubscriptionConfig",
    "RolloverType",
]

RolloverType: TypeAlias = Literal["full", "none"]


class RestSubscriptionConfig(BaseModel):
    """A subscription plan: ``period_amount`` of credit each period."""

    subscription_config_id: str
    merchant_id: str
    name: str
    period_amount: Money
    rollover_type: RolloverType
    created_at: datetime


class RestActiveSubscriptionWallet(BaseModel):
    """The subscriber's wallet."""

    wallet_id: str
    phone: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    active_balance: Money
    created_at: datetime


class RestActiveSubscription(BaseModel):
    """A wallet's subscription to a config."""

    active_subscription_id: str
    wallet_id: str
    subscription_config_id: str
    started_at: datetime
    billing_anchor: int
    cancelled_at: datetime | None = None
    status: Literal["active", "cancelled"]
    created_at: datetime
    subscription_config: RestSubscriptionConfig
    wallet: RestActiveSubscriptionWallet
    # Our extensions (not in the Node SDK's type), typed:
    current_period_start: datetime | None = None
    """When the current billing period began."""
    current_period_end: datetime | None = None
    """When the current billing period ends (the next renewal)."""
