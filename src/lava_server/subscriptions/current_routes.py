"""`/v1/plans`, `/v1/credit_bundles` and `/v1/subscriptions` of the current API
(`docs/current-api.md#plans`): thin routes over `subscriptions.plans` and
`subscriptions.current`. A plan is a subscription config; a subscription an active
subscription: the seed-era routes of `subscriptions.routes` see the same objects."""

from __future__ import annotations

from typing import TypeVar

from fastapi import APIRouter, Depends, Query

from lava_server.api.auth import Caller, authenticate, secret_key
from lava_server.api.pagination import PageParams, page_params
from lava_server.api.schemas import Deleted, Page, Success, errors
from lava_server.errors import InvalidRequest
from lava_server.ids import id_pattern
from lava_server.payments.context import Billing, get_billing
from lava_server.subscriptions import current, plans
from lava_server.subscriptions.current_schemas import (
    PlanCreate,
    PlanUpdate,
    RestCreditBundle,
    RestPlan,
    RestSubscription,
    SubscriptionAnswer,
    SubscriptionCreate,
    SubscriptionUpdate,
)

Item = TypeVar("Item")

router = APIRouter(
    prefix="/v1",
    tags=["plans"],
    dependencies=[secret_key],
    responses=errors(400, 401, 429),
)


def _page(items: list[Item], more: bool, cursor_of: str) -> Page[Item]:
    body: Page[Item] = {"data": items, "has_more": more}
    if more:
        body["next_cursor"] = cursor_of
    return body


@router.get("/plans", summary="List plans, newest first (the Free plan among them)")
async def list_plans(
    billing: Billing = Depends(get_billing),
    caller: Caller = Depends(authenticate),
    params: PageParams = Depends(page_params),
) -> Page[RestPlan]:
    params.check_cursor(id_pattern("sc", caller.livemode))
    await plans.ensure_free_plan(billing.db, caller, billing.now())
    items, more = await plans.list_plans(billing.db, caller, params.cursor, params.limit)
    return _page(items, more, items[-1]["plan_id"] if items else "")


@router.post(
    "/plans",
    status_code=201,
    summary="Create a plan with its credit bundles",
    responses=errors(413),
)
async def create_plan(
    body: PlanCreate,
    billing: Billing = Depends(get_billing),
    caller: Caller = Depends(authenticate),
) -> RestPlan:
    return await plans.create_plan(billing.db, caller, body, billing.now())


@router.get("/plans/{plan_id}", summary="Retrieve a plan", responses=errors(404))
async def retrieve_plan(
    plan_id: str, billing: Billing = Depends(get_billing), caller: Caller = Depends(authenticate)
) -> RestPlan:
    return await plans.retrieve_plan(billing.db, caller, plan_id)


@router.patch(
    "/plans/{plan_id}",
    summary="Update a plan (period_amount and billing_interval cannot change)",
    responses=errors(404, 413),
)
async def update_plan(
    plan_id: str,
    body: PlanUpdate,
    billing: Billing = Depends(get_billing),
    caller: Caller = Depends(authenticate),
) -> RestPlan:
    return await plans.update_plan(billing.db, caller, plan_id, body, billing.now())


@router.delete(
    "/plans/{plan_id}", summary="Delete a plan and its credit bundles", responses=errors(404)
)
async def delete_plan(
    plan_id: str, billing: Billing = Depends(get_billing), caller: Caller = Depends(authenticate)
) -> Deleted:
    await plans.delete_plan(billing.db, caller, plan_id, billing.now())
    return {"id": plan_id, "deleted": True}


@router.get("/credit_bundles", summary="List credit bundles, newest first")
async def list_credit_bundles(
    plan_id: str | None = Query(None, max_length=64, description="Only this plan's bundles."),
    billing: Billing = Depends(get_billing),
    caller: Caller = Depends(authenticate),
    params: PageParams = Depends(page_params),
) -> Page[RestCreditBundle]:
    params.check_cursor(id_pattern("cb", caller.livemode))
    items, more = await plans.list_bundles(
        billing.db, caller, plan_id or None, params.cursor, params.limit
    )
    return _page(items, more, items[-1]["credit_bundle_id"] if items else "")


@router.get(
    "/credit_bundles/{credit_bundle_id}", summary="Retrieve a credit bundle", responses=errors(404)
)
async def retrieve_credit_bundle(
    credit_bundle_id: str,
    billing: Billing = Depends(get_billing),
    caller: Caller = Depends(authenticate),
) -> RestCreditBundle:
    return await plans.retrieve_bundle(billing.db, caller, credit_bundle_id)


@router.post(
    "/subscriptions",
    status_code=201,
    summary="Put a customer on a free plan (paid plans need checkout)",
    responses=errors(404, 409),
)
async def create_subscription(
    body: SubscriptionCreate,
    billing: Billing = Depends(get_billing),
    caller: Caller = Depends(authenticate),
) -> SubscriptionAnswer:
    return {"subscription": await current.create(billing.db, caller, body, billing.now())}


@router.get("/subscriptions", summary="List subscriptions, newest first", responses=errors(404))
async def list_subscriptions(
    status: str = Query("active", description="active (default), cancelled or all."),
    customer_id: str | None = Query(
        None, max_length=255, description="A customer's id or reference_id."
    ),
    billing: Billing = Depends(get_billing),
    caller: Caller = Depends(authenticate),
    params: PageParams = Depends(page_params),
) -> Page[RestSubscription]:
    if status not in ("active", "cancelled", "all"):
        raise InvalidRequest("status must be active, cancelled or all.", param="status")
    params.check_cursor(id_pattern("as", caller.livemode))
    items, more = await current.list_page(
        billing.db,
        caller,
        status=status,
        customer_id=customer_id or None,
        cursor=params.cursor,
        limit=params.limit,
    )
    return _page(items, more, items[-1]["subscription_id"] if items else "")


@router.patch(
    "/subscriptions/{subscription_id}",
    summary="Set a subscription's auto top-up bundle",
    responses=errors(404),
)
async def update_subscription(
    subscription_id: str,
    body: SubscriptionUpdate,
    billing: Billing = Depends(get_billing),
    caller: Caller = Depends(authenticate),
) -> Success:
    await current.update(billing.db, caller, subscription_id, body)
    return {"success": True}


@router.delete(
    "/subscriptions/{subscription_id}",
    summary="Cancel a subscription at the end of its cycle",
    responses=errors(404),
)
async def cancel_subscription(
    subscription_id: str,
    billing: Billing = Depends(get_billing),
    caller: Caller = Depends(authenticate),
) -> Success:
    await current.cancel(billing.db, caller, subscription_id, billing.now())
    return {"success": True}
