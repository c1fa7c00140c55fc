from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lava_server.money import DecimalString

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
