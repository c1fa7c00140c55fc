from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator
from typing_extensions import TypedDict

from lava_server.api.schemas import closed
from lava_server.money import DECIMAL_PATTERN, DecimalString
from lava_server.pricing.config import MAX_TIER_START
from lava_server.timeutil import Timestamp

RateType = Literal["fixed", "percentage"]
TokenBasis = Literal["input+output", "output"]
TierType = Literal["tokens_1m", "characters_1m", "minutes", "requests"]
Payer = Literal["wallet", "merchant"]
Overdraft = Literal["block", "allow"]
Name = Annotated[str, Field(min_length=1, max_length=255)]


class TierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: Annotated[StrictInt, Field(ge=0, le=MAX_TIER_START)]
    rate: DecimalString
    type: TierType


Tiers = Annotated[list[TierIn], Field(max_length=100)]


Slug = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    meter_slug: Slug | None = None
    rate_type: RateType = "fixed"
    token_basis: TokenBasis = "input+output"
    tiers: Tiers
    base_cost_payer: Payer = "wallet"
    service_charge_payer: Payer = "wallet"
    overdraft: Overdraft = "block"


class ProductUpdate(BaseModel):
    """Partial update: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    meter_slug: Slug | None = None
    rate_type: RateType | None = None
    token_basis: TokenBasis | None = None
    tiers: Tiers | None = None
    base_cost_payer: Payer | None = None
    service_charge_payer: Payer | None = None
    overdraft: Overdraft | None = None


@closed
class Tier(TypedDict):
    """A tier of a product's pricing, as stored and as answered."""

    start: Annotated[int, Field(ge=0)]
    rate: Annotated[str, Field(pattern=DECIMAL_PATTERN, description="As it was given.")]
    type: TierType


def tiers_to_json(tiers: list[TierIn]) -> list[dict[str, Any]]:
    """The stored form of tiers, which `RestProduct.tiers` answers as it is (`Tier`)."""
    # `:f`: a rate of 0.0000001 stays "0.0000001" (str() gives "1E-7", which is no plain decimal).
    return [{"start": t.start, "rate": f"{t.rate:f}", "type": t.type} for t in tiers]


@closed
class RestProduct(TypedDict):
    """A pricing product (our extension): what `POST /v1/requests` and forward tokens name by
    its `product_secret`."""

    product_id: str
    product_secret: str
    name: str
    rate_type: RateType
    token_basis: TokenBasis
    tiers: list[Tier]
    base_cost_payer: Payer
    service_charge_payer: Payer
    overdraft: Overdraft
    created_at: Timestamp
    updated_at: Timestamp
    meter_slug: str


# The current API's meters (`docs/current-api.md#meters`): products seen through `/v1/meters`.


class MeterTierIn(BaseModel):
    """A tier as the current API sends it: `start` a string of digits, the type on the meter."""

    model_config = ConfigDict(extra="forbid")

    start: Annotated[str, Field(pattern=r"^[0-9]{1,16}$")]
    rate: DecimalString

    @field_validator("start")
    @classmethod
    def _in_range(cls, value: str) -> str:
        if int(value) > MAX_TIER_START:
            raise ValueError(f"must be at most {MAX_TIER_START}")
        return value


MeterTiers = Annotated[list[MeterTierIn], Field(min_length=1, max_length=100)]


class MeterCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    meter_slug: Slug | None = None
    rate_type: RateType
    tier_type: TierType
    tiers: MeterTiers


class MeterUpdate(BaseModel):
    """Partial update: only the fields given change (the tiers keep the meter's type)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    tiers: MeterTiers | None = None


@closed
class MeterTier(TypedDict):
    start: int
    rate: Annotated[str, Field(pattern=DECIMAL_PATTERN)]
    type: TierType


@closed
class RestMeter(TypedDict):
    """A meter: a product (same `prd_` id) seen through the current API. Extensions:
    `product_secret` and `updated_at`."""

    meter_id: str
    meter_slug: str
    name: str
    rate_type: RateType
    tiers: list[MeterTier]
    created_at: Timestamp
    updated_at: Timestamp
    product_secret: str


def meter_tiers(tier_type: TierType, tiers: list[MeterTierIn]) -> list[TierIn]:
    """Validated already: the tiers in the form products keep."""
    return [TierIn.model_construct(start=int(t.start), rate=t.rate, type=tier_type) for t in tiers]
