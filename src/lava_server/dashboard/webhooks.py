"""The Webhooks pages: the mode's endpoints, and an endpoint's recent deliveries with each
attempt's status code and answer; the admin adds an endpoint (its signing secret shown once, in
the answer's body), disables or enables it, sends it a test event, resends a delivery. Every
action calls the webhooks service that `/v1/webhooks` calls, with its body models, so the
rules (which URLs, which events) and the messages are the API's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from lava_server.dashboard.web import (
    PREFIX,
    Action,
    Page,
    Refused,
    admin_action,
    list_cursor,
    parsed,
    signed_in,
)
from lava_server.errors import ApiError
from lava_server.ids import id_pattern
from lava_server.outbox import KNOWN_NAMES
from lava_server.webhooks import service as webhooks
from lava_server.webhooks.schemas import WebhookCreate, WebhookUpdate

router = APIRouter(prefix=PREFIX, include_in_schema=False)
LIST_LIMIT = 20
DELIVERY_LIMIT = 20


async def _list_view(
    page: Page,
    cursor: str = "",
    *,
    problem: str | None = None,
    form: Mapping[str, str] | None = None,
    created: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    after = list_cursor(cursor, id_pattern("wh", page.livemode))
    rows = await webhooks.list_page(page.db, page.caller, after, LIST_LIMIT)
    shown = rows[:LIST_LIMIT]
    here = page.url("webhooks")
    return page.render(
        "webhooks.html",
        status,
        endpoints=[webhooks.render(row) for row in shown],
        next_url=f"{here}?cursor={shown[-1].id}" if len(rows) > LIST_LIMIT else None,
        first_url=here if after else None,
        problem=problem,
        form=form or {},
        created=created,
        event_types=sorted(KNOWN_NAMES),
        allow_http=page.settings.webhooks_allow_http and not page.livemode,
        here=here,
    )


@router.get("/{mode}/webhooks")
async def webhook_list(page: Page = Depends(signed_in), cursor: str = "") -> Response:
    return await _list_view(page, cursor[:100])


def _events(text: str) -> list[str] | None:
    """A comma- or space-separated list of event types; empty: every event."""
    names = [name for name in text.replace(",", " ").split() if name]
    return names or None


@router.post("/{mode}/webhooks")
async def add_webhook(act: Action = Depends(admin_action)) -> Response:
    page = act.page
    body: dict[str, Any] = {
        "name": act.form.get("name", "").strip(),
        "url": act.form.get("url", "").strip(),
        "event_names": act.form.get("event_names", "current"),
    }
    events = _events(act.form.get("enabled_events", ""))
    if events is not None:
        body["enabled_events"] = events
    try:
        params = parsed(WebhookCreate, body)
        endpoint = await webhooks.create(page.db, page.settings, page.caller, params)
    except ApiError as error:
        return await _list_view(page, problem=error.message, form=act.form, status=error.status)
    # The signing secret, this once, in this answer's body only.
    return await _list_view(
        page,
        created={"id": endpoint.id, "name": endpoint.name, "secret": endpoint.secret},
    )


async def _endpoint_view(
    page: Page,
    webhook_id: str,
    cursor: str = "",
    *,
    problems: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    after = list_cursor(cursor, id_pattern("whd", page.livemode))
    endpoint = webhooks.render(await webhooks.retrieve(page.db, page.caller, webhook_id))
    rows = await webhooks.deliveries_page(
        page.db, page.caller, endpoint["webhook_id"], after, DELIVERY_LIMIT
    )
    shown = rows[:DELIVERY_LIMIT]
    here = page.url(f"webhooks/{endpoint['webhook_id']}")
    return page.render(
        "webhook.html",
        status,
        endpoint=endpoint,
        deliveries=shown,
        next_url=f"{here}?cursor={shown[-1]['delivery_id']}"
        if len(rows) > DELIVERY_LIMIT
        else None,
        first_url=here if after else None,
        problems=problems or {},
        here=here,
    )


@router.get("/{mode}/webhooks/{webhook_id}")
async def webhook_page(
    webhook_id: str, page: Page = Depends(signed_in), cursor: str = ""
) -> Response:
    try:
        return await _endpoint_view(page, webhook_id[:64], cursor[:100])
    except ApiError as error:
        raise Refused(error.status, error.message) from None


async def _act(
    act: Action, webhook_id: str, form_name: str, work: Callable[[], Awaitable[None]], notice: str
) -> Response:
    page = act.page
    try:
        await work()
    except ApiError as error:
        try:
            return await _endpoint_view(
                page, webhook_id, problems={form_name: error.message}, status=error.status
            )
        except ApiError as gone:
            raise Refused(gone.status, gone.message) from None
    return page.redirect(f"webhooks/{webhook_id}", notice)


@router.post("/{mode}/webhooks/{webhook_id}/status")
async def change_status(webhook_id: str, act: Action = Depends(admin_action)) -> Response:
    page = act.page
    webhook_id = webhook_id[:64]
    wanted = act.form.get("status", "")

    async def work() -> None:
        params = parsed(WebhookUpdate, {"status": wanted})
        await webhooks.update(page.db, page.settings, page.caller, webhook_id, params)

    notice = (
        "Endpoint disabled: no event is sent to it."
        if wanted == "disabled"
        else ("Endpoint enabled.")
    )
    return await _act(act, webhook_id, "status", work, notice)


@router.post("/{mode}/webhooks/{webhook_id}/test")
async def send_test(webhook_id: str, act: Action = Depends(admin_action)) -> Response:
    page = act.page
    webhook_id = webhook_id[:64]

    async def work() -> None:
        await webhooks.send_test(page.db, page.caller, webhook_id)

    return await _act(
        act,
        webhook_id,
        "test",
        work,
        "Test event (ping) queued: the deliveries below show its answer.",
    )


@router.post("/{mode}/webhooks/{webhook_id}/deliveries/{delivery_id}/resend")
async def resend(
    webhook_id: str, delivery_id: str, act: Action = Depends(admin_action)
) -> Response:
    page = act.page
    webhook_id = webhook_id[:64]
    delivery_id = delivery_id[:64]

    async def work() -> None:
        await webhooks.resend(page.db, page.caller, webhook_id, delivery_id)

    return await _act(
        act, webhook_id, f"resend-{delivery_id}", work, f"Delivery {delivery_id} is sent again now."
    )
