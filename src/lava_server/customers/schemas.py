"""The answers of `/v1/customers`: the `RestCustomer` shapes of the current API."""

from __future__ import annotations

from typing import Any, Literal

from typing_extensions import NotRequired, TypedDict

from lava_server.api.schemas import closed
from lava_server.money import MoneyString
from lava_server.timeutil import Timestamp

Status = Literal["active", "cancelled"]


@closed
class CustomerContact(TypedDict):
    """Unknown details are empty strings."""

    phone: str
    email: str
    first_name: str
    last_name: str


@closed
class CustomerSubscription(TypedDict):
    """The customer's running subscription, in brief."""

    subscription_id: str
    plan_id: str
    name: str
    status: Status


@closed
class RestCustomer(TypedDict):
    """A customer: a connection (same `con_` id) seen through the current API. Extension:
    `connection_secret`, the secret the seed-era routes use."""

    customer_id: str
    reference_id: str | None
    contact: CustomerContact
    subscription: CustomerSubscription | None
    metadata: dict[str, Any] | None
    created_at: Timestamp
    connection_secret: NotRequired[str]


@closed
class SubscriptionPlan(TypedDict):
    name: str
    period_amount: MoneyString
    included_credit: MoneyString
    billing_interval: Literal["day", "week", "month", "year"]
    rollover_type: Literal["full", "none"]
    bundle_rollover_type: Literal["full", "none"]


@closed
class SubscriptionCredits(TypedDict):
    total_remaining: MoneyString
    cycle_remaining: MoneyString
    bundle_remaining: MoneyString


@closed
class PendingChange(TypedDict):
    type: Literal["cancellation", "downgrade"]
    effective_at: str | None


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
class CustomerSubscriptionAnswer(TypedDict):
    """`GET /v1/customers/{id}/subscription`: null when the customer has none running."""

    subscription: RestSubscriptionBase | None
