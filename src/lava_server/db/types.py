"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Dialect,
    Numeric,
    Text,
    case,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

MONEY_PLACES = 10
MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)


class Money(TypeDecorator[Decimal]):
    """A USD amount with exactly 10 decimal places.

    PostgreSQL stores NUMERIC(38, 10). SQLite has no exact decimal type (its NUMERIC becomes a
    float), so there the amount is an integer count of 1e-10 dollars: exact up to 2^63 units
    (about $922M), which every amount and balance stays far below (`pricing.money.MAX_AMOUNT`).
    Sums over many rows can pass it: sum with `db.sums`, never a bare SQL SUM().
    """

    impl = Numeric(38, MONEY_PLACES)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(38, MONEY_PLACES, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = Decimal(value)
        if amount != amount.quantize(MONEY_QUANTUM):
            raise ValueError(f"money with more than {MONEY_PLACES} decimal places: {amount}")
        if dialect.name == "sqlite":
            return int(amount.scaleb(MONEY_PLACES))
        return amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-MONEY_PLACES).quantize(MONEY_QUANTUM)
        return Decimal(value).quantize(MONEY_QUANTUM)


class WideMoney(TypeDecorator[Decimal]):
    """A running total of money (the usage roll-ups), which no input bound keeps within 64 bits.

    PostgreSQL stores NUMERIC(38, 10), like `Money`. SQLite stores the integer count of 1e-10
    dollars as TEXT, added with `db.sums.wide_add` and summed with `db.sums` (Python functions
    that the engine registers on every SQLite connection), so it is exact at any size.
    """

    impl = Numeric(38, MONEY_PLACES)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(Numeric(38, MONEY_PLACES, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        units = Money().process_bind_param(value, dialect)
        return str(units) if dialect.name == "sqlite" and units is not None else units

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return Money().process_result_value(value, dialect)


class WideCount(TypeDecorator[int]):
    """A running total of counts (tokens in the roll-ups): NUMERIC(38, 0) on PostgreSQL, whose
    BIGINT would overflow too; TEXT on SQLite, as `WideMoney`."""

    impl = Numeric(38, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(Numeric(38, 0, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return str(int(value)) if dialect.name == "sqlite" else Decimal(int(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


def capped_add(total: Any, more: Any, cap: int) -> ColumnElement[Any]:
    """`min(total + more, cap)` in SQL for a 64-bit counter, computed without passing `cap`."""
    return case((total > cap - more, cap), else_=total + more)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both databases (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware datetimes")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
