"""The column types' bind processors (`db/types.py`): an amount is bound exactly, or refused
with more than 10 decimal places; and the one-call processors give what SQLAlchemy's own way
gives (`TypeDecorator.bind_processor`: `process_bind_param`, then the underlying type's
processor, SQLite's DATETIME text included), for every kind of value, errors included, on both
databases' dialects."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.types import TypeDecorator

from lava_server.db.types import Money, UTCDateTime, WideMoney

DIALECTS = [sqlite.dialect(), asyncpg.dialect()]


def _outcome(process: Any, value: Any) -> tuple[str, Any]:
    try:
        result = process(value)
    except Exception as error:  # the same kind of refusal, whatever its wording
        return "raises", type(error)
    return type(result).__name__, result


def _check(type_: TypeDecorator[Any], value: Any) -> None:
    for dialect in DIALECTS:
        impl = type_.dialect_impl(dialect)
        fast = impl.bind_processor(dialect)
        reference = TypeDecorator.bind_processor(impl, dialect)  # type: ignore[arg-type]
        assert _outcome(fast, value) == _outcome(reference, value), (dialect.name, value)


amounts = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=10),
    st.decimals(allow_nan=False, allow_infinity=False, places=14),  # too many places
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**18), max_value=10**18),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from(["0.1", "12.3456789012", "1e-11", "-3", "abc"]),
    st.sampled_from([Decimal("NaN"), Decimal("Infinity"), Decimal("1.000000000000"), 0.5]),
)


@settings(max_examples=400, deadline=None)
@given(amount=amounts)
def test_amounts_are_bound_as_before(amount: Any) -> None:
    _check(Money(), amount)
    _check(WideMoney(), amount)


def _processor(type_: TypeDecorator[Any], dialect: Any) -> Any:
    return type_.dialect_impl(dialect).bind_processor(dialect)


@settings(max_examples=300, deadline=None)
@given(
    amount=st.decimals(
        allow_nan=False, allow_infinity=False, places=10, min_value=-(10**17), max_value=10**17
    )
)
def test_an_amount_is_bound_exactly(amount: Decimal) -> None:
    """SQLite: the integer count of 1e-10 dollars (as text for the roll-ups' wide sums);
    PostgreSQL: the amount itself."""
    lite, postgres = DIALECTS
    units = _processor(Money(), lite)(amount)
    assert isinstance(units, int) and Decimal(units).scaleb(-10) == amount
    assert _processor(WideMoney(), lite)(amount) == str(units)
    for type_ in (Money(), WideMoney()):
        assert _processor(type_, postgres)(amount) == amount
        assert _processor(type_, lite)(None) is None


@settings(max_examples=200, deadline=None)
@given(whole=st.integers(min_value=-(10**20), max_value=10**20), places=st.integers(11, 16))
def test_an_amount_with_more_than_ten_places_is_refused(whole: int, places: int) -> None:
    amount = Decimal(whole * 10 + 1).scaleb(-places)  # its last digit is past the 10th place
    for type_ in (Money(), WideMoney()):
        for dialect in DIALECTS:
            with pytest.raises(ValueError, match="more than 10 decimal places"):
                _processor(type_, dialect)(amount)


zones = st.sampled_from(
    [
        timezone.utc,
        ZoneInfo("UTC"),
        timezone(timedelta(hours=5, minutes=30)),
        ZoneInfo("Asia/Tokyo"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(timezones=zones), whole_second=st.booleans())
def test_timestamps_are_bound_as_before(moment: datetime, whole_second: bool) -> None:
    if whole_second:  # SQLite's text keeps the zero microseconds
        moment = moment.replace(microsecond=0)
    _check(UTCDateTime(), moment)


@pytest.mark.parametrize(
    "value", [None, datetime(2026, 12, 7, 19, 30), "2026-12-07T19:30:00Z", 1765000000]
)
def test_refused_timestamps_are_refused_as_before(value: Any) -> None:
    _check(UTCDateTime(), value)
    _check(Money(), None)
