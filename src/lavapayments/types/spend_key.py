"""Spend keys (the Node SDK 11.2.0's ``RestSpendKey``): money is ``Decimal``, times
timezone-aware ``datetime``. Extensions of a self-hosted server: ``customer_id``, ``meter_id``
and ``meter_slug``, the customer and meter a key is bound to (``None``: the merchant's own)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypeAlias

from .._models import BaseModel, Money

__all__ = [
    "LimitCycle",
    "RestSpendKey",
    "RestSpendKeyCreated",
    "SpendKeyRateLimit",
    "SpendKeyRequestLimit",
    "SpendKeySpendLimit",
]

LimitCycle: TypeAlias = Literal["daily", "weekly", "monthly", "total"]


class SpendKeySpendLimit(BaseModel):
    """At most ``amount`` USD a cycle (UTC day, ISO week from Monday, calendar month, or the
    key's whole life)."""

    amount: Money
    cycle: LimitCycle


class SpendKeyRequestLimit(BaseModel):
    """At most ``count`` calls a cycle."""

    count: int
    cycle: LimitCycle


class SpendKeyRateLimit(BaseModel):
    """A token bucket: ``burst`` (``None``: ``rpm``) calls at once, ``rpm`` a minute."""

    rpm: int
    burst: int | None = None


class RestSpendKey(BaseModel):
    """A spend key: only its first characters (``key_preview``), never the key itself.
    ``current_*`` count within the current cycle of the key's limit, ``total_*`` its whole
    life."""

    spend_key_id: str
    key_preview: str
    name: str
    status: Literal["active", "paused"]
    request_shape: Literal["openai", "anthropic"]
    wallet_id: str
    allowed_models: list[str] | None = None
    allowed_providers: list[str] | None = None
    spend_limit: SpendKeySpendLimit | None = None
    current_spend: Money
    total_spend: Money
    request_limit: SpendKeyRequestLimit | None = None
    current_requests: int
    total_requests: int
    rate_limit: SpendKeyRateLimit | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    created_at: datetime
    customer_id: str | None = None
    meter_id: str | None = None
    meter_slug: str | None = None


class RestSpendKeyCreated(RestSpendKey):
    """A new or rotated spend key, with the raw ``lava_sk_`` key: shown only in this answer."""

    key: str
