from __future__ import annotations

from datetime import datetime

from .._models import BaseModel, Money

__all__ = ["RestConnection", "RestConnectionWallet"]


class RestConnectionWallet(BaseModel):
    """The wallet behind a connection."""

    balance: Money
    phone: str
    email: str
    first_name: str
    last_name: str
    autopay_enabled: bool


class RestConnection(BaseModel):
    """A customer's connection to the merchant: its secret is what a forward token carries."""

    connection_id: str
    connection_secret: str
    reference_id: str | None = None
    wallet: RestConnectionWallet
    next_usage_reset: datetime
    previous_usage_reset: datetime
    created_at: datetime
