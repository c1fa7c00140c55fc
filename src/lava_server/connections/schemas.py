from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import NotRequired, TypedDict

from lava_server.api.schemas import closed
from lava_server.money import DecimalString, MoneyString
from lava_server.timeutil import Timestamp

Text = Annotated[str, Field(min_length=1, max_length=255)]


class TestConnectionCreate(BaseModel):
    """`POST /v1/test_helpers/connections` (sandbox only)."""

    model_config = ConfigDict(extra="forbid")

    balance: DecimalString = Decimal(0)
    reference_id: Text | None = None
    phone: Annotated[str, Field(pattern=r"^\+?[0-9]{6,15}$")] | None = None
    email: Annotated[str, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    first_name: Text | None = None
    last_name: Text | None = None


class TestFund(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: DecimalString

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError("must be > 0")
        return value


@closed
class ConnectionWallet(TypedDict):
    """The customer's wallet; `balance` is what it can spend now (holds of calls in flight
    taken out). Customer details the wallet lacks are empty strings."""

    balance: MoneyString
    phone: str
    email: str
    first_name: str
    last_name: str
    autopay_enabled: bool
    autopay_threshold: NotRequired[MoneyString]
    autopay_amount: NotRequired[MoneyString]


@closed
class RestConnection(TypedDict):
    """A connection, with its secret and wallet. The usage period (`previous_usage_reset` to
    `next_usage_reset`) follows the wallet's subscription while one runs."""

    connection_id: str
    connection_secret: str
    wallet: ConnectionWallet
    next_usage_reset: Timestamp
    previous_usage_reset: Timestamp
    created_at: Timestamp
    reference_id: NotRequired[str]


Phone = Annotated[str, Field(pattern=r"^\+?[0-9]{6,15}$")]
Email = Annotated[str, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
Name = Annotated[str, Field(min_length=1, max_length=511)]
MAX_METADATA_BYTES = 8192


def _check_metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and len(json.dumps(value)) > MAX_METADATA_BYTES:
        raise ValueError(f"must be at most {MAX_METADATA_BYTES} bytes of JSON")
    return value


def _check_name(value: str | None) -> str | None:
    """Its first and last names (split at the first space, as `service.split_name` stores them)
    each fit their column."""
    if value is not None:
        first, _, last = value.strip().partition(" ")
        if len(first) > 255 or len(last.strip()) > 255:
            raise ValueError(
                "its first and last names (split at the first space) may each be at most "
                "255 characters"
            )
    return value


def _check_reference(value: str | None) -> str | None:
    if value is not None and value.startswith("con_"):
        raise ValueError("may not start with con_ (customer ids do)")
    return value


class CustomerCreate(BaseModel):
    """`POST /v1/customers` (`docs/current-api.md#customers`)."""

    model_config = ConfigDict(extra="forbid")

    reference_id: Text | None = None
    email: Email | None = None
    phone: Phone | None = None
    name: Name | None = None
    metadata: dict[str, Any] | None = None

    _metadata = field_validator("metadata")(_check_metadata)
    _reference = field_validator("reference_id")(_check_reference)
    _name = field_validator("name")(_check_name)


class CustomerUpdate(BaseModel):
    """`PATCH /v1/customers/{id}`: fields left out stay; `null` clears."""

    model_config = ConfigDict(extra="forbid")

    reference_id: Text | None = None
    email: Email | None = None
    phone: Phone | None = None
    name: Name | None = None
    metadata: dict[str, Any] | None = None

    _metadata = field_validator("metadata")(_check_metadata)
    _reference = field_validator("reference_id")(_check_reference)
    _name = field_validator("name")(_check_name)
