"""The database: one async engine per process and the two kinds of transaction we use.

`read()` is a plain transaction. `write()` is a transaction that will change data: on SQLite it
starts with BEGIN IMMEDIATE (taking the database's write lock up front, so that concurrent writers
queue instead of failing half way), behind a process-local asyncio lock so that writers of one
process wait in order rather than in SQLite's sleep-and-retry busy handler. On PostgreSQL row locks
(`SELECT ... FOR UPDATE`) serialise what must be serialised.

SQLite runs inline on the event loop (`_InlineSqlite`): its calls take microseconds, far less
than handing each one to a worker thread. The one wait that blocks the loop is for another
process's write lock (`busy_timeout`), which is why SQLite deployments run one server process
(the worker loop inside it) and several processes share PostgreSQL instead.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite
import asyncpg
from sqlalchemy import ColumnElement, String, any_, bindparam, event
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from lava_server.db import sums
from lava_server.metrics import DB_CONNECTIONS_IN_USE

_WRITE_OPTION = "lava_write"
_SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    "synchronous=FULL",  # money: a commit survives power loss
    "foreign_keys=ON",
    "busy_timeout=30000",
)


def async_url(database_url: str) -> URL:
    """Map the URLs users write to the async drivers we use."""
    url = make_url(database_url.replace("postgres://", "postgresql://", 1))
    if url.drivername in ("postgresql", "postgresql+asyncpg", "postgresql+psycopg"):
        return url.set(drivername="postgresql+asyncpg")
    if url.drivername in ("sqlite", "sqlite+aiosqlite", "sqlite+pysqlite"):
        return url.set(drivername="sqlite+aiosqlite")
    raise ValueError(f"unsupported database URL scheme: {url.drivername}")


def describe_url(database_url: str) -> str:
    """The URL with any password hidden, for logs and messages."""
    return async_url(database_url).render_as_string(hide_password=True)


class DatabaseUnavailable(Exception):
    """The database gave no connection: it could not be reached, or it refused one more (too
    many connections, starting up or shutting down). Nothing was written; the request may be
    retried. Answered 503 (`api.context`), not as a bug."""


_BUSY_RETRIES = (0.05, 0.2, 0.5)  # seconds before each new try while the server is full


async def _connect_postgresql(*args: Any, **kwargs: Any) -> Any:
    """asyncpg's connect, its failures to connect raised as `DatabaseUnavailable` (SQLAlchemy
    passes a refused connection on as a bare `ConnectionRefusedError`). A server with no
    connection to spare (too many clients, starting up) is asked again a few times first: such
    a spell is often short, and the request would otherwise fail for it."""
    busy = (asyncpg.TooManyConnectionsError, asyncpg.CannotConnectNowError)
    for delay in _BUSY_RETRIES:
        try:
            return await asyncpg.connect(*args, **kwargs)
        except busy:
            await asyncio.sleep(delay)
        except (OSError, TimeoutError) as error:
            raise DatabaseUnavailable(f"cannot connect to the database: {error}") from error
    try:  # the last try
        return await asyncpg.connect(*args, **kwargs)
    except (*busy, OSError, TimeoutError) as error:
        raise DatabaseUnavailable(f"cannot connect to the database: {error}") from error


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database gave no connection, rather than a bug: a failure to
    connect, or the pool's wait for a free connection ran out (every connection busy)."""
    return isinstance(error, (DatabaseUnavailable, SQLAlchemyTimeoutError))


class Database:
    """Engine, session factory and transaction helpers of one server process."""

    def __init__(
        self,
        database_url: str,
        *,
        pool_size: int = 10,
        pool_timeout: float = 30.0,
        echo: bool = False,
    ) -> None:
        self.url = async_url(database_url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        # An error's message leaves its statement's parameters out: they hold connection and
        # product secrets, which would reach the log with the traceback.
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        # Most connections the pool may open (`lava_db_pool_capacity`; 0: no limit, SQLite).
        self.pool_capacity = 0 if self.is_sqlite else 2 * pool_size
        if self.is_sqlite:
            path = self.url.database or ":memory:"
            kwargs["async_creator"] = lambda: _connect_inline(path)
        else:
            kwargs.update(
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_recycle=1800,
                pool_timeout=pool_timeout,  # then the request is answered 503
            )
            kwargs["connect_args"] = {"async_creator_fn": _connect_postgresql}
            if self.url.host in (None, "", "localhost", "127.0.0.1", "::1") and not any(
                key in self.url.query for key in ("ssl", "sslmode")
            ):
                # asyncpg would otherwise try TLS ("prefer"), which costs CPU on every query for
                # nothing on a local connection; a remote one keeps its default.
                kwargs["connect_args"]["ssl"] = False
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        _count_pool_use(self.engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._sqlite_writer = asyncio.Lock()

    @property
    def sqlite_writer(self) -> asyncio.Lock:
        """SQLite: the lock every writer of this process holds around its transaction."""
        return self._sqlite_writer

    def sqlite_connection(self, *, durable: bool = True) -> sqlite3.Connection:
        """SQLite: a plain `sqlite3` connection set up like the engine's (WAL, foreign keys, busy
        timeout; BEGIN issued by the caller), for the few statements of the hot path that run
        without SQLAlchemy. `durable=False`: commits do not wait for the disk (`synchronous =
        NORMAL`). Use it inline (never from another thread) and behind `sqlite_writer`."""
        assert self.is_sqlite
        connection = sqlite3.connect(
            self.url.database or ":memory:", timeout=30, check_same_thread=False
        )
        connection.isolation_level = None
        sums.register(connection)
        for pragma in _SQLITE_PRAGMAS:
            connection.execute(f"PRAGMA {pragma}")
        if not durable:
            connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading; nothing it does is committed."""
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncSession]:
        """A session for reading one consistent state of the database across all its statements,
        while others write (`lava ledger check` on a serving database). PostgreSQL: a read-only
        REPEATABLE READ transaction (READ COMMITTED, the default, takes a new snapshot for each
        statement); SQLite: the read transaction that `BEGIN` opens already is one snapshot."""
        async with self.sessions() as session:
            if not self.is_sqlite:
                await session.connection(
                    execution_options={
                        "isolation_level": "REPEATABLE READ",
                        "postgresql_readonly": True,
                    }
                )
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed at the end, or rolled back on any exception."""
        if self.is_sqlite:
            async with self._sqlite_writer, self.sessions() as session, session.begin():
                await session.connection(execution_options={_WRITE_OPTION: True})
                yield session
        else:
            async with self.sessions() as session, session.begin():
                yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


class _InlineSqlite(aiosqlite.Connection):
    """aiosqlite's API with each call run at once on the event loop's thread.

    SQLite answers in microseconds from the page cache; a worker thread per connection costs more
    than that in thread hand-offs (and, under load, in waits for the GIL), so the calls run
    inline. Only a wait for another process's write lock blocks the loop (busy_timeout)."""

    def __init__(self, connector: Any, iter_chunk_size: int = 64) -> None:
        super().__init__(connector, iter_chunk_size)
        self._tx = _RunNow()  # type: ignore[assignment]  # (SQLAlchemy queues some calls itself)

    def __await__(self) -> Any:
        return self._connect().__await__()

    async def _connect(self) -> _InlineSqlite:
        if self._connection is None:
            self._connection = self._connector()
        return self

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


class _RunNow:
    """Stands in for aiosqlite's queue to its worker thread: runs each call at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Any]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as error:
            if future is not None:
                future.set_exception(error)
            return
        if future is not None:
            future.set_result(result)


async def _connect_inline(path: str) -> _InlineSqlite:
    def connect() -> sqlite3.Connection:
        connection = sqlite3.connect(path, timeout=30, check_same_thread=False)
        sums.register(connection)
        return connection

    connection = _InlineSqlite(connect, iter_chunk_size=64)
    await connection._connect()
    return connection


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's own transaction handling is not SQL-standard).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _count_pool_use(engine: AsyncEngine) -> None:
    """`lava_db_connections_in_use`: moved on every checkout and checkin of the pool."""
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkout")
    def _out(_dbapi: Any, _record: Any, _proxy: Any) -> None:
        DB_CONNECTIONS_IN_USE.inc()

    @event.listens_for(pool, "checkin")
    def _in(_dbapi: Any, _record: Any) -> None:
        DB_CONNECTIONS_IN_USE.dec()


def upsert_insert(session: AsyncSession) -> Any:
    """The dialect's INSERT with ON CONFLICT support (PostgreSQL and SQLite share its API)."""
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        return sqlite_insert
    return pg_insert


def one_of(column: Any, values: Sequence[Any], dialect: str) -> ColumnElement[bool]:
    """`column IN (values)`, repeats dropped. On PostgreSQL `column = ANY(:array)`: one
    parameter whatever the number of values, so that the statement's text, and asyncpg's
    prepared statement for it, is the same for every batch (an IN list makes a new one for each
    length, which asyncpg's cache of 100 keeps losing: a report batch prepared about a quarter
    of its statements again, a round trip each). SQLite has no arrays: it takes the IN list.
    `dialect`: `session.get_bind().dialect.name`."""
    unique = list(dict.fromkeys(values))
    if dialect == "postgresql":
        return _any(column, bindparam(None, unique, type_=_array_of(column)))
    within: ColumnElement[bool] = column.in_(unique)
    return within


def any_of(column: Any, name: str) -> ColumnElement[bool]:
    """`one_of`'s PostgreSQL form for a statement built once: `column = ANY(:name)`, the list
    bound at execution under `name`."""
    return _any(column, bindparam(name, type_=_array_of(column)))


def _any(column: Any, array: Any) -> ColumnElement[bool]:
    found: ColumnElement[bool] = column == any_(array)
    return found


def _array_of(column: Any) -> ARRAY[Any]:
    """The array's type: items of the column's type, a string without its length, as the IN
    list binds it (a cast to `VARCHAR(255)[]` would cut a longer value to 255 characters, which
    could then match a stored one)."""
    item = String() if isinstance(column.type, String) else column.type
    return ARRAY(item)
