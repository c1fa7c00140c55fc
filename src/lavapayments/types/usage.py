from __future__ import annotations

import datetime as dt

from .._models import BaseModel, Money

__all__ = ["RestUsage", "RestUsageItem", "RestUsageTotals"]


class RestUsageTotals(BaseModel):
    """Sums over a period."""

    total_requests: int
    total_usage_tokens: int
    total_usage_cost: Money
    total_fee_amount: Money
    total_service_charge_amount: Money
    total_request_cost: Money
    total_wallet_cost: Money
    total_merchant_cost: Money
    # The current API's names (Node SDK 11.x):
    total_cost: Money | None = None
    total_charge: Money | None = None


class RestUsageItem(RestUsageTotals):
    """The sums of one calendar day (days without requests included, with zeros)."""

    date: dt.date
    start: dt.datetime
    end: dt.datetime


class RestUsage(BaseModel):
    """Daily usage from ``start`` to ``end`` and its totals."""

    items: list[RestUsageItem]
    totals: RestUsageTotals
