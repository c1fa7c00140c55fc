"""Money on the wire: decimal strings (never floats), parsed by `pricing.money` on the way in and
written by `pricing.format_money` (exactly 10 places) on the way out."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator, Field, WithJsonSchema

from lava_server.pricing import MAX_AMOUNT, MONEY_PLACES, PricingError, parse_decimal


def _parse(value: object) -> Decimal:
    try:
        return parse_decimal(value, field="value")
    except PricingError as error:
        raise ValueError(error.message) from None


_BELOW_MAX = rf"(0|[1-9][0-9]{{0,{len(str(MAX_AMOUNT)) - 2}}})(\.[0-9]{{1,{MONEY_PLACES}}})?"
DECIMAL_PATTERN = rf"^({_BELOW_MAX}|{MAX_AMOUNT}(\.0{{1,{MONEY_PLACES}}})?)$"
"""The grammar of `parse_decimal`, as a JSON schema pattern: 0 to `MAX_AMOUNT` exactly."""

DecimalString = Annotated[
    Decimal,
    BeforeValidator(_parse),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DECIMAL_PATTERN,
            "description": "A decimal string, never a number.",
            "examples": ["12.50"],
        }
    ),
]
"""An amount or rate in a request (its schema is the grammar `parse_decimal` accepts)."""

MoneyString = Annotated[
    str,
    Field(
        pattern=rf"^-?(0|[1-9][0-9]*)\.[0-9]{{{MONEY_PLACES}}}$",
        description="USD as a decimal string with exactly 10 places.",
        examples=["0.0014000000"],
    ),
]
"""An amount in an answer (the schema of `format_money`'s strings)."""
