from __future__ import annotations

from datetime import datetime
from typing import Literal, TypeAlias

from .._models import BaseModel

__all__ = ["CheckoutMode", "RestCheckoutSession"]

CheckoutMode: TypeAlias = Literal["onboarding", "topup", "subscription", "credit_bundle"]


class RestCheckoutSession(BaseModel):
    """A checkout session: hand ``checkout_session_token`` to the front end to open checkout."""

    checkout_session_id: str
    checkout_session_token: str
    checkout_mode: CheckoutMode
    origin_url: str
    connection_id: str | None = None
    reference_id: str | None = None
    subscription_config_id: str | None = None
    customer_id: str | None = None
    plan_id: str | None = None
    created_at: datetime
    completed_at: datetime | None = None
    expires_at: datetime | None = None
    """Our extension: when the session stops being usable."""
