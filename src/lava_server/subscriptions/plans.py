"""The current API's plans and credit bundles (`docs/current-api.md#plans`). A plan is a
subscription config (same `sc_` id): the seed-era routes see and change the same rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import cast

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.api.auth import Caller
from lava_server.db.engine import Database
from lava_server.db.models import CreditBundle, SubscriptionConfig
from lava_server.errors import InvalidRequest, NotFound
from lava_server.ids import new_id
from lava_server.pricing import format_money
from lava_server.subscriptions import repository
from lava_server.subscriptions.current_schemas import (
    BillingInterval,
    BundleChange,
    BundleCreate,
    PlanCreate,
    PlanUpdate,
    RestCreditBundle,
    RestPlan,
)
from lava_server.subscriptions.schemas import RolloverType
from lava_server.timeutil import iso

ZERO = Decimal(0)
FREE_PLAN_NAME = "Free"


def render_plan(
    config: SubscriptionConfig,
    meters: Sequence[tuple[str, str]],
    bundles: Sequence[CreditBundle],
) -> RestPlan:
    return {
        "plan_id": config.id,
        "merchant_id": config.merchant_id,
        "name": config.name,
        "period_amount": format_money(config.period_amount),
        "included_credit": format_money(config.included_credit),
        "billing_interval": cast(BillingInterval, config.billing_interval),
        "rollover_type": cast(RolloverType, config.rollover_type),
        "bundle_rollover_type": cast(RolloverType, config.bundle_rollover_type),
        "default_auto_top_up_bundle_id": config.default_auto_top_up_bundle_id,
        "linked_meters": [{"meter_id": id_, "name": name} for id_, name in meters],
        "credit_bundles": [
            {
                "credit_bundle_id": bundle.id,
                "name": bundle.name,
                "cost": format_money(bundle.cost),
                "credit_amount": format_money(bundle.credit_amount),
            }
            for bundle in bundles
        ],
        "created_at": iso(config.created_at),
    }


def render_bundle(bundle: CreditBundle) -> RestCreditBundle:
    return {
        "credit_bundle_id": bundle.id,
        "plan_id": bundle.plan_id,
        "name": bundle.name,
        "cost": format_money(bundle.cost),
        "credit_amount": format_money(bundle.credit_amount),
        "created_at": iso(bundle.created_at),
    }


async def render_many(
    session: AsyncSession, configs: Sequence[SubscriptionConfig]
) -> list[RestPlan]:
    ids = [config.id for config in configs]
    meters = await repository.linked_meters(session, ids)
    bundles = await repository.bundles_of(session, ids)
    return [render_plan(config, meters[config.id], bundles[config.id]) for config in configs]


async def ensure_free_plan(db: Database, caller: Caller, now: datetime) -> None:
    """Every merchant has a $0 Free plan in each mode, made the first time it is needed."""
    async with db.read() as session:
        if await repository.free_plan(session, caller.merchant_id, caller.livemode) is not None:
            return
    try:
        async with db.write() as session:
            await repository.add_config(
                session,
                SubscriptionConfig(
                    id=new_id("sc", caller.livemode),
                    merchant_id=caller.merchant_id,
                    livemode=caller.livemode,
                    name=FREE_PLAN_NAME,
                    period_amount=ZERO,
                    included_credit=ZERO,
                    rollover_type="none",
                    bundle_rollover_type="full",
                    billing_interval="month",
                    is_free=True,
                    created_at=now,
                    updated_at=now,
                ),
            )
    except IntegrityError:
        pass  # made meanwhile by another request


async def _get(session: AsyncSession, caller: Caller, plan_id: str) -> SubscriptionConfig:
    config = await repository.get_config(session, caller.merchant_id, caller.livemode, plan_id)
    if config is None:
        raise NotFound(f"No plan {plan_id}.", param="plan_id")
    return config


async def _check_meters(session: AsyncSession, caller: Caller, meter_ids: Sequence[str]) -> None:
    live = await repository.live_meter_ids(session, caller.merchant_id, caller.livemode, meter_ids)
    for meter_id in meter_ids:
        if meter_id not in live:
            raise InvalidRequest(f"meter_ids: no meter {meter_id}.", param="meter_ids")


def _new_bundle(
    caller: Caller, plan_id: str, params: BundleCreate, position: int, now: datetime
) -> CreditBundle:
    return CreditBundle(
        id=new_id("cb", caller.livemode),
        plan_id=plan_id,
        merchant_id=caller.merchant_id,
        livemode=caller.livemode,
        name=params.name,
        cost=params.cost,
        credit_amount=params.credit_amount,
        position=position,
        created_at=now,
        updated_at=now,
    )


async def create_plan(db: Database, caller: Caller, params: PlanCreate, now: datetime) -> RestPlan:
    included = params.period_amount if params.included_credit is None else params.included_credit
    if included > params.period_amount:
        raise InvalidRequest(
            "included_credit must be at most period_amount.", param="included_credit"
        )
    bundles = params.credit_bundles or []
    index = params.default_auto_top_up_bundle_index
    if index is not None and index >= len(bundles):
        raise InvalidRequest(
            "default_auto_top_up_bundle_index must be the index of one of credit_bundles.",
            param="default_auto_top_up_bundle_index",
        )
    config = SubscriptionConfig(
        id=new_id("sc", caller.livemode),
        merchant_id=caller.merchant_id,
        livemode=caller.livemode,
        name=params.name,
        period_amount=params.period_amount,
        included_credit=included,
        billing_interval=params.billing_interval,
        rollover_type=params.rollover_type,
        bundle_rollover_type=params.bundle_rollover_type,
        is_free=False,
        created_at=now,
        updated_at=now,
    )
    async with db.write() as session:
        if params.meter_ids:
            await _check_meters(session, caller, params.meter_ids)
        await repository.add_config(session, config)
        await session.flush()
        made = [_new_bundle(caller, config.id, b, n, now) for n, b in enumerate(bundles)]
        for bundle in made:
            await repository.add_bundle(session, bundle)
        if index is not None:
            config.default_auto_top_up_bundle_id = made[index].id
        if params.meter_ids:
            await repository.set_linked_meters(session, config.id, params.meter_ids)
        return (await render_many(session, [config]))[0]


async def list_plans(
    db: Database, caller: Caller, cursor: str | None, limit: int
) -> tuple[list[RestPlan], bool]:
    async with db.read() as session:
        rows = await repository.page_configs(
            session, caller.merchant_id, caller.livemode, cursor, limit
        )
        return await render_many(session, rows[:limit]), len(rows) > limit


async def retrieve_plan(db: Database, caller: Caller, plan_id: str) -> RestPlan:
    async with db.read() as session:
        return (await render_many(session, [await _get(session, caller, plan_id)]))[0]


async def _reconcile_bundles(
    session: AsyncSession,
    caller: Caller,
    config: SubscriptionConfig,
    changes: Sequence[BundleChange],
    now: datetime,
) -> None:
    current = {b.id: b for b in (await repository.bundles_of(session, [config.id]))[config.id]}
    position = max((b.position for b in current.values()), default=-1) + 1
    for change in changes:
        if change.credit_bundle_id is None:
            if change.is_deleted:
                raise InvalidRequest(
                    "credit_bundles: is_deleted needs the credit_bundle_id to delete.",
                    param="credit_bundles",
                )
            await repository.add_bundle(
                session, _new_bundle(caller, config.id, change, position, now)
            )
            position += 1
            continue
        bundle = current.get(change.credit_bundle_id)
        if bundle is None:
            raise InvalidRequest(
                f"credit_bundles: no credit bundle {change.credit_bundle_id} on this plan.",
                param="credit_bundles",
            )
        if change.is_deleted:
            bundle.deleted_at = now
            if config.default_auto_top_up_bundle_id == bundle.id:
                config.default_auto_top_up_bundle_id = None
        else:
            bundle.name, bundle.cost = change.name, change.cost
            bundle.credit_amount = change.credit_amount
        bundle.updated_at = now


async def update_plan(
    db: Database, caller: Caller, plan_id: str, params: PlanUpdate, now: datetime
) -> RestPlan:
    given = params.model_fields_set
    for field in ("period_amount", "billing_interval"):
        if field in given:
            raise InvalidRequest(f"{field} cannot be changed once a plan exists.", param=field)
    async with db.write() as session:
        config = await _get(session, caller, plan_id)
        if params.name is not None:
            config.name = params.name
        if params.rollover_type is not None:
            config.rollover_type = params.rollover_type
        if params.bundle_rollover_type is not None:
            config.bundle_rollover_type = params.bundle_rollover_type
        if params.included_credit is not None:
            if params.included_credit > config.period_amount:
                raise InvalidRequest(
                    "included_credit must be at most period_amount.", param="included_credit"
                )
            config.included_credit = params.included_credit
        if params.meter_ids is not None:
            await _check_meters(session, caller, params.meter_ids)
            await repository.set_linked_meters(session, config.id, params.meter_ids)
        if params.credit_bundles is not None:
            await _reconcile_bundles(session, caller, config, params.credit_bundles, now)
            await session.flush()
        if "default_auto_top_up_bundle_id" in given:
            bundle_id = params.default_auto_top_up_bundle_id
            if bundle_id is not None:
                bundle = await repository.get_bundle(
                    session, caller.merchant_id, caller.livemode, bundle_id
                )
                if bundle is None or bundle.plan_id != config.id:
                    raise InvalidRequest(
                        f"default_auto_top_up_bundle_id: no credit bundle {bundle_id} on "
                        "this plan.",
                        param="default_auto_top_up_bundle_id",
                    )
            config.default_auto_top_up_bundle_id = bundle_id
        config.updated_at = now
        await session.flush()
        return (await render_many(session, [config]))[0]


async def delete_plan(db: Database, caller: Caller, plan_id: str, now: datetime) -> None:
    """Soft delete of the plan and its bundles; running subscriptions keep theirs."""
    async with db.write() as session:
        config = await _get(session, caller, plan_id)
        if config.is_free:
            raise InvalidRequest("The Free plan cannot be deleted.", param="plan_id")
        config.deleted_at = now
        await repository.delete_bundles_of(session, config.id, now)


async def list_bundles(
    db: Database, caller: Caller, plan_id: str | None, cursor: str | None, limit: int
) -> tuple[list[RestCreditBundle], bool]:
    async with db.read() as session:
        rows = await repository.page_bundles(
            session, caller.merchant_id, caller.livemode, plan_id, cursor, limit
        )
    return [render_bundle(b) for b in rows[:limit]], len(rows) > limit


async def retrieve_bundle(db: Database, caller: Caller, bundle_id: str) -> RestCreditBundle:
    async with db.read() as session:
        bundle = await repository.get_bundle(
            session, caller.merchant_id, caller.livemode, bundle_id
        )
    if bundle is None:
        raise NotFound(f"No credit bundle {bundle_id}.", param="credit_bundle_id")
    return render_bundle(bundle)
