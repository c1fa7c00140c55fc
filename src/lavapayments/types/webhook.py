from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from .._models import BaseModel

__all__ = [
    "DeletedResponse",
    "EventNames",
    "RestWebhook",
    "RestWebhookAttempt",
    "RestWebhookCreate",
    "RestWebhookDelivery",
]

EventNames = Literal["current", "legacy"]


class RestWebhook(BaseModel):
    """A webhook endpoint (as the Node SDK's ``RestWebhook``, plus the server's extensions)."""

    webhook_id: str
    name: str
    url: str
    created_at: datetime
    enabled_events: list[str] = Field(default_factory=lambda: ["*"])
    event_names: str = "current"
    status: str = "enabled"
    disabled_reason: str | None = None
    livemode: bool | None = None


class RestWebhookCreate(RestWebhook):
    """The endpoint as created or rotated: ``webhook_secret`` is shown only then."""

    webhook_secret: str


class RestWebhookAttempt(BaseModel):
    """One try of a delivery: the receiver's status and answer (first 2 KB), or the error."""

    attempted_at: datetime
    status_code: int | None = None
    duration_ms: int
    response_body: str
    error: str | None = None


class RestWebhookDelivery(BaseModel):
    """One event to one endpoint, with every attempt."""

    delivery_id: str
    webhook_id: str
    event_id: str
    event_type: str
    status: str
    attempt_count: int
    next_attempt_at: datetime | None = None
    created_at: datetime
    delivered_at: datetime | None = None
    attempts: list[RestWebhookAttempt]


class DeletedResponse(BaseModel):
    """The answer of deleting a webhook: ``{"id": ..., "deleted": true}``."""

    id: str
    deleted: bool
