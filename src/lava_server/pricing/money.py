"""Money: USD amounts as `Decimal` with exactly 10 decimal places (`docs/api.md`).

All rounding here is exact: values are turned into integer ratios and divided with integer
arithmetic, so no `decimal` context precision (28 digits by default) can round anything silently.
"""

from __future__ import annotations

import re
from decimal import Decimal

from lava_server.pricing.errors import PricingError

MONEY_PLACES = 10
_SCALE = 10**MONEY_PLACES
ZERO = Decimal(0).scaleb(-MONEY_PLACES)

MAX_AMOUNT = Decimal(100_000_000)
"""The range of money, the same on both databases: every amount the API accepts (a payment, a
rate, a price), what one request may cost, and a wallet's balance stay within +/- $100,000,000.
SQLite keeps an amount as a 64-bit count of 1e-10 dollars (up to about $922M), so any single
amount, and any sum of two, is exact; sums of many (roll-ups, the ledger check) are wide."""
MAX_AMOUNT_UNITS = int(MAX_AMOUNT) * 10**MONEY_PLACES

# Plain decimal strings only: ASCII digits, no exponent, no "NaN"/"Infinity", no "+", no spaces.
_DECIMAL_STRING = re.compile(r"(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?")


def half_even_div(numerator: int, denominator: int) -> int:
    """`numerator / denominator` rounded to an integer, ties to even (`denominator` > 0)."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def ceil_div(numerator: int, denominator: int) -> int:
    """`numerator / denominator` rounded up to an integer (`denominator` > 0)."""
    return -(-numerator // denominator)


def to_money_units(value: Decimal) -> int:
    """`value` as a whole number of 1e-10 dollars, rounded half-even (value must be finite)."""
    numerator, denominator = value.as_integer_ratio()
    return half_even_div(numerator * _SCALE, denominator)


def from_money_units(units: int) -> Decimal:
    """The amount of `units` × 1e-10 dollars, with exponent exactly -10."""
    return Decimal(f"{units}E-{MONEY_PLACES}")


def quantize_money(value: Decimal) -> Decimal:
    """`value` rounded to 10 decimal places, ROUND_HALF_EVEN, exactly at any magnitude."""
    if not value.is_finite():
        raise ValueError(f"money must be finite, not {value}")
    return from_money_units(to_money_units(value))


def format_money(value: Decimal) -> str:
    """The wire form of an amount: exactly 10 decimal places, no exponent (`"0.0014000000"`).

    Refuses (ValueError) a non-finite value or one with more precision than 10 places: amounts are
    rounded where `docs/pricing.md` says, never silently when serialised.
    """
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"money must be a finite Decimal, not {value!r}")
    shape = value.as_tuple()
    if shape.exponent == -MONEY_PLACES and not (shape.sign and value.is_zero()):
        return f"{value:f}"  # already exactly 10 places (every amount read from the database)
    units = to_money_units(value)
    if from_money_units(units) != value:
        raise ValueError(f"money has more than {MONEY_PLACES} decimal places: {value}")
    whole, fraction = divmod(abs(units), _SCALE)
    sign = "-" if units < 0 else ""
    return f"{sign}{whole}.{fraction:0{MONEY_PLACES}d}"


def parse_decimal(value: object, *, field: str) -> Decimal:
    """Parse a non-negative plain decimal string (a tier rate, an amount) as given.

    Accepts `"12"`, `"0.5"`, `"2.50"`: ASCII digits without leading zeros, and an optional point
    followed by 1 to 10 digits (the grammar of `lava_server.money`), at most `MAX_AMOUNT`.
    Rejects anything else (numbers, signs, exponents, spaces, NaN, Infinity, more than 10 places,
    more than `MAX_AMOUNT`) with a `PricingError` naming `field`.
    """
    if not isinstance(value, str):
        raise PricingError(field, 'must be a decimal string such as "12.5"')
    match = _DECIMAL_STRING.fullmatch(value)
    if match is None:
        raise PricingError(
            field,
            'must be a plain decimal string such as "12.5" (no leading zeros, exponent or spaces)',
        )
    sign, whole, fraction = match.groups()
    if sign:
        raise PricingError(field, "must be >= 0")
    if fraction is not None and len(fraction) > MONEY_PLACES:
        raise PricingError(field, f"must have at most {MONEY_PLACES} decimal places")
    if len(whole) > len(str(MAX_AMOUNT)) or Decimal(value) > MAX_AMOUNT:
        raise PricingError(field, f"must be at most {MAX_AMOUNT}")
    return Decimal(value)


def parse_money(value: object, *, field: str) -> Decimal:
    """Parse a non-negative money string (rules of `parse_decimal`) to exactly 10 places."""
    return quantize_money(parse_decimal(value, field=field))
