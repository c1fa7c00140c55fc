from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator
from typing_extensions import NotRequired, TypedDict

from lava_server.api.schemas import closed
from lava_server.metadata import Metadata
from lava_server.money import MoneyString
from lava_server.products.schemas import Payer, RateType, Tier, TokenBasis
from lava_server.timeutil import Timestamp

Count = Annotated[StrictInt, Field(ge=0, le=10**15)]
Secret = Annotated[str, Field(min_length=1, max_length=255)]


class RequestCreate(BaseModel):
    """`CreateRequestParams` of the seed, plus our `provider`/`model` extension."""

    model_config = ConfigDict(extra="forbid")

    request_id: Annotated[str, Field(min_length=1, max_length=255)]
    connection_secret: Secret
    product_secret: Secret
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

    def fingerprint(self) -> str:
        """What makes two reports of one `request_id` the same report."""
        canonical = self.model_dump(exclude={"request_id"})
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


Units = Annotated[int, Field(ge=0)]
RequestStatus = Literal["pending", "completed", "error"]
KeyType = Literal["managed", "unmanaged"]


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
class ServiceCharge(TypedDict):
    amount: MoneyString
    payer: Payer


@closed
class RestRequest(TypedDict):
    """One metered request: reported with `POST /v1/requests`, or forwarded (`pending` until
    it is billed). The optional keys are present when they have a value."""

    request_id: str
    status: RequestStatus
    provider: str
    provider_key_type: KeyType
    endpoint: str
    model_usage: ModelUsage
    fee: Fee
    service_charge: ServiceCharge
    total_request_cost: MoneyString
    total_wallet_cost: MoneyString
    total_merchant_cost: MoneyString
    metadata: dict[str, str]
    created_at: Timestamp
    connection_id: NotRequired[str]
    product_id: NotRequired[str]
    model: NotRequired[str]
    response_id: NotRequired[str]
    timestamp: NotRequired[Timestamp]
