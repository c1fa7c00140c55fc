"""Money on the wire: decimal strings (never floats), 10 places in answers."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import BeforeValidator

from lava_server.db.types import MONEY_QUANTUM

_DECIMAL_RE = re.compile(r"-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,10})?")


def format_money(amount: Decimal) -> str:
    """Exactly 10 decimal places: `0.0014000000`."""
    return f"{amount.quantize(MONEY_QUANTUM):f}"


def parse_decimal_string(value: object) -> Decimal:
    """A JSON string such as `"2"` or `"0.0025"`: at most 10 decimal places, no exponent."""
    if not isinstance(value, str):
        raise ValueError('must be a decimal string such as "2.50"')
    if not _DECIMAL_RE.fullmatch(value):
        raise ValueError('must be a decimal string such as "2.50" with at most 10 decimals')
    try:
        return Decimal(value)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already excludes these
        raise ValueError("must be a decimal string") from exc


DecimalString = Annotated[Decimal, BeforeValidator(parse_decimal_string)]
