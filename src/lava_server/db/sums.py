"""Sums that are exact at any size, on both databases.

PostgreSQL sums NUMERIC and BIGINT exactly. SQLite's integers stop at 2^63 (about $922M in 1e-10
dollars): its SUM() fails past that, and reads a TEXT number too large for 64 bits as a float.
So on SQLite the server registers two Python functions on every connection (`register`):
`lava_add(a, b)` and the aggregate `lava_sum(x)`, exact on integers and their text. Python
functions are slow next to SQLite's own SUM() (about 7x on a day-by-day usage query), so reads
that answer callers try SQLite's SUM() first and only sum in Python when it could not be exact
(`execute_sums`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Dialect, Executable, Row, func, type_coerce
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import BigInteger, TypeDecorator

SumOf = Callable[[Any], ColumnElement[Any]]
_INT64 = range(-(2**63), 2**63)


def wide_add(dialect: str, total: Any, more: Any) -> ColumnElement[Any]:
    """`total + more` in SQL, exact at any size (on SQLite through `lava_add`)."""
    if dialect == "sqlite":
        return type_coerce(func.lava_add(total, more), total.type)
    result: ColumnElement[Any] = total + more
    return result


def exact_sum(dialect: str, column: Any) -> ColumnElement[Any]:
    """SUM(column) that cannot overflow, typed like `column` (on SQLite through `lava_sum`)."""
    if dialect == "sqlite":
        return type_coerce(func.lava_sum(column), column.type)
    return type_coerce(func.sum(column), column.type)


async def execute_sums(
    session: AsyncSession, build: Callable[[SumOf], Executable]
) -> Sequence[Row[Any]]:
    """Run the query `build(sum_of)` makes, its sums exact: on SQLite with its own SUM() first,
    again with `lava_sum` when that overflowed or met a number past 64 bits."""
    dialect = session.get_bind().dialect.name
    if dialect != "sqlite":
        return (await session.execute(build(lambda column: exact_sum(dialect, column)))).all()
    try:
        return (await session.execute(build(_sqlite_sum))).all()
    except _NotExact:
        pass
    except OperationalError as error:
        if "integer overflow" not in str(error.orig):
            raise
    return (await session.execute(build(lambda column: exact_sum(dialect, column)))).all()


class _NotExact(Exception):
    """SQLite's SUM() answered a float: it met a TEXT number past 64 bits."""


class _Exactly(TypeDecorator[Any]):
    """The result of SQLite's SUM() over `inner`: refused when it is a float, else read as
    `inner` reads its values."""

    impl = BigInteger
    cache_ok = True

    def __init__(self, inner: Any) -> None:
        super().__init__()
        self.inner = inner

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, float):
            raise _NotExact
        processor = self.inner.dialect_impl(dialect).result_processor(dialect, None)
        return value if processor is None or value is None else processor(value)


def _sqlite_sum(column: Any) -> ColumnElement[Any]:
    return type_coerce(func.sum(column), _Exactly(column.type))


def sqlite_add(total: int | str | None, more: int | str | None) -> int | str:
    """SQLite function `lava_add(a, b)`: exact integer addition of integers or their text."""
    result = int(total or 0) + int(more or 0)
    return result if result in _INT64 else str(result)


class SqliteSum:
    """SQLite aggregate `lava_sum(x)`: exact sum of integers or their text; an integer while it
    fits in 64 bits (so that comparisons with numbers stay numeric), else its text."""

    def __init__(self) -> None:
        self.total: int | None = None

    def step(self, value: int | str | None) -> None:
        if value is not None:
            self.total = (self.total or 0) + int(value)

    def finalize(self) -> int | str | None:
        if self.total is None or self.total in _INT64:
            return self.total
        return str(self.total)


def register(connection: Any) -> None:
    """Install `lava_add` and `lava_sum` on a `sqlite3` connection."""
    connection.create_function("lava_add", 2, sqlite_add, deterministic=True)
    connection.create_aggregate("lava_sum", 1, SqliteSum)
