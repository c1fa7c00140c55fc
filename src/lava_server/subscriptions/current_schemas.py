"""The current API's plans, credit bundles and subscriptions (`docs/current-api.md#plans`):
the bodies it accepts and the `Rest*` shapes it answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import NotRequired, TypedDict

from lava_server.api.schemas import closed
from lava_server.money import DecimalString, MoneyString
from lava_server.subscriptions.schemas import MAX_PERIOD_AMOUNT, Name, RolloverType
from lava_server.timeutil import Timestamp

BillingInterval = Literal["day", "week", "month", "year"]
Status = Literal["active", "cancelled"]
ObjectId = Annotated[str, Field(min_length=1, max_length=64)]
CENT = Decimal("0.01")


def cents(value: Decimal, *, positive: bool = False, at_most: Decimal | None = None) -> Decimal:
    if value < 0 or (positive and value == 0):
        raise ValueError("must be greater than 0" if positive else "must not be negative")
    if at_most is not None and value > at_most:
        raise ValueError(f"must be at most {at_most}")
    if value != value.quantize(CENT):
        raise ValueError("must be a whole number of cents (at most 2 decimal places)")
    return value


class BundleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    cost: DecimalString
    credit_amount: DecimalString

    @field_validator("cost", "credit_amount")
    @classmethod
    def _money(cls, value: Decimal) -> Decimal:
        return cents(value, positive=True, at_most=MAX_PERIOD_AMOUNT)


class BundleChange(BundleCreate):
    """In `PATCH /v1/plans/{id}`: with `credit_bundle_id` an existing bundle (changed, or
    deleted with `is_deleted`), without one a new bundle."""

    credit_bundle_id: ObjectId | None = None
    is_deleted: bool = False


class PlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    period_amount: DecimalString
    billing_interval: BillingInterval
    rollover_type: RolloverType = "none"
    bundle_rollover_type: RolloverType = "full"
    included_credit: DecimalString | None = None
    default_auto_top_up_bundle_index: Annotated[int, Field(ge=0)] | None = None
    meter_ids: Annotated[list[ObjectId], Field(max_length=100)] | None = None
    credit_bundles: Annotated[list[BundleCreate], Field(max_length=20)] | None = None

    @field_validator("period_amount")
    @classmethod
    def _period(cls, value: Decimal) -> Decimal:
        return cents(value, at_most=MAX_PERIOD_AMOUNT)

    @field_validator("included_credit")
    @classmethod
    def _included(cls, value: Decimal | None) -> Decimal | None:
        return None if value is None else cents(value, at_most=MAX_PERIOD_AMOUNT)


class PlanUpdate(BaseModel):
    """Fields left out stay. `period_amount` and `billing_interval` cannot change (400)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    rollover_type: RolloverType | None = None
    bundle_rollover_type: RolloverType | None = None
    included_credit: DecimalString | None = None
    default_auto_top_up_bundle_id: ObjectId | None = None
    meter_ids: Annotated[list[ObjectId], Field(max_length=100)] | None = None
    credit_bundles: Annotated[list[BundleChange], Field(max_length=40)] | None = None
    period_amount: Any = Field(None, description="Immutable: any value is a 400.")
    billing_interval: Any = Field(None, description="Immutable: any value is a 400.")

    @field_validator("included_credit")
    @classmethod
    def _included(cls, value: Decimal | None) -> Decimal | None:
        return None if value is None else cents(value, at_most=MAX_PERIOD_AMOUNT)


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: Annotated[str, Field(min_length=1, max_length=255)]
    plan_id: ObjectId


class SubscriptionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auto_top_up_bundle_id: ObjectId | None = None


@closed
class RestPlanLinkedMeter(TypedDict):
    meter_id: str
    name: str


@closed
class RestPlanCreditBundle(TypedDict):
    credit_bundle_id: str
    name: str
    cost: MoneyString
    credit_amount: MoneyString


@closed
class RestPlan(TypedDict):
    """A plan: a subscription config (same `sc_` id) seen through the current API."""

    plan_id: str
    merchant_id: str
    name: str
    period_amount: MoneyString
    included_credit: MoneyString
    billing_interval: BillingInterval
    rollover_type: RolloverType
    bundle_rollover_type: RolloverType
    default_auto_top_up_bundle_id: str | None
    linked_meters: list[RestPlanLinkedMeter]
    credit_bundles: list[RestPlanCreditBundle]
    created_at: Timestamp


@closed
class RestCreditBundle(TypedDict):
    credit_bundle_id: str
    plan_id: str
    name: str
    cost: MoneyString
    credit_amount: MoneyString
    created_at: Timestamp


@closed
class SubscriptionPlan(TypedDict):
    name: str
    period_amount: MoneyString
    included_credit: MoneyString
    billing_interval: BillingInterval
    rollover_type: RolloverType
    bundle_rollover_type: RolloverType


@closed
class SubscriptionCredits(TypedDict):
    total_remaining: MoneyString
    cycle_remaining: MoneyString
    bundle_remaining: MoneyString


@closed
class PendingChange(TypedDict):
    """A change taking effect at `effective_at` (the cycle's end): a cancellation, or a
    downgrade to the plan it names."""

    type: Literal["cancellation", "downgrade"]
    effective_at: str | None
    plan_id: NotRequired[str]
    name: NotRequired[str]
    period_amount: NotRequired[MoneyString]
    included_credit: NotRequired[MoneyString]


@closed
class RestSubscriptionBase(TypedDict):
    """The subscription (an active subscription of the seed era, same id) and its credits."""

    subscription_id: str
    plan_id: str
    status: Status
    auto_top_up_bundle_id: str | None
    started_at: Timestamp
    cancelled_at: str | None
    cycle_start_at: str | None
    cycle_end_at: str | None
    plan: SubscriptionPlan
    credits: SubscriptionCredits
    pending_change: PendingChange | None


@closed
class RestSubscriptionCustomer(TypedDict):
    phone: str
    email: NotRequired[str]
    first_name: NotRequired[str]
    last_name: NotRequired[str]


@closed
class RestSubscription(RestSubscriptionBase):
    """A subscription in `GET /v1/subscriptions`: with its customer."""

    customer_id: str
    customer: RestSubscriptionCustomer


@closed
class SubscriptionAnswer(TypedDict):
    subscription: RestSubscriptionBase
