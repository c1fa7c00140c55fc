from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator
from typing_extensions import NotRequired, TypedDict

from lava_server.api.names import either
from lava_server.api.schemas import closed
from lava_server.errors import InvalidRequest
from lava_server.metadata import Metadata
from lava_server.money import MoneyString
from lava_server.products.schemas import Payer, RateType, Tier, TokenBasis
from lava_server.timeutil import Timestamp

Count = Annotated[StrictInt, Field(ge=0, le=10**15)]
Secret = Annotated[str, Field(min_length=1, max_length=255)]


Name = Annotated[str, Field(min_length=1, max_length=255)]


class RequestCreate(BaseModel):
    """`CreateRequestParams` of both eras (`docs/current-api.md#requests-and-usage`): the
    customer as `connection_secret` (seed) or `customer_id` (current; also `connection_id`, an
    id or the merchant's `reference_id`), the meter as `product_secret` (seed) or `meter_slug`
    (current; a slug, else an id; also `meter_id`/`product_id`), plus our `provider`/`model`
    extension."""

    model_config = ConfigDict(extra="forbid")

    request_id: Annotated[str, Field(min_length=1, max_length=255)]
    connection_secret: Secret | None = None
    product_secret: Secret | None = None
    customer_id: Name | None = None
    connection_id: Name | None = None
    meter_slug: Name | None = None
    meter_id: Name | None = None
    product_id: Name | None = None
    metadata: Metadata | None = None
    input_tokens: Count = 0
    output_tokens: Count = 0
    input_characters: Count = 0
    output_characters: Count = 0
    input_seconds: Count = 0
    output_seconds: Count = 0
    provider: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    model: Annotated[str, Field(min_length=1, max_length=255)] | None = None

    @field_validator("request_id")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable():
            raise ValueError("must be printable characters")
        return value

    @property
    def customer(self) -> str | None:
        """The customer named by id or reference (`customer_id` or `connection_id`)."""
        return either("customer_id", self.customer_id, "connection_id", self.connection_id)

    @property
    def meter(self) -> str | None:
        """The meter named by id (`meter_id` or `product_id`)."""
        return either("meter_id", self.meter_id, "product_id", self.product_id)

    def check_names(self) -> None:
        """400 unless a customer and a meter are named, each pair of names agreeing."""
        if self.customer is None and self.connection_secret is None:
            raise InvalidRequest(
                "customer_id is required (or the seed era's connection_secret).",
                param="customer_id",
            )
        if self.meter is None and self.meter_slug is None and self.product_secret is None:
            raise InvalidRequest(
                "meter_slug is required (or meter_id, or the seed era's product_secret).",
                param="meter_slug",
            )

    @property
    def seed_secrets(self) -> tuple[str, str] | None:
        """`(connection_secret, product_secret)` when the report names its customer and meter
        by these alone, as in the seed era."""
        if self.connection_secret is None or self.product_secret is None:
            return None
        if any(getattr(self, name) is not None for name in _NAMES[2:]):
            return None
        return self.connection_secret, self.product_secret

    def fingerprint(self, connection_secret: str, product_secret: str) -> str:
        """What makes two reports of one `request_id` the same report: the same connection and
        product, however named, and the same values. (The seed era's form, unchanged, so that
        reports stored before keep their fingerprint.)"""
        canonical = self.model_dump(exclude={"request_id", *_NAMES})
        canonical["connection_secret"] = connection_secret
        canonical["product_secret"] = product_secret
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


_NAMES = (
    "connection_secret",
    "product_secret",
    "customer_id",
    "connection_id",
    "meter_slug",
    "meter_id",
    "product_id",
)


Units = Annotated[int, Field(ge=0)]
RequestStatus = Literal["pending", "completed", "error"]
KeyType = Literal["managed", "unmanaged", "stored"]


@closed
class ModelUsage(TypedDict):
    """What the provider call consumed and what it cost."""

    input_tokens: Units
    output_tokens: Units
    total_tokens: Units
    input_characters: Units
    output_characters: Units
    total_characters: Units
    input_seconds: Units
    output_seconds: Units
    total_seconds: Units
    input_cost: MoneyString
    output_cost: MoneyString
    total_cost: MoneyString
    payer: Payer


@closed
class FeeBreakdown(TypedDict):
    """The part of the fee charged in one tier."""

    tier: Tier
    tokens: Units
    characters: Units
    seconds: Units
    cost: MoneyString


@closed
class Fee(TypedDict):
    """The merchant's fee."""

    amount: MoneyString
    rate_type: RateType
    token_basis: TokenBasis
    breakdown: list[FeeBreakdown]


@closed
class Charge(TypedDict):
    """The current API's name of the merchant's fee: the same, less its `token_basis`."""

    amount: MoneyString
    rate_type: RateType
    breakdown: list[FeeBreakdown]


@closed
class ServiceCharge(TypedDict):
    amount: MoneyString
    payer: Payer


@closed
class RestRequest(TypedDict):
    """One metered request: reported with `POST /v1/requests`, or forwarded (`pending` until
    it is billed). The optional keys are present when they have a value. Both eras' fields
    (`docs/current-api.md#requests-and-usage`): `customer_id` = `connection_id`, `meter_id` =
    `product_id`, `cost` = `model_usage.total_cost`, `charge` = `fee` without `token_basis`."""

    request_id: str
    status: RequestStatus
    provider: str
    provider_key_type: KeyType
    endpoint: str
    model_usage: ModelUsage
    fee: Fee
    service_charge: ServiceCharge
    cost: MoneyString
    charge: Charge
    total_request_cost: MoneyString
    total_wallet_cost: MoneyString
    total_merchant_cost: MoneyString
    metadata: dict[str, str]
    created_at: Timestamp
    connection_id: NotRequired[str]
    customer_id: NotRequired[str]
    product_id: NotRequired[str]
    meter_id: NotRequired[str]
    model: NotRequired[str]
    response_id: NotRequired[str]
    timestamp: NotRequired[Timestamp]
