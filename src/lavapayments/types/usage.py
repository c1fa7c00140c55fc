from __future__ import annotations

import datetime as dt
from decimal import Decimal

from .._models import BaseModel

__all__ = ["RestUsage", "RestUsageItem", "RestUsageTotals"]


class RestUsageTotals(BaseModel):
    """Sums over a period."""

    total_requests: int
    total_usage_tokens: int
    total_usage_cost: Decimal
    total_fee_amount: Decimal
    total_service_charge_amount: Decimal
    total_request_cost: Decimal
    total_wallet_cost: Decimal
    total_merchant_cost: Decimal


class RestUsageItem(RestUsageTotals):
    """The sums of one calendar day (days without requests included, with zeros)."""

    date: dt.date
    start: dt.datetime
    end: dt.datetime


class RestUsage(BaseModel):
    """Daily usage from ``start`` to ``end`` and its totals."""

    items: list[RestUsageItem]
    totals: RestUsageTotals
