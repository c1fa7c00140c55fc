"""Core statements run on the database driver's own connection (`docs/architecture.md`).

A charge runs about ten small statements. Through SQLAlchemy's async layer each of them costs
0.1 to 0.15 ms of CPU before the database sees it (execution context, parameter processing,
greenlet switches, result wrapping), which is most of what a settlement costs. `DriverSession`
has the interface the charge's code uses (`execute(statement, params)`, `get_bind()`), so the
same repository functions and the same statements run on it unchanged: each statement is
compiled once by SQLAlchemy for the dialect, and each execution then converts the values with
the statement's own bind and result processors and hands them to `sqlite3` or asyncpg directly.

It runs Core statements only (select, insert, update, upsert, text; executemany without
RETURNING). A select of ORM objects raises `NeedsSession`: its caller rolls back and writes
with an ORM session instead. Driver errors are raised as SQLAlchemy's `DBAPIError` (parameters
hidden, as the engine's), so callers catch the same exceptions on either path.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Insert

__all__ = ["DriverResult", "DriverSession", "NeedsSession"]


class NeedsSession(Exception):
    """The work needs an ORM session, which a lean writer's session (`DriverSession`, and
    `metering.repository.CoreSession`) is not: an ORM statement, or period credit falling due
    (`wallets.credit.open_wallets`). Roll back and write with a session."""


def _same(value: Any) -> Any:
    return value


_PG_NUMERIC = 1700  # the type oid of PostgreSQL's numeric


def _result_processor(type_: Any, dialect: Any) -> Any:
    """What the engine does to a value of `type_` on its way out. The engine knows each result
    column's database type from the cursor; here it is the column's declared one. asyncpg's
    numeric processor asks for the database type: a declared numeric is PostgreSQL's numeric,
    which asyncpg returns as a Decimal already."""
    try:
        return type_._cached_result_processor(dialect, None) or _same
    except TypeError:
        return type_._cached_result_processor(dialect, _PG_NUMERIC) or _same


def _row_type(names: list[str]) -> Any:
    """Rows read by attribute (`row.balance`) and by position, like SQLAlchemy's."""
    return namedtuple("DriverRow", names, rename=True)


class _Compiled:
    """One statement compiled for one dialect and one set of parameter names."""

    __slots__ = (
        "compiled",
        "defaults",
        "expanding",
        "names",
        "processors",
        "returns_rows",
        "row_type",
        "sql",
        "to_python",
    )

    def __init__(
        self, statement: Any, dialect: Any, keys: Sequence[str] | None, *, many: bool
    ) -> None:
        if getattr(statement, "is_select", False) and any(
            isinstance(column.get("type"), type) for column in statement.column_descriptions
        ):
            raise NeedsSession("a select of ORM objects")
        kwargs: dict[str, Any] = {"dialect": dialect}
        if keys is not None:
            kwargs["column_keys"] = list(keys)
        if many:  # no implicit RETURNING of the new rows' keys
            kwargs["for_executemany"] = True
        compiled = statement.compile(**kwargs)
        self.compiled = compiled
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        bind_processors = compiled._bind_processors
        self.processors = tuple(bind_processors.get(name, _same) for name in self.names)
        # Literals of the statement itself (`status = 'pending'` is a bound value).
        self.defaults: dict[str, Any] = {
            name: value for name, value in compiled.params.items() if value is not None
        }
        # Python-side column defaults (insert) the engine would fill in.
        for column in (*compiled.insert_prefetch, *compiled.update_prefetch):
            default = column.default if column in compiled.insert_prefetch else column.onupdate
            if default is None or not (default.is_scalar or default.is_callable):
                raise NeedsSession(f"the default of {column}")
            value = default.arg if default.is_scalar else default.arg(None)
            self.defaults[column.key] = value
        self.expanding = any(
            bind.expanding or bind.literal_execute for bind in compiled.binds.values()
        )
        columns = compiled._result_columns
        self.returns_rows = bool(columns)
        self.to_python = tuple(_result_processor(column.type, dialect) for column in columns)
        self.row_type: Any = _row_type([column.keyname for column in columns])

    def arguments(self, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL and the positional arguments for one parameter set, converted for the driver."""
        values = {**self.defaults, **params} if self.defaults else params
        if not self.expanding:
            return self.sql, [
                convert(values[name])
                for name, convert in zip(self.names, self.processors, strict=True)
            ]
        state = self.compiled.construct_expanded_state(dict(values))
        processors = state.processors
        return state.statement, [
            processors[name](state.parameters[name])
            if name in processors
            else state.parameters[name]
            for name in state.positiontup or ()
        ]

    def rows(self, raw: Sequence[Sequence[Any]]) -> list[Any]:
        converters = self.to_python
        make = self.row_type
        return [make(*[f(v) for f, v in zip(converters, row, strict=True)]) for row in raw]


class DriverResult:
    """What the charge's code reads of a result: rows, a scalar, or the count of rows changed."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Any:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return self._rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise NeedsSession(f"one row expected, {len(self._rows)} found")
        return self._rows[0]

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalar_one_or_none(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalars(self) -> list[Any]:
        return [row[0] for row in self._rows]

    def mappings(self) -> list[dict[str, Any]]:
        return [row._asdict() for row in self._rows]


class _Bind:
    """What `session.get_bind()` gives the repositories: the dialect."""

    __slots__ = ("dialect",)

    def __init__(self, dialect: Any) -> None:
        self.dialect = dialect


class DriverSession:
    """`execute(statement, params)` on a `sqlite3` connection (inline) or an asyncpg connection,
    inside a transaction its owner opened (see the module docstring)."""

    # (dialect name, id(statement), parameter names) -> (statement, compiled). The statement is
    # kept so that its id is not reused; statements built once per process hit every time.
    _cache: dict[tuple[str, int, tuple[str, ...] | None, bool], tuple[Any, _Compiled]] = {}  # noqa: RUF012
    _CACHE_SIZE = 512
    compiled_count = 0  # statements compiled so far (a test checks the hot path compiles none)

    __slots__ = ("_bind", "_dialect", "_driver", "_sqlite")

    def __init__(self, driver: Any, dialect: Any) -> None:
        self._driver = driver
        self._dialect = dialect
        self._sqlite = isinstance(driver, sqlite3.Connection)
        self._bind = _Bind(dialect)

    def get_bind(self) -> _Bind:
        return self._bind

    def _compiled(self, statement: Any, keys: Sequence[str] | None, many: bool) -> _Compiled:
        names = tuple(keys) if keys is not None else None
        key = (self._dialect.name, id(statement), names, many)
        found = self._cache.get(key)
        if found is not None and found[0] is statement:
            return found[1]
        compiled = _Compiled(statement, self._dialect, names, many=many)
        if len(self._cache) >= self._CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = (statement, compiled)
        DriverSession.compiled_count += 1
        return compiled

    async def execute(self, statement: Any, params: Any = None) -> DriverResult:
        many = isinstance(params, list)
        first: Mapping[str, Any] = (params[0] if params else {}) if many else (params or {})
        # An INSERT without `.values()` takes its columns from the parameters' names.
        keys = tuple(first) if isinstance(statement, Insert) and not statement._values else None
        compiled = self._compiled(statement, keys, many)
        try:
            if many:
                if compiled.returns_rows:
                    raise NeedsSession("executemany with RETURNING")
                if not params:
                    return DriverResult([], 0)
                prepared = [compiled.arguments(p) for p in params]
                sql = prepared[0][0]
                if any(p[0] != sql for p in prepared):
                    raise NeedsSession("executemany over expanding parameters")
                arguments = [p[1] for p in prepared]
                if self._sqlite:
                    cursor = self._driver.executemany(sql, arguments)
                    return DriverResult([], cursor.rowcount)
                await self._driver.executemany(sql, arguments)
                return DriverResult([], -1)
            sql, args = compiled.arguments(first)
            if self._sqlite:
                cursor = self._driver.execute(sql, args)
                if compiled.returns_rows:
                    return DriverResult(compiled.rows(cursor.fetchall()), cursor.rowcount)
                return DriverResult([], cursor.rowcount)
            if compiled.returns_rows:
                records = await self._driver.fetch(sql, *args)
                return DriverResult(compiled.rows(records), len(records))
            status: str = await self._driver.execute(sql, *args)
            return DriverResult([], _rowcount(status))
        except (sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise DBAPIError(compiled.sql, None, error, hide_parameters=True) from error


def _rowcount(status: str) -> int:
    """asyncpg's command tag (`UPDATE 1`, `INSERT 0 3`) -> the rows it changed."""
    last = status.rpartition(" ")[2]
    return int(last) if last.isdigit() else -1
