"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
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
        return _money_units(value) if dialect.name == "sqlite" else _money(value)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any]:
        """`process_bind_param` for one dialect in one call (see `_fast_bind`)."""
        return _fast_bind(self, dialect, _money_units if dialect.name == "sqlite" else _money)

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
        return _wide_units(value) if dialect.name == "sqlite" else _money(value)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any]:
        """`process_bind_param` for one dialect in one call (see `_fast_bind`)."""
        return _fast_bind(self, dialect, _wide_units if dialect.name == "sqlite" else _money)

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
        value = _utc(value)  # (SQLite's DATETIME type then writes it as text)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" and value else value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any]:
        """`process_bind_param` for one dialect in one call (see `_fast_bind`); on SQLite it
        also does the work of the DATETIME type's processor, its text."""
        if dialect.name == "sqlite":
            return _utc_text
        return _fast_bind(self, dialect, _utc)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# The bind rules, and the types' processors in one call per value. A settlement binds dozens of
# amounts and timestamps; SQLAlchemy's way (`TypeDecorator.bind_processor`: a wrapper that calls
# `process_bind_param`, which looks at the dialect's name for every value, then the underlying
# type's processor, SQLite's DATETIME formatting with `%`) cost 2-6 microseconds a value: a
# settlement's value conversions took 154 microseconds of CPU on SQLite, 91 now
# (bench/README.md). tests/db/test_types.py checks that both ways give the same values.


def _fast_bind(
    type_: TypeDecorator[Any], dialect: Dialect, fast: Callable[[Any], Any]
) -> Callable[[Any], Any]:
    """`fast`, where the underlying type does nothing more to the value on this dialect."""
    if type_.impl_instance.bind_processor(dialect) is not None:
        return TypeDecorator.bind_processor(type_, dialect)  # type: ignore[return-value]
    return fast


def _exact(value: Any) -> Decimal:
    amount = Decimal(value)
    if amount != amount.quantize(MONEY_QUANTUM):
        raise ValueError(f"money with more than {MONEY_PLACES} decimal places: {amount}")
    return amount


def _money(value: Any) -> Decimal | None:
    return None if value is None else _exact(value)


def _money_units(value: Any) -> int | None:
    return None if value is None else int(_exact(value).scaleb(MONEY_PLACES))


def _wide_units(value: Any) -> str | None:
    return None if value is None else str(int(_exact(value).scaleb(MONEY_PLACES)))


def _aware(value: Any) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware datetimes")
    return value if value.tzinfo is timezone.utc else value.astimezone(timezone.utc)


def _utc(value: Any) -> datetime | None:
    return None if value is None else _aware(value)


def _utc_text(value: Any) -> str | None:
    """SQLite's DATETIME text of a UTC time (`YYYY-MM-DD HH:MM:SS.ffffff`)."""
    if value is None:
        return None
    return _aware(value).replace(tzinfo=None).isoformat(" ", "microseconds")
