"""Webhook endpoints: create, read, change, rotate their secret, delete; their deliveries, a
resend and a test ping (`docs/webhooks.md`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from lava_server.api.auth import Caller
from lava_server.db.engine import Database
from lava_server.db.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from lava_server.errors import NotFound
from lava_server.ids import new_id, new_secret
from lava_server.outbox import PING
from lava_server.settings import Settings
from lava_server.timeutil import iso, utcnow
from lava_server.webhooks import repository
from lava_server.webhooks.repository import DISABLED, ENABLED, PENDING
from lava_server.webhooks.schemas import (
    RestAttempt,
    RestDelivery,
    RestWebhook,
    RestWebhookCreate,
    WebhookCreate,
    WebhookUpdate,
)
from lava_server.webhooks.urls import check_url

ROTATION_OVERLAP = timedelta(hours=24)


def render(endpoint: WebhookEndpoint) -> RestWebhook:
    body: RestWebhook = {
        "webhook_id": endpoint.id,
        "name": endpoint.name,
        "url": endpoint.url,
        "created_at": iso(endpoint.created_at),
        "enabled_events": list(endpoint.enabled_events),
        "event_names": "legacy" if endpoint.event_names == "legacy" else "current",
        "status": "disabled" if endpoint.status == DISABLED else "enabled",
        "livemode": endpoint.livemode,
    }
    if endpoint.disabled_reason:
        body["disabled_reason"] = endpoint.disabled_reason
    return body


def render_created(endpoint: WebhookEndpoint) -> RestWebhookCreate:
    return {**render(endpoint), "webhook_secret": endpoint.secret}


def valid_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets that sign now, newest first."""
    secrets = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at is not None
        and endpoint.previous_secret_expires_at > now
    ):
        secrets.append(endpoint.previous_secret)
    return secrets


async def create(
    db: Database, settings: Settings, caller: Caller, params: WebhookCreate
) -> WebhookEndpoint:
    url = check_url(params.url, livemode=caller.livemode, allow_http=settings.webhooks_allow_http)
    endpoint = WebhookEndpoint(
        id=new_id("wh", caller.livemode),
        merchant_id=caller.merchant_id,
        livemode=caller.livemode,
        name=params.name,
        url=url,
        enabled_events=params.enabled_events or ["*"],
        event_names=params.event_names,
        status=ENABLED,
        secret=new_secret("whsec", caller.livemode),
        created_at=utcnow(),
    )
    async with db.write() as session:
        await repository.add(session, endpoint)
    return endpoint


async def retrieve(db: Database, caller: Caller, endpoint_id: str) -> WebhookEndpoint:
    async with db.read() as session:
        endpoint = await repository.get_endpoint(
            session, caller.merchant_id, caller.livemode, endpoint_id
        )
    if endpoint is None:
        raise NotFound(f"No webhook {endpoint_id}.", param="webhook_id")
    return endpoint


async def list_page(
    db: Database, caller: Caller, cursor: str | None, limit: int
) -> Sequence[WebhookEndpoint]:
    async with db.read() as session:
        return await repository.page_endpoints(
            session, caller.merchant_id, caller.livemode, cursor, limit
        )


async def update(
    db: Database, settings: Settings, caller: Caller, endpoint_id: str, params: WebhookUpdate
) -> WebhookEndpoint:
    url = None
    if params.url is not None:
        url = check_url(
            params.url, livemode=caller.livemode, allow_http=settings.webhooks_allow_http
        )
    async with db.write() as session:
        endpoint = await repository.get_endpoint(
            session, caller.merchant_id, caller.livemode, endpoint_id, lock=True
        )
        if endpoint is None:
            raise NotFound(f"No webhook {endpoint_id}.", param="webhook_id")
        if params.name is not None:
            endpoint.name = params.name
        if url is not None:
            endpoint.url = url
        if params.enabled_events is not None:
            endpoint.enabled_events = params.enabled_events
        if params.event_names is not None:
            endpoint.event_names = params.event_names
        if params.status is not None and params.status != endpoint.status:
            endpoint.status = params.status
            endpoint.disabled_reason = None if params.status == ENABLED else "merchant"
            endpoint.failing_since = None
    return endpoint


async def rotate(db: Database, caller: Caller, endpoint_id: str) -> WebhookEndpoint:
    """A new secret; the old one keeps signing too for 24 hours."""
    now = utcnow()
    async with db.write() as session:
        endpoint = await repository.get_endpoint(
            session, caller.merchant_id, caller.livemode, endpoint_id, lock=True
        )
        if endpoint is None:
            raise NotFound(f"No webhook {endpoint_id}.", param="webhook_id")
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + ROTATION_OVERLAP
        endpoint.secret = new_secret("whsec", caller.livemode)
    return endpoint


async def delete(db: Database, caller: Caller, endpoint_id: str) -> None:
    async with db.write() as session:
        endpoint = await repository.get_endpoint(
            session, caller.merchant_id, caller.livemode, endpoint_id, lock=True
        )
        if endpoint is None:
            raise NotFound(f"No webhook {endpoint_id}.", param="webhook_id")
        endpoint.deleted_at = utcnow()


def render_delivery(delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> RestDelivery:
    status = delivery.status
    return {
        "delivery_id": delivery.id,
        "webhook_id": delivery.endpoint_id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "status": "delivered"
        if status == "delivered"
        else "failed"
        if status == "failed"
        else "pending",
        "attempt_count": delivery.attempts,
        "next_attempt_at": iso(delivery.next_attempt_at) if status == PENDING else None,
        "created_at": iso(delivery.created_at),
        "delivered_at": iso(delivery.delivered_at) if delivery.delivered_at else None,
        "attempts": [render_attempt(attempt) for attempt in attempts],
    }


def render_attempt(attempt: WebhookAttempt) -> RestAttempt:
    return {
        "attempted_at": iso(attempt.attempted_at),
        "status_code": attempt.status_code,
        "duration_ms": attempt.duration_ms,
        "response_body": attempt.response_body,
        "error": attempt.error,
    }


async def deliveries_page(
    db: Database, caller: Caller, endpoint_id: str, cursor: str | None, limit: int
) -> list[RestDelivery]:
    async with db.read() as session:
        endpoint = await repository.get_endpoint(
            session, caller.merchant_id, caller.livemode, endpoint_id
        )
        if endpoint is None:
            raise NotFound(f"No webhook {endpoint_id}.", param="webhook_id")
        rows = await repository.page_deliveries(session, endpoint_id, cursor, limit)
        attempts = await repository.attempts_of(session, [row.id for row in rows])
    return [render_delivery(row, attempts[row.id]) for row in rows]


async def resend(db: Database, caller: Caller, endpoint_id: str, delivery_id: str) -> RestDelivery:
    """Try a delivery again now (delivered or failed ones too: the receiver asked for it)."""
    now = utcnow()
    async with db.write() as session:
        endpoint = await repository.get_endpoint(
            session, caller.merchant_id, caller.livemode, endpoint_id
        )
        if endpoint is None:
            raise NotFound(f"No webhook {endpoint_id}.", param="webhook_id")
        delivery = await repository.get_delivery(session, endpoint_id, delivery_id, lock=True)
        if delivery is None:
            raise NotFound(f"No delivery {delivery_id}.", param="delivery_id")
        if delivery.status != PENDING or (
            delivery.lease_until is None or delivery.lease_until <= now
        ):
            delivery.status = PENDING
            delivery.next_attempt_at = now
            delivery.lease_until = None
        attempts = await repository.attempts_of(session, [delivery.id])
        return render_delivery(delivery, attempts[delivery.id])


async def send_test(db: Database, caller: Caller, endpoint_id: str) -> RestDelivery:
    """A `ping` event to this endpoint alone."""
    now = utcnow()
    async with db.write() as session:
        endpoint = await repository.get_endpoint(
            session, caller.merchant_id, caller.livemode, endpoint_id
        )
        if endpoint is None:
            raise NotFound(f"No webhook {endpoint_id}.", param="webhook_id")
        event = WebhookEvent(
            id=new_id("evt", caller.livemode),
            merchant_id=caller.merchant_id,
            livemode=caller.livemode,
            type=PING,
            object_id=endpoint.id,
            data={"webhook_id": endpoint.id},
            created_at=now,
        )
        delivery = WebhookDelivery(
            id=new_id("whd", caller.livemode),
            endpoint_id=endpoint.id,
            event_id=event.id,
            event_type=PING,
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        await repository.add_all(session, [event])
        await repository.add_all(session, [delivery])
        return render_delivery(delivery, [])
