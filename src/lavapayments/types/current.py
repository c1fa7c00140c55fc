"""Response models of the current API (the Node SDK 11.x's ``Rest*``): customers, meters,
plans, credit bundles, subscriptions, secret keys and models. Money is ``Decimal``, times
timezone-aware ``datetime``, in the Node SDK's fields and in our extensions alike."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeAlias

from .._models import BaseModel, Money

__all__ = [
    "BillingInterval",
    "RestCreditBundle",
    "RestCustomer",
    "RestCustomerContact",
    "RestCustomerSubscription",
    "RestCustomerSubscriptionResponse",
    "RestMeter",
    "RestMeterTier",
    "RestModel",
    "RestModelList",
    "RestPendingChange",
    "RestPlan",
    "RestPlanCreditBundle",
    "RestPlanLinkedMeter",
    "RestSecretKey",
    "RestSecretKeyCreate",
    "RestSubscription",
    "RestSubscriptionBase",
    "RestSubscriptionCreateResponse",
    "RestSubscriptionCredits",
    "RestSubscriptionCustomer",
    "RestSubscriptionPlan",
    "RolloverType",
    "SubscriptionStatus",
]

TierType = Literal["tokens_1m", "characters_1m", "minutes", "requests"]
BillingInterval: TypeAlias = Literal["day", "week", "month", "year"]
RolloverType: TypeAlias = Literal["full", "none"]
SubscriptionStatus: TypeAlias = Literal["active", "cancelled"]


class RestCustomerContact(BaseModel):
    """A customer's contact; unknown details are empty strings."""

    phone: str
    email: str
    first_name: str
    last_name: str


class RestCustomerSubscription(BaseModel):
    """The customer's running subscription, in brief."""

    subscription_id: str
    plan_id: str
    name: str
    status: str


class RestCustomer(BaseModel):
    """A customer (the same object, and ``con_`` id, as a connection)."""

    customer_id: str
    reference_id: str | None = None
    contact: RestCustomerContact
    subscription: RestCustomerSubscription | None = None
    metadata: dict[str, Any] | None = None
    created_at: datetime


class RestSubscriptionPlan(BaseModel):
    """The plan of a subscription."""

    name: str
    period_amount: Money
    included_credit: Money
    billing_interval: str
    rollover_type: str
    bundle_rollover_type: str


class RestSubscriptionCredits(BaseModel):
    """What is left of a subscription's credits (1 credit = $1)."""

    total_remaining: Money
    cycle_remaining: Money
    bundle_remaining: Money


class RestPendingChange(BaseModel):
    """A change that takes effect at the end of the cycle: a ``cancellation``, or a
    ``downgrade`` to the plan named here."""

    type: str
    effective_at: datetime | None = None
    plan_id: str | None = None
    name: str | None = None
    period_amount: Money | None = None
    included_credit: Money | None = None


class RestSubscriptionBase(BaseModel):
    """A customer's subscription, with its plan and credits."""

    subscription_id: str
    plan_id: str
    status: str
    auto_top_up_bundle_id: str | None = None
    started_at: datetime
    cancelled_at: datetime | None = None
    cycle_start_at: datetime | None = None
    cycle_end_at: datetime | None = None
    plan: RestSubscriptionPlan
    credits: RestSubscriptionCredits
    pending_change: RestPendingChange | None = None


class RestCustomerSubscriptionResponse(BaseModel):
    """The answer of ``customers.get_subscription``: ``subscription`` is None without one."""

    subscription: RestSubscriptionBase | None = None


class RestMeterTier(BaseModel):
    """A tier of a meter's rates, from ``start`` units on."""

    start: int
    rate: Money
    type: TierType


class RestMeter(BaseModel):
    """A meter (the same object, and ``prd_`` id, as a product)."""

    meter_id: str
    meter_slug: str
    name: str
    rate_type: Literal["fixed", "percentage"]
    tiers: list[RestMeterTier]
    created_at: datetime
    updated_at: datetime | None = None
    """Our extension: when the meter last changed."""


class RestSecretKey(BaseModel):
    """A secret key as listed: only its last 4 characters."""

    secret_key_id: str
    name: str
    secret_key_hint: str
    created_at: datetime


class RestSecretKeyCreate(RestSecretKey):
    """A new secret key, with the key itself: shown only in this answer."""

    secret_key: str


class RestModel(BaseModel):
    """A model with a price, in OpenAI's format."""

    id: str
    object: str
    created: int
    owned_by: str


class RestModelList(BaseModel):
    """The models with a price, in OpenAI's list format."""

    object: str
    data: list[RestModel]


class RestSubscriptionCustomer(BaseModel):
    """The subscriber's contact, in a subscriptions list."""

    phone: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None


class RestSubscription(RestSubscriptionBase):
    """A subscription as listed, with its customer."""

    customer_id: str
    customer: RestSubscriptionCustomer


class RestSubscriptionCreateResponse(BaseModel):
    """The answer of ``subscriptions.create``."""

    subscription: RestSubscriptionBase


class RestPlanLinkedMeter(BaseModel):
    """A meter whose usage a plan's credits pay for."""

    meter_id: str
    name: str


class RestPlanCreditBundle(BaseModel):
    """A credit bundle as part of its plan: ``credit_amount`` credits for ``cost``."""

    credit_bundle_id: str
    name: str
    cost: Money
    credit_amount: Money


class RestPlan(BaseModel):
    """A plan (the same object, and id, as a seed-era subscription config)."""

    plan_id: str
    merchant_id: str
    name: str
    period_amount: Money
    included_credit: Money
    billing_interval: BillingInterval
    rollover_type: RolloverType
    bundle_rollover_type: RolloverType
    default_auto_top_up_bundle_id: str | None = None
    linked_meters: list[RestPlanLinkedMeter]
    credit_bundles: list[RestPlanCreditBundle]
    created_at: datetime


class RestCreditBundle(BaseModel):
    """A credit bundle a plan's subscribers can buy."""

    credit_bundle_id: str
    plan_id: str
    name: str
    cost: Money
    credit_amount: Money
    created_at: datetime
