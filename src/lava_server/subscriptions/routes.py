from __future__ import annotations

from fastapi import APIRouter, Depends

from lava_server.api.auth import Caller, authenticate, secret_key
from lava_server.api.schemas import Success, errors
from lava_server.payments.context import Billing, get_billing
from lava_server.subscriptions import service
from lava_server.subscriptions.schemas import (
    RestActiveSubscription,
    RestSubscriptionConfig,
    SubscriptionConfigCreate,
    SubscriptionConfigUpdate,
)

router = APIRouter(
    prefix="/v1",
    tags=["subscriptions"],
    dependencies=[secret_key],
    responses=errors(400, 401, 429),
)


@router.get("/subscription-configs", summary="List subscription configs (a bare array)")
async def list_configs(
    billing: Billing = Depends(get_billing), caller: Caller = Depends(authenticate)
) -> list[RestSubscriptionConfig]:
    return [
        service.render_config(config) for config in await service.list_configs(billing.db, caller)
    ]


@router.post(
    "/subscription-configs",
    status_code=201,
    summary="Create a subscription config",
    responses=errors(409, 413),
)
async def create_config(
    body: SubscriptionConfigCreate,
    billing: Billing = Depends(get_billing),
    caller: Caller = Depends(authenticate),
) -> RestSubscriptionConfig:
    return service.render_config(
        await service.create_config(billing.db, caller, body, billing.now())
    )


@router.put(
    "/subscription-configs/{config_id}",
    summary="Update a subscription config",
    responses=errors(404, 413),
)
async def update_config(
    config_id: str,
    body: SubscriptionConfigUpdate,
    billing: Billing = Depends(get_billing),
    caller: Caller = Depends(authenticate),
) -> RestSubscriptionConfig:
    return service.render_config(
        await service.update_config(billing.db, caller, config_id, body, billing.now())
    )


@router.delete(
    "/subscription-configs/{config_id}",
    summary="Delete a subscription config (409 while active subscriptions use it)",
    responses=errors(404, 409),
)
async def delete_config(
    config_id: str, billing: Billing = Depends(get_billing), caller: Caller = Depends(authenticate)
) -> Success:
    await service.delete_config(billing.db, caller, config_id, billing.now())
    return {"success": True}


@router.get("/active-subscriptions", summary="List subscriptions (a bare array), newest first")
async def list_active_subscriptions(
    billing: Billing = Depends(get_billing), caller: Caller = Depends(authenticate)
) -> list[RestActiveSubscription]:
    return await service.list_subscriptions(billing.db, caller)


@router.delete(
    "/active-subscriptions/{subscription_id}",
    summary="Cancel a subscription",
    responses=errors(404),
)
async def cancel_active_subscription(
    subscription_id: str,
    billing: Billing = Depends(get_billing),
    caller: Caller = Depends(authenticate),
) -> Success:
    await service.cancel(billing.db, caller, subscription_id, billing.now())
    return {"success": True}
