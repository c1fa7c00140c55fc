"""`/v1/webhooks`: the official SDK's webhooks CRUD, plus rotate, deliveries, resend and test."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from lava_server.api.auth import Caller, authenticate, secret_key
from lava_server.api.pagination import PageParams, page, page_params
from lava_server.api.schemas import Page, errors
from lava_server.api.state import AppState, get_state
from lava_server.ids import id_pattern
from lava_server.webhooks import service
from lava_server.webhooks.schemas import (
    DeletedWebhook,
    RestDelivery,
    RestWebhook,
    RestWebhookCreate,
    WebhookCreate,
    WebhookUpdate,
)

router = APIRouter(
    prefix="/v1/webhooks",
    tags=["webhooks"],
    dependencies=[secret_key],
    responses=errors(400, 401, 429),
)


@router.post("", status_code=201, summary="Create a webhook endpoint (its secret is shown once)")
async def create_webhook(
    body: WebhookCreate,
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
) -> RestWebhookCreate:
    return service.render_created(await service.create(state.db, state.settings, caller, body))


@router.get("", summary="List webhook endpoints, newest first")
async def list_webhooks(
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
    params: PageParams = Depends(page_params),
) -> Page[RestWebhook]:
    params.check_cursor(id_pattern("wh", caller.livemode))
    rows = await service.list_page(state.db, caller, params.cursor, params.limit)
    return page(rows, params.limit, service.render, lambda row: row.id)


@router.get("/{webhook_id}", summary="Retrieve a webhook endpoint", responses=errors(404))
async def retrieve_webhook(
    webhook_id: str, state: AppState = Depends(get_state), caller: Caller = Depends(authenticate)
) -> RestWebhook:
    return service.render(await service.retrieve(state.db, caller, webhook_id))


@router.patch(
    "/{webhook_id}",
    summary="Change a webhook endpoint (name, url, events, event names, status)",
    responses=errors(404),
)
async def update_webhook(
    webhook_id: str,
    body: WebhookUpdate,
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
) -> RestWebhook:
    return service.render(await service.update(state.db, state.settings, caller, webhook_id, body))


@router.delete("/{webhook_id}", summary="Delete a webhook endpoint", responses=errors(404))
async def delete_webhook(
    webhook_id: str, state: AppState = Depends(get_state), caller: Caller = Depends(authenticate)
) -> DeletedWebhook:
    await service.delete(state.db, caller, webhook_id)
    return {"id": webhook_id, "deleted": True}


@router.post(
    "/{webhook_id}/rotate",
    summary="Rotate the signing secret (the old one signs too for 24 hours)",
    responses=errors(404),
)
async def rotate_webhook_secret(
    webhook_id: str, state: AppState = Depends(get_state), caller: Caller = Depends(authenticate)
) -> RestWebhookCreate:
    return service.render_created(await service.rotate(state.db, caller, webhook_id))


@router.get(
    "/{webhook_id}/deliveries",
    summary="Deliveries to this endpoint with every attempt, newest first",
    responses=errors(404),
)
async def list_deliveries(
    webhook_id: str,
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
    params: PageParams = Depends(page_params),
) -> Page[RestDelivery]:
    params.check_cursor(id_pattern("whd", caller.livemode))
    rows = await service.deliveries_page(state.db, caller, webhook_id, params.cursor, params.limit)
    return page(rows, params.limit, lambda row: row, lambda row: row["delivery_id"])


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/resend",
    summary="Send a delivery again now",
    responses=errors(404),
)
async def resend_delivery(
    webhook_id: str,
    delivery_id: str,
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
) -> RestDelivery:
    return await service.resend(state.db, caller, webhook_id, delivery_id)


@router.post(
    "/{webhook_id}/test", summary="Send a `ping` event to this endpoint", responses=errors(404)
)
async def test_webhook(
    webhook_id: str, state: AppState = Depends(get_state), caller: Caller = Depends(authenticate)
) -> RestDelivery:
    return await service.send_test(state.db, caller, webhook_id)
