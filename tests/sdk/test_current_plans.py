"""The current API's plans, credit bundles and subscriptions through the SDK (grouped as the
Node SDK 11.x groups them: ``lava.subscriptions.*_plan``, ``lava.credit_bundles``), against our
own server over real HTTP, on SQLite and PostgreSQL, sync and async.

These routes (``/v1/plans``, ``/v1/credit_bundles``, ``/v1/subscriptions``) are served once the
server's current-era plans land; until then these tests fail with 404."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from lavapayments import BadRequestError, NotFoundError
from lavapayments.types import (
    DeletedResponse,
    RestCreditBundle,
    RestPlan,
    RestSubscription,
    RestSubscriptionCreateResponse,
    SuccessResponse,
)

from .conftest import call, collect
from .live import base_url, lava

__all__ = ["base_url", "lava"]

TIERS = [{"start": "0", "rate": "1"}]


async def _meter(lava, slug: str):
    return await call(
        lava.meters.create(
            name=slug, meter_slug=slug, rate_type="fixed", tier_type="requests", tiers=TIERS
        )
    )


async def test_plans_and_credit_bundles(lava) -> None:
    meter = await _meter(lava, "plan-meter")
    plan = await call(
        lava.subscriptions.create_plan(
            name="Pro",
            period_amount=Decimal("25.00"),
            billing_interval="month",
            included_credit="20",
            meter_ids=[meter.meter_id],
            credit_bundles=[
                {"name": "Small", "cost": "10", "credit_amount": Decimal("12.5")},
                {"name": "Large", "cost": "50", "credit_amount": "70"},
            ],
            default_auto_top_up_bundle_index=0,
        )
    )
    assert isinstance(plan, RestPlan)
    assert plan.period_amount == Decimal("25") and plan.included_credit == Decimal("20")
    assert (plan.rollover_type, plan.bundle_rollover_type) == ("none", "full")  # defaults
    assert [m.meter_id for m in plan.linked_meters] == [meter.meter_id]
    assert [b.credit_amount for b in plan.credit_bundles] == [Decimal("12.5"), Decimal("70")]
    small = plan.credit_bundles[0]
    assert plan.default_auto_top_up_bundle_id == small.credit_bundle_id
    assert isinstance(plan.created_at, datetime)

    # A plan is a seed-era subscription config: the same id through both sets of routes.
    configs = await call(lava.subscriptions.list_configs())
    assert plan.plan_id in [c.subscription_config_id for c in configs]

    assert await call(lava.subscriptions.retrieve_plan(plan.plan_id)) == plan
    assert plan.plan_id in [p.plan_id for p in await collect(lava.subscriptions.list_plans())]

    bundles = await collect(lava.credit_bundles.list(plan_id=plan.plan_id, limit=1))
    assert all(isinstance(b, RestCreditBundle) and b.plan_id == plan.plan_id for b in bundles)
    assert {b.credit_bundle_id for b in bundles} == {
        b.credit_bundle_id for b in plan.credit_bundles
    }
    got = await call(lava.credit_bundles.retrieve(small.credit_bundle_id))
    assert got.cost == Decimal("10") and got.credit_amount == Decimal("12.5")

    changed = await call(
        lava.subscriptions.update_plan(
            plan.plan_id,
            name="Pro+",
            default_auto_top_up_bundle_id=None,  # sent as JSON null: cleared
            credit_bundles=[
                {
                    "credit_bundle_id": small.credit_bundle_id,
                    "name": "Small",
                    "cost": "10",
                    "credit_amount": "12.5",
                    "is_deleted": True,
                },
                {"name": "Medium", "cost": "20", "credit_amount": "25"},
            ],
        )
    )
    assert changed.name == "Pro+" and changed.default_auto_top_up_bundle_id is None
    assert sorted(b.name for b in changed.credit_bundles) == ["Large", "Medium"]
    assert changed.period_amount == Decimal("25")  # not given: stays
    with pytest.raises(BadRequestError):
        await call(lava.subscriptions.update_plan(plan.plan_id, extra_body={"period_amount": "1"}))

    gone = await call(lava.subscriptions.delete_plan(plan.plan_id))
    assert isinstance(gone, DeletedResponse) and gone.id == plan.plan_id
    with pytest.raises(NotFoundError):
        await call(lava.subscriptions.retrieve_plan(plan.plan_id))


async def test_subscriptions_on_a_free_plan(lava) -> None:
    free = await call(
        lava.subscriptions.create_plan(
            name="Starter",
            period_amount="0",
            billing_interval="month",
            credit_bundles=[{"name": "Refill", "cost": "5", "credit_amount": "5"}],
        )
    )
    paid = await call(
        lava.subscriptions.create_plan(name="Paid", period_amount="9", billing_interval="month")
    )
    customer = await call(lava.customers.create(reference_id="plans-1"))
    with pytest.raises(BadRequestError):  # a paid plan needs a checkout
        await call(
            lava.subscriptions.create(customer_id=customer.customer_id, plan_id=paid.plan_id)
        )

    made = await call(
        lava.subscriptions.create(customer_id=customer.customer_id, plan_id=free.plan_id)
    )
    assert isinstance(made, RestSubscriptionCreateResponse)
    sub = made.subscription
    assert sub.plan_id == free.plan_id and sub.status == "active"
    assert sub.credits.total_remaining == Decimal("0")

    listed = await collect(
        lava.subscriptions.list(customer_id=customer.customer_id, status="active")
    )
    assert [s.subscription_id for s in listed] == [sub.subscription_id]
    assert isinstance(listed[0], RestSubscription)
    assert listed[0].customer_id == customer.customer_id

    bundle = free.credit_bundles[0].credit_bundle_id
    done = await call(lava.subscriptions.update(sub.subscription_id, auto_top_up_bundle_id=bundle))
    assert isinstance(done, SuccessResponse) and done.success
    current = await call(lava.customers.get_subscription(customer.customer_id))
    assert current.subscription is not None
    assert current.subscription.auto_top_up_bundle_id == bundle
    await call(lava.subscriptions.update(sub.subscription_id, auto_top_up_bundle_id=None))
    current = await call(lava.customers.get_subscription(customer.customer_id))
    assert current.subscription is not None
    assert current.subscription.auto_top_up_bundle_id is None

    assert (await call(lava.subscriptions.cancel(sub.subscription_id))).success
    current = await call(lava.customers.get_subscription(customer.customer_id))
    assert current.subscription is not None and current.subscription.status == "active"
    change = current.subscription.pending_change
    assert change is not None and change.type == "cancellation"
    assert change.effective_at == current.subscription.cycle_end_at
