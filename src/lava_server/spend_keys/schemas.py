"""`/v1/spend_keys` of the current API (`docs/current-api.md#spend-keys`): the bodies of create
and update (every field of the 11.2.0 SDK's `CreateSpendKeyParams`/`UpdateSpendKeyParams`, with
our extension `customer_id` and `meter_slug` on create) and the `RestSpendKey` answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, field_validator
from typing_extensions import TypedDict

from lava_server.api.schemas import closed
from lava_server.money import DecimalString, MoneyString
from lava_server.periods import LimitCycle
from lava_server.timeutil import Timestamp

Status = Literal["active", "paused"]
RequestShape = Literal["openai", "anthropic"]
Name = Annotated[str, Field(min_length=1, max_length=255)]
ModelName = Annotated[str, Field(min_length=1, max_length=255)]
# A provider as our registry names it (`openai`, `googleOpenaiCompatible`: case matters).
ProviderName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
MAX_ALLOWED = 500
MAX_COUNT = 10**15
MAX_RPM = 1_000_000


def _unique(value: list[str] | None) -> list[str] | None:
    """Duplicates dropped, order kept."""
    return None if value is None else list(dict.fromkeys(value))


class SpendLimit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: DecimalString
    cycle: LimitCycle

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError("must be > 0")
        return value


class RequestLimit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: Annotated[StrictInt, Field(ge=1, le=MAX_COUNT)]
    cycle: LimitCycle


class RateLimit(BaseModel):
    """A token bucket: `burst` (default `rpm`) calls at once, refilled at `rpm` a minute."""

    model_config = ConfigDict(extra="forbid")

    rpm: Annotated[StrictInt, Field(ge=1, le=MAX_RPM)]
    burst: Annotated[StrictInt, Field(ge=1, le=MAX_RPM)] | None = None


class KeySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowed_models: Annotated[list[ModelName], Field(max_length=MAX_ALLOWED)] | None = None
    allowed_providers: Annotated[list[ProviderName], Field(max_length=MAX_ALLOWED)] | None = None
    spend_limit: SpendLimit | None = None
    request_limit: RequestLimit | None = None
    rate_limit: RateLimit | None = None
    expires_at: AwareDatetime | None = None

    _models = field_validator("allowed_models")(_unique)
    _providers = field_validator("allowed_providers")(_unique)


class SpendKeyCreate(KeySettings):
    """`POST /v1/spend_keys`. `customer_id` (a `con_` id or the customer's `reference_id`) binds
    the key to the customer's wallet, priced by the meter `meter_slug` (a slug or `prd_` id);
    without them the key spends the merchant's own account."""

    name: Name
    status: Status = "active"
    request_shape: RequestShape = "openai"
    customer_id: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    meter_slug: Annotated[str, Field(min_length=1, max_length=128)] | None = None


class SpendKeyUpdate(KeySettings):
    """`PUT /v1/spend_keys/{id}`: partial. Fields left out stay; `null` clears the nullable ones
    (an allowlist back to all, a limit off, no expiry)."""

    name: Name | None = None
    status: Status | None = None
    request_shape: RequestShape | None = None


@closed
class SpendLimitAnswer(TypedDict):
    amount: MoneyString
    cycle: LimitCycle


@closed
class RequestLimitAnswer(TypedDict):
    count: int
    cycle: LimitCycle


@closed
class RateLimitAnswer(TypedDict):
    rpm: int
    burst: int | None


@closed
class RestSpendKey(TypedDict):
    """A spend key. `current_*` count within the current cycle of the key's limit (its whole
    life without one), `total_*` within its whole life. Extensions: `customer_id`, `meter_id`
    and `meter_slug` (null for a key that spends the merchant's own account, whose `wallet_id`
    is then the merchant's id)."""

    spend_key_id: str
    key_preview: str
    name: str
    status: Status
    request_shape: RequestShape
    wallet_id: str
    allowed_models: list[str] | None
    allowed_providers: list[str] | None
    spend_limit: SpendLimitAnswer | None
    current_spend: MoneyString
    total_spend: MoneyString
    request_limit: RequestLimitAnswer | None
    current_requests: int
    total_requests: int
    rate_limit: RateLimitAnswer | None
    expires_at: Timestamp | None
    last_used_at: Timestamp | None
    created_at: Timestamp
    customer_id: str | None
    meter_id: str | None
    meter_slug: str | None


@closed
class RestSpendKeyCreated(RestSpendKey):
    """With the raw key, shown only here (and on rotate)."""

    key: str
