"""Parameter dictionaries, named as in the Node SDK.

The resource methods take these as keyword arguments; a ``TypedDict`` lets you build them ahead of
time and pass them with ``**`` while a type checker still checks every key::

    params: CreateCheckoutSessionParams = {"checkout_mode": "onboarding", "origin_url": url}
    client.checkout_sessions.create(**params)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TypeAlias, TypedDict

from .checkout_session import CheckoutMode
from .subscription import RolloverType

__all__ = [
    "CheckoutSessionsListParams",
    "ConnectionsListParams",
    "CreateCheckoutSessionParams",
    "CreateRequestParams",
    "CreateSubscriptionConfigParams",
    "MetadataFilters",
    "RequestsListParams",
    "UpdateSubscriptionConfigParams",
    "UsageParams",
]

MetadataFilters: TypeAlias = Mapping[str, str] | Sequence[tuple[str, str]]
"""Metadata pairs a request must all hold: a mapping or a sequence of ``(key, value)`` pairs."""


class _CreateCheckoutSessionRequired(TypedDict):
    checkout_mode: CheckoutMode
    origin_url: str


class CreateCheckoutSessionParams(_CreateCheckoutSessionRequired, total=False):
    """Arguments of ``checkout_sessions.create``."""

    reference_id: str
    connection_id: str
    subscription_config_id: str
    customer_id: str
    plan_id: str
    credit_bundle_id: str


class CheckoutSessionsListParams(TypedDict, total=False):
    """Arguments of ``checkout_sessions.list``."""

    cursor: str
    limit: int
    reference_id: str


class ConnectionsListParams(TypedDict, total=False):
    """Arguments of ``connections.list``."""

    cursor: str
    limit: int
    reference_id: str


class RequestsListParams(TypedDict, total=False):
    """Arguments of ``requests.list``."""

    cursor: str
    limit: int
    connection_id: str
    product_id: str
    metadata_filters: MetadataFilters
    customer_id: str
    meter_id: str


class _CreateRequestRequired(TypedDict):
    request_id: str
    connection_secret: str
    product_secret: str


class CreateRequestParams(_CreateRequestRequired, total=False):
    """Arguments of ``requests.create``."""

    metadata: Mapping[str, str]
    input_tokens: int
    output_tokens: int
    input_characters: int
    output_characters: int
    input_seconds: int
    output_seconds: int


class _UsageRequired(TypedDict):
    start: str | datetime


class UsageParams(_UsageRequired, total=False):
    """Arguments of ``usage.retrieve``."""

    end: str | datetime
    connection_id: str
    product_id: str
    metadata_filters: MetadataFilters
    customer_id: str
    meter_id: str


class CreateSubscriptionConfigParams(TypedDict):
    """Arguments of ``subscriptions.create_config``."""

    name: str
    period_amount: str | Decimal
    rollover_type: RolloverType


class UpdateSubscriptionConfigParams(TypedDict, total=False):
    """Arguments of ``subscriptions.update_config`` (after the config id)."""

    name: str
    period_amount: str | Decimal
    rollover_type: RolloverType
