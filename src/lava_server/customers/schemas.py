"""The answers of `/v1/customers`: the `RestCustomer` shapes of the current API."""

from __future__ import annotations

from typing import Any, Literal

from typing_extensions import NotRequired, TypedDict

from lava_server.api.schemas import closed
from lava_server.subscriptions.current_schemas import RestSubscriptionBase
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
class CustomerSubscriptionAnswer(TypedDict):
    """`GET /v1/customers/{id}/subscription`: null when the customer has none running."""

    subscription: RestSubscriptionBase | None
