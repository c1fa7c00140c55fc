"""Webhook endpoints and deliveries on the wire: the official SDK's `RestWebhook` and
`RestWebhookCreate`, with our extensions (`docs/webhooks.md`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import NotRequired, TypedDict

from lava_server.api.schemas import closed
from lava_server.outbox import KNOWN_NAMES
from lava_server.timeutil import Timestamp

Name = Annotated[str, Field(min_length=1, max_length=255)]
Url = Annotated[str, Field(min_length=1, max_length=2048)]
EventNames = Literal["current", "legacy"]


def _check_events(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    if not value:
        raise ValueError('must name at least one event type, or be ["*"]')
    if "*" in value:
        if len(value) > 1:
            raise ValueError('"*" (every event) stands alone')
        return value
    unknown = sorted(set(value) - KNOWN_NAMES)
    if unknown:
        raise ValueError(f"unknown event type {unknown[0]!r}")
    return sorted(set(value))


class WebhookCreate(BaseModel):
    """`POST /v1/webhooks`."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    url: Url
    enabled_events: list[Annotated[str, Field(max_length=64)]] | None = Field(
        None, max_length=64, description='Event types to receive, or ["*"] (the default): all.'
    )
    event_names: EventNames = Field(
        "current", description="`current` (customer.*) or `legacy` (connection.*) event names."
    )

    _events = field_validator("enabled_events")(_check_events)


class WebhookUpdate(BaseModel):
    """`PATCH /v1/webhooks/{id}`: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    url: Url | None = None
    enabled_events: list[Annotated[str, Field(max_length=64)]] | None = Field(None, max_length=64)
    event_names: EventNames | None = None
    status: Literal["enabled", "disabled"] | None = None

    _events = field_validator("enabled_events")(_check_events)


@closed
class RestWebhook(TypedDict):
    """A webhook endpoint. `enabled_events`, `event_names`, `status` and `livemode` are ours."""

    webhook_id: str
    name: str
    url: str
    created_at: Timestamp
    enabled_events: list[str]
    event_names: EventNames
    status: Literal["enabled", "disabled"]
    disabled_reason: NotRequired[str]
    livemode: bool


@closed
class RestWebhookCreate(RestWebhook):
    """The endpoint as created (or its secret rotated): `webhook_secret` is shown only here."""

    webhook_secret: str


@closed
class DeletedWebhook(TypedDict):
    id: str
    deleted: Literal[True]


@closed
class RestAttempt(TypedDict):
    """One try: the receiver's status and the first 2 KB of its answer, or the error."""

    attempted_at: Timestamp
    status_code: int | None
    duration_ms: int
    response_body: str
    error: str | None


@closed
class RestDelivery(TypedDict):
    """One event to one endpoint; `status` pending (being tried), delivered or failed."""

    delivery_id: str
    webhook_id: str
    event_id: str
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempt_count: int
    next_attempt_at: Timestamp | None
    created_at: Timestamp
    delivered_at: Timestamp | None
    attempts: list[RestAttempt]
