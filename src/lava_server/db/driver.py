"""Core statements run on the database driver's own connection (`docs/architecture.md`).

A charge runs about ten small statements. Through SQLAlchemy's async layer each of them costs
0.1 to 0.15 ms of CPU before the database sees it (execution context, parameter processing,
greenlet switches, result wrapping), which is most of what a settlement costs. `DriverSession`
has the interface the charge's code uses (`execute(statement, params)`, `get_bind()`), so the
same repository functions and the same statements run on it unchanged: each statement is
compiled once by SQLAlchemy for the dialect, and each execution then converts the values with
the statement's own bind and result processors and hands them to `sqlite3` or asyncpg directly.

It runs Core statements only (select, insert, update, upsert, text; executemany without
RETURNING). A select of ORM objects, or anything else only an ORM session has, raises
`NeedsSession`: its caller rolls back and writes with an ORM session instead. Driver errors are
raised as SQLAlchemy's `IntegrityError` or `DBAPIError` (parameters hidden, as the engine's), so
callers catch the same exceptions on either path.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.sql import Insert

__all__ = ["DriverResult", "DriverSession", "NeedsSession"]


class NeedsSession(Exception):
    """The work needs an ORM session, which a lean writer's session (`DriverSession`, and
    `metering.repository.CoreSession`) is not: an ORM statement, or period credit falling due
    (`wallets.credit.open_wallets`). Roll back and write with a session."""


_PG_NUMERIC = 1700  # the type oid of PostgreSQL's numeric


def _result_processor(type_: Any, dialect: Any) -> Any:
    """What the engine does to a value of `type_` on its way out. The engine knows each result
    column's database type from the cursor; here it is the column's declared one. asyncpg's
    numeric processor asks for the database type: a declared numeric is PostgreSQL's numeric,
    which asyncpg returns as a Decimal already."""
    try:
        return type_._cached_result_processor(dialect, None)
    except TypeError:
        return type_._cached_result_processor(dialect, _PG_NUMERIC)


def _positions(processors: Any) -> tuple[tuple[int, Any], ...]:
    """(position, processor) of each processor that is not None."""
    return tuple((index, f) for index, f in enumerate(processors) if f is not None)


def _row_type(names: list[str]) -> Any:
    """Rows read by attribute (`row.balance`) and by position, like SQLAlchemy's."""
    return namedtuple("DriverRow", names, rename=True)


class _Compiled:
    """One statement compiled for one dialect and one set of parameter names."""

    __slots__ = (
        "column_defaults",
        "compiled",
        "converts",
        "expanding",
        "literals",
        "names",
        "returns_rows",
        "row_type",
        "sql",
        "to_python",
    )

    def __init__(
        self,
        statement: Any,
        dialect: Any,
        keys: Sequence[str] | None,
        *,
        many: bool,
        cache_key: Any = None,
    ) -> None:
        if getattr(statement, "is_select", False) and any(
            isinstance(column.get("type"), type) for column in statement.column_descriptions
        ):
            raise NeedsSession("a select of ORM objects")
        kwargs: dict[str, Any] = {"dialect": dialect}
        if cache_key is not None:  # so that statements with this key can bring their values
            kwargs["cache_key"] = cache_key
        if keys is not None:
            kwargs["column_keys"] = list(keys)
        if many:  # no implicit RETURNING of the new rows' keys
            kwargs["for_executemany"] = True
        compiled = statement.compile(**kwargs)
        self.compiled = compiled
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        # (position, processor) of the values that need converting; the others go as they are.
        self.converts = _positions(compiled._bind_processors.get(name) for name in self.names)
        # The values written in the statement itself (`status = 'pending'` is a bound value),
        # for the statement object compiled here (another one with the same cache key brings
        # its own: `arguments(..., extracted)`).
        self.literals: dict[str, Any] = {
            name: value for name, value in compiled.params.items() if value is not None
        }
        # Python-side column defaults the engine would fill in.
        self.column_defaults: dict[str, Any] = {}
        for column in (*compiled.insert_prefetch, *compiled.update_prefetch):
            default = column.default if column in compiled.insert_prefetch else column.onupdate
            if default is None or not (default.is_scalar or default.is_callable):
                raise NeedsSession(f"the default of {column}")
            value = default.arg if default.is_scalar else default.arg(None)
            self.column_defaults[column.key] = value
        self.expanding = any(
            bind.expanding or bind.literal_execute for bind in compiled.binds.values()
        )
        columns = compiled._result_columns
        self.returns_rows = bool(columns)
        self.to_python = _positions(_result_processor(column.type, dialect) for column in columns)
        self.row_type: Any = _row_type([column.keyname for column in columns])

    def arguments(
        self, params: Mapping[str, Any], extracted: Sequence[Any] | None = None
    ) -> tuple[str, list[Any]]:
        """The SQL and the positional arguments for one parameter set, converted for the driver.
        `extracted`: the bound values of another statement object with this one's cache key."""
        if self.column_defaults:
            params = {**self.column_defaults, **params}
        if extracted is None and not self.expanding:
            values = {**self.literals, **params} if self.literals else params
            arguments = [values[name] for name in self.names]
            for index, convert in self.converts:
                arguments[index] = convert(arguments[index])
            return self.sql, arguments
        compiled = self.compiled
        parameters = compiled.construct_params(
            dict(params), extracted_parameters=extracted, _no_postcompile=True
        )
        state = compiled._process_parameters_for_postcompile(parameters)
        expanded = state.processors
        processors = compiled._bind_processors
        arguments = []
        for name in state.positiontup or ():
            value = state.parameters[name]
            convert = expanded.get(name) or processors.get(name)
            arguments.append(value if convert is None else convert(value))
        return state.statement, arguments

    def rows(self, raw: Sequence[Sequence[Any]]) -> list[Any]:
        converts = self.to_python
        make = self.row_type
        if not converts:
            return [make(*row) for row in raw]
        rows = []
        for row in raw:
            values = list(row)
            for index, convert in converts:
                values[index] = convert(values[index])
            rows.append(make(*values))
        return rows


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

    # (dialect name, id(statement), parameter names, many) -> (statement, compiled, the values
    # to take from the statement or None for the compiled one's own). The statement is kept so
    # that its id is not reused: statements built once find themselves here every time.
    _by_id: dict[tuple[Any, ...], tuple[Any, _Compiled, Sequence[Any] | None]] = {}  # noqa: RUF012
    # (dialect name, SQLAlchemy's cache key, parameter names, many) -> compiled: a statement
    # built for one call (`column.in_(values)`) is found by its cache key, as the engine finds
    # it, and its values are taken from it.
    _by_key: dict[tuple[Any, ...], _Compiled] = {}  # noqa: RUF012
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

    def __getattr__(self, name: str) -> Any:
        """What an ORM session has and this one has not (`add`, `flush`, `get`...)."""
        if name.startswith("__"):
            raise AttributeError(name)
        raise NeedsSession(f"session.{name}")

    def _compiled(
        self, statement: Any, keys: Sequence[str] | None, many: bool
    ) -> tuple[_Compiled, Sequence[Any] | None]:
        """The statement compiled, and the bound values to take from it (None: its own)."""
        names = tuple(keys) if keys is not None else None
        dialect = self._dialect.name
        by_id = (dialect, id(statement), names, many)
        found = self._by_id.get(by_id)
        if found is not None and found[0] is statement:
            return found[1], found[2]
        cache_key = statement._generate_cache_key()
        by_key = None if cache_key is None else (dialect, cache_key.key, names, many)
        compiled = None if by_key is None else self._by_key.get(by_key)
        extracted = None
        if compiled is not None:
            assert cache_key is not None
            extracted = cache_key.bindparams
        else:
            compiled = _Compiled(statement, self._dialect, names, many=many, cache_key=cache_key)
            DriverSession.compiled_count += 1
            if by_key is not None:
                if len(self._by_key) >= self._CACHE_SIZE:
                    self._by_key.clear()
                self._by_key[by_key] = compiled
        if len(self._by_id) >= self._CACHE_SIZE:
            self._by_id.clear()  # statements built per call fill it; the others come back
        self._by_id[by_id] = (statement, compiled, extracted)
        return compiled, extracted

    async def execute(self, statement: Any, params: Any = None) -> DriverResult:
        many = isinstance(params, list)
        first: Mapping[str, Any] = (params[0] if params else {}) if many else (params or {})
        # An INSERT without `.values()` takes its columns from the parameters' names.
        keys = tuple(first) if isinstance(statement, Insert) and not statement._values else None
        compiled, extracted = self._compiled(statement, keys, many)
        try:
            if many:
                if compiled.returns_rows:
                    raise NeedsSession("executemany with RETURNING")
                if not params:
                    return DriverResult([], 0)
                prepared = [compiled.arguments(p, extracted) for p in params]
                sql = prepared[0][0]
                if any(p[0] != sql for p in prepared):
                    raise NeedsSession("executemany over expanding parameters")
                arguments = [p[1] for p in prepared]
                if self._sqlite:
                    cursor = self._driver.executemany(sql, arguments)
                    return DriverResult([], cursor.rowcount)
                await self._driver.executemany(sql, arguments)
                return DriverResult([], -1)
            sql, args = compiled.arguments(first, extracted)
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
        except (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError) as error:
            raise IntegrityError(compiled.sql, None, error, hide_parameters=True) from error
        except (sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise DBAPIError(compiled.sql, None, error, hide_parameters=True) from error


def _rowcount(status: str) -> int:
    """asyncpg's command tag (`UPDATE 1`, `INSERT 0 3`) -> the rows it changed."""
    last = status.rpartition(" ")[2]
    return int(last) if last.isdigit() else -1
