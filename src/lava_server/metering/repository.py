"""The SQL of the forward proxy's hot path: few statements, Core only, compiled once.

`write_transaction` is `Database.write()` on a Core connection instead of an ORM session:
measured here, a statement costs about 0.07 ms through an `AsyncConnection` and 0.37 ms through
an `AsyncSession` (PostgreSQL; SQLite 0.12 ms and 0.7 ms), and a forward call runs a dozen.
`CoreSession` lets the server's shared writers (the ledger, the roll-ups, the period-credit
checks), written against `AsyncSession`, run on that connection: they only call `execute` and
`get_bind`. Lock order is the one of every money-moving transaction of the server: the wallet
row first, then tier positions, then roll-ups.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Protocol, cast

from sqlalchemy import Connection as SyncConnection
from sqlalchemy import (
    CursorResult,
    Select,
    Table,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from lava_server.db.driver import DriverSession, NeedsSession
from lava_server.db.engine import Database, any_of, one_of, upsert_insert
from lava_server.db.models import (
    ActiveSubscription,
    ApiKey,
    Connection,
    CreditBundle,
    Product,
    Request,
    ServerProcess,
    SubscriptionConfig,
    TierUsage,
    Wallet,
    table_of,
)
from lava_server.db.types import capped_add
from lava_server.pricing import MAX_AMOUNT
from lava_server.pricing.config import TIER_POSITION_CAP
from lava_server.spend_keys import repository as spend_keys_repository


class CoreSession:
    """The part of `AsyncSession` the shared writers use, over a Core connection."""

    __slots__ = ("connection",)

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def execute(self, statement: Any, params: Any = None) -> Any:
        return await self.connection.execute(statement, params)

    def get_bind(self) -> SyncConnection:
        return self.connection.sync_connection  # type: ignore[return-value]


@asynccontextmanager
async def write_transaction(db: Database, *, durable: bool = True) -> AsyncIterator[AsyncSession]:
    """`Database.write()` on a Core connection (same locking: SQLite's BEGIN IMMEDIATE behind the
    process's writer lock; row locks on PostgreSQL). Committed at the end, rolled back on error.

    `durable=False` (PostgreSQL) commits without waiting for the WAL flush: for a hold, whose
    loss in a crash loses nothing charged (a later durable commit flushes it anyway)."""
    if db.is_sqlite:
        async with db.sqlite_writer, db.engine.connect() as connection:
            await connection.execution_options(lava_write=True)
            async with connection.begin():
                yield cast(AsyncSession, CoreSession(connection))
    else:
        async with db.engine.begin() as connection:
            if not durable:
                await connection.execute(_ASYNC_COMMIT)
            yield cast(AsyncSession, CoreSession(connection))


_ASYNC_COMMIT = text("SET LOCAL synchronous_commit = off")


class WriterConnection:
    """The connection of one group-commit writer (which writes one batch at a time): no pool
    checkout, no ping and no per-transaction setup; set up once, made again after a failure.

    `durable=False`: commits do not wait for the disk (PostgreSQL `synchronous_commit = off`,
    SQLite `synchronous = NORMAL` in WAL mode), for holds only: a hold lost in a crash loses
    nothing charged, and the next durable commit of the database flushes it anyway."""

    def __init__(self, db: Database, *, durable: bool, autocommit: bool = False) -> None:
        """`autocommit` (PostgreSQL): each statement is its own transaction; use `connection()`
        rather than `transaction()`."""
        self.db = db
        self.durable = durable
        self.autocommit = autocommit
        self._connection: AsyncConnection | None = None
        self._sqlite: sqlite3.Connection | None = None  # `driver_transaction`'s, on SQLite

    async def _connect(self) -> AsyncConnection:
        connection = self._connection
        if connection is not None and not connection.closed and not connection.invalidated:
            return connection
        connection = await self.db.engine.connect()
        try:
            if self.db.is_sqlite:
                if not self.durable:
                    raw = await connection.get_raw_connection()
                    driver: Any = raw.driver_connection  # aiosqlite's, outside any transaction
                    await driver.execute("PRAGMA synchronous=NORMAL")
                await connection.execution_options(lava_write=True)
            else:
                if not self.durable:
                    await connection.exec_driver_sql("SET synchronous_commit = off")
                    await connection.commit()
                if self.autocommit:
                    await connection.execution_options(isolation_level="AUTOCOMMIT")
        except BaseException:
            await connection.close()
            raise
        self._connection = connection
        return connection

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        connection = await self._connect()
        try:
            if self.db.is_sqlite:
                async with self.db.sqlite_writer, connection.begin():
                    yield cast(AsyncSession, CoreSession(connection))
            else:
                async with connection.begin():
                    yield cast(AsyncSession, CoreSession(connection))
        except BaseException:
            await self.close()  # whatever went wrong, the next batch starts on a new connection
            raise

    async def connection(self) -> AsyncConnection:
        """The connection itself (for `autocommit` writers)."""
        return await self._connect()

    @asynccontextmanager
    async def driver_transaction(self) -> AsyncIterator[AsyncSession]:
        """A transaction whose statements run on the driver's own connection (`db.driver`):
        the charge's code unchanged, without SQLAlchemy's per-statement work. SQLite: a
        `sqlite3` connection of this writer's, inline, behind the process's writer lock;
        PostgreSQL: the asyncpg connection of an `autocommit` writer, in its own transaction.
        Committed at the end, rolled back on any error (then the next one reconnects, unless the
        error was `NeedsSession`: the connection is fine, the work goes to a session)."""
        if self.db.is_sqlite:
            async with self.db.sqlite_writer:
                sqlite = self._sqlite
                if sqlite is None:
                    sqlite = self._sqlite = self.db.sqlite_connection(durable=self.durable)
                try:
                    sqlite.execute("BEGIN IMMEDIATE")
                    yield cast(AsyncSession, DriverSession(sqlite, self.db.engine.dialect))
                    sqlite.execute("COMMIT")
                except NeedsSession:
                    try:
                        sqlite.execute("ROLLBACK")
                    except sqlite3.Error:
                        self._sqlite = None
                        sqlite.close()
                    raise
                except BaseException:
                    self._sqlite = None
                    with contextlib.suppress(sqlite3.Error):
                        if sqlite.in_transaction:
                            sqlite.execute("ROLLBACK")
                        sqlite.close()
                    raise
            return
        assert self.autocommit, "the driver's transaction is opened on an autocommit writer"
        connection = await self._connect()
        try:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection  # asyncpg's own connection
            async with driver.transaction():
                yield cast(AsyncSession, DriverSession(driver, self.db.engine.dialect))
        except NeedsSession:
            raise  # rolled back by asyncpg's transaction
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        sqlite, self._sqlite = self._sqlite, None
        if sqlite is not None:
            sqlite.close()
        if connection is not None:
            await connection.close()


# -- the permission rule of a hold --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PayerRef:
    """How a forward token names who pays (`docs/forward-proxy.md#tokens`). `by`:

    - `secret` (seed era): `connection` is a connection secret, `product` a product secret or None;
    - `id` / `reference` (current era): `connection` is the customer's `con_` id / its
      `reference_id` (the oldest live connection with it), `product` the meter's slug, or its
      `prd_` id when no meter of the merchant has that slug."""

    by: str
    connection: str
    product: str | None

    @property
    def shape(self) -> tuple[str, bool]:
        return (self.by, self.product is not None)

    def params(self) -> dict[str, str]:
        if self.by == "secret":
            found = {"connection_secret": self.connection}
            if self.product is not None:
                found["product_secret"] = self.product
            return found
        assert self.product is not None
        return {"customer_id": self.connection, "meter_slug": self.product}

    def binds(self) -> list[Any]:
        if self.by == "secret":
            binds = [bindparam("connection_secret", type_=Connection.secret.type)]
            if self.product is not None:
                binds.append(bindparam("product_secret", type_=Product.secret.type))
            return binds
        return [
            bindparam("customer_id", type_=Connection.id.type),
            bindparam("meter_slug", type_=Product.meter_slug.type),
        ]


def customer_ref(customer_id: str, meter_slug: str) -> PayerRef:
    """A current-era token's payer (a reference may not start with `con_`)."""
    by = "id" if customer_id.startswith("con_") else "reference"
    return PayerRef(by, customer_id, meter_slug)


# The current era's meter: its slug among the merchant's live meters of the mode, else its id.
_METER_JOIN = """
JOIN products p ON p.id = COALESCE((SELECT m.id FROM products m
    WHERE m.merchant_id = k.merchant_id AND m.livemode = k.livemode
      AND m.meter_slug = :meter_slug AND m.deleted_at IS NULL), :meter_slug)"""


def payer_rule(*, with_product: bool, by: str = "secret", spend_key: bool = False) -> str:
    """The permission rule of a hold, the one statement of it that every path runs (the ordinary
    path's `lock_payer`, `PostgresHolds`, `SqliteHolds`): the secret key is active, the connection
    is active and belongs to the key's merchant and mode, and so does the product (when the token
    names one). A `FROM ... WHERE` clause over `k` (api_keys), `c` (connections), `w` (wallets)
    and `p` (products), with the parameters `:key_hash` and the `PayerRef.params` of `by`
    (`:connection_secret` and `:product_secret`, or `:customer_id` and `:meter_slug`). When it
    matches nothing, `forward._diagnose` names the secret at fault.

    With `spend_key`, `k` is the spend key (`spend_keys`) instead: not revoked, and bound to that
    connection and product (`docs/current-api.md#spend-keys`); its status, expiry and limits are
    checked where its allowance is taken (`spend_keys.repository.reserve`)."""
    sql = "\nFROM spend_keys k" if spend_key else "\nFROM api_keys k"
    if by == "secret":
        sql += "\nJOIN connections c ON c.secret = :connection_secret"
    elif by == "id":
        sql += "\nJOIN connections c ON c.id = :customer_id"
    else:
        sql += """
JOIN connections c ON c.id = (SELECT min(r.id) FROM connections r
    WHERE r.merchant_id = k.merchant_id AND r.livemode = k.livemode
      AND r.reference_id = :customer_id AND r.deleted_at IS NULL)"""
    sql += "\nJOIN wallets w ON w.id = c.wallet_id"
    if with_product:
        sql += "\nJOIN products p ON p.secret = :product_secret" if by == "secret" else _METER_JOIN
    if spend_key:
        assert with_product  # a key bound to a customer is bound to a meter too
        sql += """
WHERE k.key_hash = :key_hash AND k.deleted_at IS NULL
  AND k.connection_id = c.id AND k.meter_id = p.id"""
    else:
        sql += """
WHERE k.key_hash = :key_hash AND k.revoked_at IS NULL"""
    sql += """
  AND c.deleted_at IS NULL AND c.merchant_id = k.merchant_id AND c.livemode = k.livemode"""
    if with_product:
        sql += """
  AND p.deleted_at IS NULL AND p.merchant_id = k.merchant_id AND p.livemode = k.livemode"""
    return sql + "\n"


_FITS = """(p.overdraft <> 'block' OR w.balance - w.held >= :hold)
  AND w.balance - w.held - :hold >= :floor AND w.frozen_at IS NULL"""
"""The quick holds' balance check (the ordinary path's, `ForwardBilling._hold`, says why)."""


@dataclass(frozen=True, slots=True)
class Payer:
    """Who a forward call bills, as found under the wallet's lock (the rule held)."""

    merchant_id: str
    livemode: bool
    connection_id: str
    wallet_id: str
    balance: Decimal
    held: Decimal
    cycle_started_at: datetime | None
    cycle_ends_at: datetime | None
    product: Product | None  # None: no product_secret in the token
    frozen: bool = False  # a dispute is open (`WalletFrozen`)


_PRODUCT_COLUMNS = (
    Product.id,
    Product.merchant_id,
    Product.livemode,
    Product.rate_type,
    Product.token_basis,
    Product.tiers,
    Product.base_cost_payer,
    Product.service_charge_payer,
    Product.overdraft,
    Product.updated_at,
)
_PAYER_TYPES: dict[str, Any] = {
    "livemode": ApiKey.livemode.type,
    "balance": Wallet.balance.type,
    "held": Wallet.held.type,
    "cycle_started_at": Wallet.cycle_started_at.type,
    "cycle_ends_at": Wallet.cycle_ends_at.type,
    "frozen_at": Wallet.frozen_at.type,
}


def _payer_statement(ref: PayerRef, *, postgres: bool, spend_key: bool = False) -> Any:
    with_product = ref.product is not None
    columns = [
        "k.merchant_id",
        "k.livemode",
        "c.id AS connection_id",
        "c.wallet_id",
        "w.balance",
        "w.held",
        "w.cycle_started_at",
        "w.cycle_ends_at",
        "w.frozen_at",
    ]
    types = dict(_PAYER_TYPES)
    if with_product:
        for column in _PRODUCT_COLUMNS:
            columns.append(f"p.{column.name} AS product_{column.key}")
            types[f"product_{column.key}"] = column.type
    rule = payer_rule(with_product=with_product, by=ref.by, spend_key=spend_key)
    sql = f"SELECT {', '.join(columns)}{rule}"
    if postgres:
        sql += "FOR UPDATE OF w"
    binds = [*ref.binds(), bindparam("key_hash", type_=ApiKey.key_hash.type)]
    return text(sql).bindparams(*binds).columns(**types)


_PAYERS = {
    (ref.shape, postgres, False): _payer_statement(ref, postgres=postgres)
    for ref in (
        PayerRef("secret", "", None),
        PayerRef("secret", "", ""),
        PayerRef("id", "", ""),
        PayerRef("reference", "", ""),
    )
    for postgres in (False, True)
} | {
    (("secret", True), postgres, True): _payer_statement(
        PayerRef("secret", "", ""), postgres=postgres, spend_key=True
    )
    for postgres in (False, True)
}


async def lock_payer(
    session: AsyncSession, *, key_hash: str, ref: PayerRef, spend_key: bool = False
) -> Payer | None:
    """Check the token's payer by `payer_rule` and lock the wallet, in one statement; None when
    the rule refuses it (`forward._diagnose` then says why). `spend_key`: `key_hash` is a spend
    key's, bound to the payer."""
    postgres = session.get_bind().dialect.name == "postgresql"
    params: dict[str, Any] = {"key_hash": key_hash, **ref.params()}
    statement = _PAYERS[(ref.shape, postgres, spend_key)]
    row = (await session.execute(statement, params)).first()
    if row is None:
        return None
    product = None
    if ref.product is not None:
        product = Product(**{c.key: row._mapping[f"product_{c.key}"] for c in _PRODUCT_COLUMNS})
    return Payer(
        merchant_id=row.merchant_id,
        livemode=bool(row.livemode),
        connection_id=row.connection_id,
        wallet_id=row.wallet_id,
        balance=row.balance,
        held=row.held,
        cycle_started_at=row.cycle_started_at,
        cycle_ends_at=row.cycle_ends_at,
        product=product,
        frozen=row.frozen_at is not None,
    )


_SECRETS = {
    (by, spend_key): text(
        "SELECT c.secret AS connection_secret, p.secret AS product_secret"
        + payer_rule(with_product=True, by=by, spend_key=spend_key)
    ).bindparams(*PayerRef(by, "", "").binds(), bindparam("key_hash", type_=ApiKey.key_hash.type))
    for by in ("id", "reference")
    for spend_key in (False, True)
}


async def payer_secrets(
    session: AsyncSession, key_hash: str, ref: PayerRef, *, spend_key: bool = False
) -> PayerRef | None:
    """A current-era payer as the seed era's secrets (no lock: the ordinary path then locks by
    them, in the server's wallet order); None when the rule refuses it."""
    statement = _SECRETS[(ref.by, spend_key)]
    row = (await session.execute(statement, {"key_hash": key_hash, **ref.params()})).first()
    return None if row is None else PayerRef("secret", row.connection_secret, row.product_secret)


async def tier_units(
    session: AsyncSession, connection_id: str, product_id: str, period_start: datetime
) -> int:
    units = (
        await session.execute(
            select(TierUsage.units).where(
                TierUsage.connection_id == connection_id,
                TierUsage.product_id == product_id,
                TierUsage.period_start == period_start,
            )
        )
    ).scalar_one_or_none()
    return int(units or 0)


async def find_connection(session: AsyncSession, secret: str) -> tuple[str, bool] | None:
    """(merchant_id, livemode) of an active connection."""
    row = (
        await session.execute(
            select(Connection.merchant_id, Connection.livemode).where(
                Connection.secret == secret, Connection.deleted_at.is_(None)
            )
        )
    ).first()
    return None if row is None else (row.merchant_id, row.livemode)


async def find_product(session: AsyncSession, secret: str) -> tuple[str, bool] | None:
    """(merchant_id, livemode) of an active product."""
    row = (
        await session.execute(
            select(Product.merchant_id, Product.livemode).where(
                Product.secret == secret, Product.deleted_at.is_(None)
            )
        )
    ).first()
    return None if row is None else (row.merchant_id, row.livemode)


_CHANGE_HELD = (
    update(Wallet)
    .where(Wallet.id == bindparam("wallet_id", type_=Wallet.id.type))
    .values(held=Wallet.held + bindparam("delta", type_=Wallet.held.type))
)


async def change_held(session: AsyncSession, wallet_id: str, delta: Decimal) -> None:
    """`wallets.held += delta` (a hold taken: positive; released: negative)."""
    await session.execute(_CHANGE_HELD, {"wallet_id": wallet_id, "delta": delta})


_REQUEST_TABLE = cast(Table, Request.__table__)
# Statements built once (SQLAlchemy then compiles each once): the final values of a request
# are bound as `v_<column>`.
FINAL_COLUMNS = (
    "status",
    "model",
    "metadata",
    "response_id",
    "input_tokens",
    "output_tokens",
    "input_characters",
    "output_characters",
    "input_seconds",
    "output_seconds",
    "input_cost",
    "output_cost",
    "total_cost",
    "model_payer",
    "fee_amount",
    "rate_type",
    "token_basis",
    "fee_breakdown",
    "service_charge_amount",
    "service_charge_payer",
    "total_request_cost",
    "total_wallet_cost",
    "total_merchant_cost",
)


def _finish_statement(columns: tuple[str, ...]) -> Any:
    table = _REQUEST_TABLE
    return (
        update(table)
        .where(
            table.c.seq == bindparam("v_seq", type_=table.c.seq.type),
            table.c.status == "pending",
        )
        .values({name: bindparam(f"v_{name}", type_=table.c[name].type) for name in columns})
    )


_FINISH = _finish_statement(FINAL_COLUMNS)
_MARK_ERROR = _finish_statement(("status",))


async def pending_requests(session: AsyncSession, seqs: list[int]) -> set[int]:
    """Which of these requests are still pending."""
    if not seqs:
        return set()
    pending = _PENDING_PG if session.get_bind().dialect.name == "postgresql" else _PENDING
    rows = await session.execute(pending, {"seqs": seqs})
    return {int(seq) for seq in rows.scalars()}


_PENDING = select(Request.seq).where(
    Request.seq.in_(bindparam("seqs", expanding=True)), Request.status == "pending"
)
# One array parameter, one prepared statement whatever the number (`db.engine.one_of`).
_PENDING_PG = select(Request.seq).where(any_of(Request.seq, "seqs"), Request.status == "pending")


async def finish_requests(session: AsyncSession, finals: list[dict[str, Any]]) -> None:
    """Give pending requests their final values (each dict: `seq` and all of
    `FINAL_COLUMNS`), in one statement; the caller checked that they are pending."""
    params = []
    for values in finals:
        values = column_values(values)
        params.append({f"v_{name}": value for name, value in values.items()})
    await session.execute(_FINISH, params)


async def wallets_of(session: AsyncSession, connection_secrets: list[str]) -> dict[str, str]:
    """Connection secret -> wallet id (no lock: to decide the order in which to lock)."""
    rows = await session.execute(
        select(Connection.secret, Connection.wallet_id).where(
            one_of(Connection.secret, connection_secrets, session.get_bind().dialect.name)
        )
    )
    return {row.secret: row.wallet_id for row in rows}


async def finish_request(session: AsyncSession, seq: int, values: dict[str, Any]) -> bool:
    """Give a pending request its final values (all of `FINAL_COLUMNS`, or only `status`);
    False when it is not pending any more (settled or released already: roll back)."""
    values = column_values(values)
    statement = _MARK_ERROR if len(values) == 1 else _FINISH
    params = {f"v_{name}": value for name, value in values.items()}
    params["v_seq"] = seq
    result = cast(CursorResult[Any], await session.execute(statement, params))
    return result.rowcount == 1


# -- quick holds: one interface, one implementation per database --------------------------------


class Holds(Protocol):
    """The quick holds, for single-tier products seen before (whose hold does not depend on the
    tier position): for each hold, check the secrets (`payer_rule`), lock the wallet, check the
    balance, take the hold and store the pending request, each hold seeing the ones before it.
    None for a hold that wrote nothing: the ordinary path then decides, and says why.
    `PostgresHolds` (a statement a hold) and `SqliteHolds` (the holds that arrived together in
    one transaction) run the same rule, each as its database runs it fastest."""

    async def hold_many(self, batch: Sequence[HoldRequest]) -> list[QuickHold | None]: ...

    async def close(self) -> None: ...


def quick_holds(db: Database) -> Holds:
    return SqliteHolds(db) if db.is_sqlite else PostgresHolds(db)


# -- PostgreSQL: a hold in one statement -----------------------------------------------------------

_DYNAMIC_ROW = ("merchant_id", "livemode", "connection_id", "product_id", "wallet_id")


def _quick_hold_statement(by: str, spend_key: bool = False) -> Any:
    """Check the secrets, lock the wallet, check the balance, add the hold and insert the pending
    request, all in one statement (PostgreSQL data-modifying CTEs). Nothing is written unless
    every check passes and the product is still the version whose pricing priced the hold;
    `seq` is then NULL and the caller takes the ordinary path, which says what is wrong."""
    table = _REQUEST_TABLE
    static = [name for name in table.c.keys() if name != "seq" and name not in _DYNAMIC_ROW]  # noqa: SIM118
    columns = ", ".join(
        ["merchant_id", "livemode", "connection_id", "product_id", "wallet_id", *static]
    )
    # Parameters in a SELECT list have no type of their own: each is cast to its column's.
    pg = postgresql.dialect()  # type: ignore[no-untyped-call]
    values = ", ".join(
        [
            "payer.merchant_id",
            "payer.livemode",
            "payer.connection_id",
            "payer.product_id",
            "payer.wallet_id",
        ]
        + [f"CAST(:r_{name} AS {table.c[name].type.compile(dialect=pg)})" for name in static]
    )
    # Built from the table's own column names and types, never from input.
    sql = f"""
WITH payer AS (
    SELECT k.merchant_id, k.livemode, c.id AS connection_id, c.wallet_id,
           w.cycle_started_at, w.cycle_ends_at, p.id AS product_id
    {payer_rule(with_product=True, by=by, spend_key=spend_key)}
      AND p.id = :product_id AND p.updated_at = :product_updated_at
      AND {_FITS}
    FOR UPDATE OF w
), taken AS (
    UPDATE wallets SET held = wallets.held + :hold FROM payer WHERE wallets.id = payer.wallet_id
), created AS (
    INSERT INTO requests ({columns}) SELECT {values} FROM payer RETURNING seq
)
SELECT payer.*, (SELECT seq FROM created) AS seq FROM payer
"""  # noqa: S608
    binds = [
        *PayerRef(by, "", "").binds(),
        bindparam("key_hash", type_=ApiKey.key_hash.type),
        bindparam("product_id", type_=Product.id.type),
        bindparam("product_updated_at", type_=Product.updated_at.type),
        bindparam("hold", type_=Wallet.held.type),
        bindparam("floor", type_=Wallet.held.type),
        *(bindparam(f"r_{name}", type_=table.c[name].type) for name in static),
    ]
    result_columns = {
        "cycle_started_at": Wallet.cycle_started_at.type,
        "cycle_ends_at": Wallet.cycle_ends_at.type,
    }
    return text(sql).bindparams(*binds).columns(**result_columns), tuple(static)


_QUICK_HOLDS = {
    (by, spend_key): _quick_hold_statement(by, spend_key)
    for by in ("secret", "id", "reference")
    for spend_key in (False, True)
}
_QUICK_HOLD_STATIC = _QUICK_HOLDS[("secret", False)][1]


@dataclass(frozen=True, slots=True)
class QuickHold:
    seq: int | None  # None: nothing was written
    merchant_id: str
    livemode: bool
    connection_id: str
    wallet_id: str
    cycle_started_at: datetime | None
    cycle_ends_at: datetime | None


@dataclass(frozen=True, slots=True)
class HoldRequest:
    """A quick hold to take: the payer to check (with a product), the product version that
    priced it, the hold and the pending request's row (values by attribute name)."""

    key_hash: str
    ref: PayerRef
    product_id: str
    product_updated_at: datetime
    hold: Decimal
    row: dict[str, Any]
    spend_key: str | None = None  # `key_hash` is this spend key's: its allowance is taken too
    now: datetime | None = None  # the time of the call (a spend key's cycles)


class PostgresHolds:
    """PostgreSQL: `_quick_hold_statement` run on the asyncpg connection itself, with the values
    converted by the statement's own SQLAlchemy types. The statement is compiled once; each hold
    then skips SQLAlchemy's per-statement work."""

    def __init__(self, db: Database) -> None:
        self._writer = WriterConnection(db, durable=False, autocommit=True)
        dialect = db.engine.dialect
        # (by, spend key) -> the statement
        self._statements = {
            shape: DriverStatement(statement, dialect)
            for shape, (statement, _) in _QUICK_HOLDS.items()
        }
        self._reserve = DriverStatement(spend_keys_repository.RESERVE, dialect)
        self._time_from_db = _from_db(Wallet.cycle_started_at.type, dialect)

    async def hold_many(self, batch: Sequence[HoldRequest]) -> list[QuickHold | None]:
        """Each hold of `batch` in turn, each its one statement, on an autocommit connection of
        its own (`ForwardBilling` sends one at a time: under load, PostgreSQL's holds go
        together through the ordinary path). None for a hold that wrote nothing (the ordinary
        path then says why). Raises the driver's errors (`asyncpg.PostgresError`, ...) as they
        are: the holds before were committed, the failing one may or may not have been (see
        `find_pending_hold`)."""
        connection = await self._writer.connection()
        try:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection  # asyncpg's own connection
            found = [await self._take(driver, wanted, *self._arguments(wanted)) for wanted in batch]
        except BaseException:
            await self._writer.close()  # the next hold starts on a new connection
            raise
        return [None if row is None else self._quick_hold(row) for row in found]

    def _arguments(self, wanted: HoldRequest) -> tuple[str, list[Any]]:
        statement = self._statements[(wanted.ref.by, wanted.spend_key is not None)]
        params: dict[str, Any] = {
            **wanted.ref.params(),
            "key_hash": wanted.key_hash,
            "product_id": wanted.product_id,
            "product_updated_at": wanted.product_updated_at,
            "hold": wanted.hold,
            "floor": -MAX_AMOUNT,
        }
        values = column_values(wanted.row)
        for name in _QUICK_HOLD_STATIC:
            params[f"r_{name}"] = values[name]
        return statement.sql, statement.arguments(params)

    async def _take(self, driver: Any, wanted: HoldRequest, sql: str, arguments: list[Any]) -> Any:
        if wanted.spend_key is None:
            return await driver.fetchrow(sql, *arguments)
        return await self._hold_with_key(driver, wanted, sql, arguments)

    def _quick_hold(self, found: Any) -> QuickHold:
        return QuickHold(
            seq=None if found["seq"] is None else int(found["seq"]),
            merchant_id=found["merchant_id"],
            livemode=found["livemode"],
            connection_id=found["connection_id"],
            wallet_id=found["wallet_id"],
            cycle_started_at=self._time_from_db(found["cycle_started_at"]),
            cycle_ends_at=self._time_from_db(found["cycle_ends_at"]),
        )

    async def _hold_with_key(
        self, driver: Any, wanted: HoldRequest, sql: str, arguments: list[Any]
    ) -> Any:
        """The hold's statement, then the key's allowance (under the wallet's lock the statement
        took), in one transaction: both are taken or neither."""
        assert wanted.spend_key is not None and wanted.now is not None
        params = spend_keys_repository.reserve_params(
            wanted.spend_key, wanted.key_hash, wanted.hold, wanted.now
        )
        try:
            async with driver.transaction():
                found = await driver.fetchrow(sql, *arguments)
                if found is None or found["seq"] is None:
                    return None
                status = await driver.execute(self._reserve.sql, *self._reserve.arguments(params))
                if status != "UPDATE 1":
                    raise _NotTaken  # roll the hold back: the ordinary path says which limit
                return found
        except _NotTaken:
            return None

    async def close(self) -> None:
        await self._writer.close()


class _NotTaken(Exception):
    pass


class DriverStatement:
    """A statement compiled once for the driver itself: its SQL, and its positional arguments
    from named values (the statement's own literals filled in), each converted by its type
    (`_to_db`)."""

    __slots__ = ("converters", "defaults", "names", "sql")

    def __init__(self, statement: Any, dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql: str = compiled.string
        self.names = tuple(compiled.positiontup or ())
        self.converters = tuple(_to_db(compiled.binds[name].type, dialect) for name in self.names)
        self.defaults = {
            name: value for name, value in compiled.params.items() if value is not None
        }

    def arguments(self, params: dict[str, Any]) -> list[Any]:
        values = {**self.defaults, **params} if self.defaults else params  # the hold's: none
        pairs = zip(self.names, self.converters, strict=True)
        return [convert(values[name]) for name, convert in pairs]


async def find_pending_hold(
    session: AsyncSession, merchant_id: str, livemode: bool, request_id: str
) -> QuickHold | None:
    """The pending request `request_id` with its hold, if a quick hold wrote it."""
    row = (
        await session.execute(
            select(
                Request.seq,
                Request.connection_id,
                Request.wallet_id,
                Wallet.cycle_started_at,
                Wallet.cycle_ends_at,
            )
            .join(Wallet, Wallet.id == Request.wallet_id)
            .where(
                Request.merchant_id == merchant_id,
                Request.livemode == livemode,
                Request.request_id == request_id,
                Request.status == "pending",
            )
        )
    ).first()
    if row is None or row.connection_id is None or row.wallet_id is None:
        return None
    return QuickHold(
        seq=int(row.seq),
        merchant_id=merchant_id,
        livemode=livemode,
        connection_id=row.connection_id,
        wallet_id=row.wallet_id,
        cycle_started_at=row.cycle_started_at,
        cycle_ends_at=row.cycle_ends_at,
    )


# -- SQLite: a hold in three statements, without SQLAlchemy ----------------------------------------


class SqliteHolds:
    """SQLite: the quick holds (the one-statement hold of PostgreSQL above, same checks) run on
    a `sqlite3` connection of its own: three statements a hold, executed inline with the values
    converted by the columns' own SQLAlchemy types, the holds of a batch in one transaction.
    About 0.1 ms a hold against 0.8 ms for the same work through SQLAlchemy's async layer, and it
    is on the path of every call.

    Nothing is written unless every check passes (the caller then takes the ordinary path, which
    says what is wrong). Commits do not wait for the disk, like every hold (see
    `WriterConnection`)."""

    _PAYERS: ClassVar[dict[tuple[str, bool], str]] = {
        (by, spend_key): (
            "SELECT k.merchant_id, k.livemode, c.id, c.wallet_id, w.cycle_started_at, "
            "w.cycle_ends_at"
            + payer_rule(with_product=True, by=by, spend_key=spend_key)
            + "  AND p.id = :product_id AND p.updated_at = :product_updated_at\n  AND "
            + _FITS
        )
        for by in ("secret", "id", "reference")
        for spend_key in (False, True)
    }
    _TAKE = "UPDATE wallets SET held = held + :hold WHERE id = :wallet_id"

    def __init__(self, db: Database) -> None:
        self.db = db
        dialect = db.engine.dialect
        table = _REQUEST_TABLE
        self._columns = [name for name in table.c.keys() if name != "seq"]  # noqa: SIM118
        quote = dialect.identifier_preparer.quote
        self._insert = (
            f"INSERT INTO requests ({', '.join(quote(name) for name in self._columns)}) "  # noqa: S608
            f"VALUES ({', '.join(f':{name}' for name in self._columns)})"
        )  # built from the table's own column names, never from input
        self._to_db = {
            name: processor
            for name in self._columns
            if (processor := _to_db(table.c[name].type, dialect)) is not _same
        }
        self._money_to_db = _to_db(Wallet.held.type, dialect)
        self._floor = self._money_to_db(-MAX_AMOUNT)
        self._time_to_db = _to_db(Product.updated_at.type, dialect)
        self._bool_from_db = _from_db(ApiKey.livemode.type, dialect)
        self._time_from_db = _from_db(Wallet.cycle_started_at.type, dialect)
        # A spend key's allowance: its own statement (`spend_keys.repository.reserve`), compiled.
        self._reserve = DriverStatement(spend_keys_repository.RESERVE, dialect)
        self._connection: sqlite3.Connection | None = None

    async def hold_many(self, batch: Sequence[HoldRequest]) -> list[QuickHold | None]:
        """Take each hold of `batch` and insert its pending request, in turn, all in one
        transaction: one commit for the lot (a commit writes every page the holds changed into
        the WAL, and it is the dearest part of a hold). A hold that does not fit writes nothing
        and leaves the others be, as on its own. Any error of the database rolls the whole
        batch back and is raised."""
        prepared = [(wanted, self._insert_values(wanted)) for wanted in batch]
        async with self.db.sqlite_writer:
            connection = self._connection
            if connection is None:
                connection = self._connection = self.db.sqlite_connection(durable=False)
            connection.execute("BEGIN IMMEDIATE")
            try:
                found = [self._take(connection, wanted, insert) for wanted, insert in prepared]
                connection.execute("COMMIT")
            except BaseException:
                self._connection = None  # the next hold starts on a new connection
                with contextlib.suppress(sqlite3.Error):
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    connection.close()
                raise
        return [None if taken is None else self._quick_hold(*taken) for taken in found]

    def _insert_values(self, wanted: HoldRequest) -> dict[str, Any]:
        values = column_values(wanted.row)
        to_db = self._to_db
        return {
            name: (to_db[name](values[name]) if name in to_db else values[name])
            for name in self._columns
        }

    def _take(
        self, connection: sqlite3.Connection, wanted: HoldRequest, insert: dict[str, Any]
    ) -> tuple[Any, ...] | None:
        """One hold inside the open transaction: (seq, the payer's row), or None having written
        nothing."""
        hold_value = self._money_to_db(wanted.hold)
        found = connection.execute(
            self._PAYERS[(wanted.ref.by, wanted.spend_key is not None)],
            {
                **wanted.ref.params(),
                "key_hash": wanted.key_hash,
                "product_id": wanted.product_id,
                "product_updated_at": self._time_to_db(wanted.product_updated_at),
                "hold": hold_value,
                "floor": self._floor,
            },
        ).fetchone()
        if found is None:
            return None
        merchant_id, livemode, connection_id, wallet_id, _, _ = found
        if wanted.spend_key is not None and not self._take_allowance(connection, wanted):
            return None  # nothing written: the ordinary path says which limit
        connection.execute(self._TAKE, {"hold": hold_value, "wallet_id": wallet_id})
        insert.update(merchant_id=merchant_id, livemode=livemode)
        insert.update(connection_id=connection_id, wallet_id=wallet_id)
        insert["product_id"] = wanted.product_id
        return (connection.execute(self._insert, insert).lastrowid, *found)

    def _quick_hold(
        self,
        seq: int,
        merchant_id: str,
        livemode: Any,
        connection_id: str,
        wallet_id: str,
        started: Any,
        ends: Any,
    ) -> QuickHold:
        return QuickHold(
            seq=seq,
            merchant_id=merchant_id,
            livemode=bool(self._bool_from_db(livemode)),
            connection_id=connection_id,
            wallet_id=wallet_id,
            cycle_started_at=self._time_from_db(started),
            cycle_ends_at=self._time_from_db(ends),
        )

    def _take_allowance(self, connection: sqlite3.Connection, wanted: HoldRequest) -> bool:
        """The key's allowance, under the wallet's lock (the whole database's, on SQLite)."""
        assert wanted.spend_key is not None and wanted.now is not None
        params = spend_keys_repository.reserve_params(
            wanted.spend_key, wanted.key_hash, wanted.hold, wanted.now
        )
        arguments = self._reserve.arguments(params)
        return connection.execute(self._reserve.sql, arguments).rowcount == 1

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def _same(value: Any) -> Any:
    return value


def _to_db(type_: Any, dialect: Any) -> Any:
    """What the engine does to a value of `type_` on its way in, for statements run on the
    driver itself (the dialect's own implementation: SQLite's, say, stores timestamps as text)."""
    return type_.dialect_impl(dialect).bind_processor(dialect) or _same


def _from_db(type_: Any, dialect: Any) -> Any:
    """What the engine does to a value of `type_` on its way out (see `_to_db`)."""
    return type_.dialect_impl(dialect).result_processor(dialect, None) or _same


# -- request rows and tier positions ---------------------------------------------------------


async def add_tier_units(
    session: AsyncSession, additions: Sequence[tuple[str, str, datetime, int]]
) -> None:
    """Add units to tier positions `(connection_id, product_id, period_start, units)`, summed per
    key and written in one global order (see `metering.rollups.add_requests`). A position stops at
    `TIER_POSITION_CAP`, past every tier start."""
    totals: dict[tuple[str, str, datetime], int] = {}
    for connection_id, product_id, period_start, units in additions:
        key = (connection_id, product_id, period_start)
        totals[key] = min(totals.get(key, 0) + units, TIER_POSITION_CAP)
    if not totals:
        return
    await session.execute(
        _tier_upsert(session, returning=False),
        [
            {"connection_id": c, "product_id": p, "period_start": start, "units": units}
            for (c, p, start), units in sorted(totals.items())
        ],
    )


async def take_tier_units(session: AsyncSession, key: tuple[str, str, datetime], units: int) -> int:
    """Add `units` to one tier position and return the position before them, in one statement
    (the caller holds the wallet's lock, as every writer of tier positions)."""
    connection_id, product_id, period_start = key
    params = {
        "connection_id": connection_id,
        "product_id": product_id,
        "period_start": period_start,
        "units": units,
    }
    total = int((await session.execute(_tier_upsert(session, returning=True), params)).scalar_one())
    return total - units


_TIER_UPSERTS: dict[tuple[str, bool], Any] = {}


def _tier_upsert(session: AsyncSession, *, returning: bool) -> Any:
    """The upsert of one tier position per dialect (built once; SQLAlchemy compiles it once)."""
    key = (session.get_bind().dialect.name, returning)
    statement = _TIER_UPSERTS.get(key)
    if statement is None:
        table = table_of(TierUsage)
        insert_ = upsert_insert(session)(table)
        statement = insert_.on_conflict_do_update(
            index_elements=["connection_id", "product_id", "period_start"],
            set_={"units": capped_add(table.c.units, insert_.excluded.units, TIER_POSITION_CAP)},
        )
        if returning:
            statement = statement.returning(table.c.units)
        _TIER_UPSERTS[key] = statement
    return statement


async def stored_keys(
    session: AsyncSession, keys: Sequence[tuple[str, bool, str]]
) -> set[tuple[str, bool, str]]:
    """Which of these `(merchant_id, livemode, request_id)` are stored (a cheap Core query; the
    rows themselves are read only for the rare repeats)."""
    if not keys:
        return set()
    rows = await session.execute(stored_keys_query(keys, session.get_bind().dialect.name))
    return {(r.merchant_id, r.livemode, r.request_id) for r in rows}


def stored_keys_query(keys: Sequence[tuple[str, bool, str]], dialect: str) -> Select[Any]:
    """`stored_keys`' statement: per merchant and mode, `request_id IN (...)`, which both
    databases answer from the unique index's lookups. (A row-value `IN` of the three columns
    made SQLite scan the merchant's every request, or all of them: 24 ms a batch at 100,000
    stored requests, 82 ms at 400,000, under the write lock.)"""
    t = table_of(Request)
    return select(t.c.merchant_id, t.c.livemode, t.c.request_id).where(
        or_(
            *(
                (t.c.merchant_id == merchant_id)
                & (t.c.livemode == livemode)
                & one_of(t.c.request_id, request_ids, dialect)
                for (merchant_id, livemode), request_ids in _grouped(keys).items()
            )
        )
    )


async def tier_units_many(
    session: AsyncSession, keys: Sequence[tuple[str, str, datetime]]
) -> dict[tuple[str, str, datetime], int]:
    if not keys:
        return {}
    rows = await session.execute(tier_units_query(keys, session.get_bind().dialect.name))
    return {(r.connection_id, r.product_id, r.period_start): int(r.units) for r in rows}


def tier_units_query(keys: Sequence[tuple[str, str, datetime]], dialect: str) -> Select[Any]:
    """`tier_units_many`' statement: per product and period, `connection_id IN (...)`, answered
    from the primary key's lookups (a row-value `IN` made SQLite scan the table)."""
    t = table_of(TierUsage)
    by_product = _grouped([(product, start, connection) for connection, product, start in keys])
    return select(t.c.connection_id, t.c.product_id, t.c.period_start, t.c.units).where(
        or_(
            *(
                (t.c.product_id == product_id)
                & (t.c.period_start == period_start)
                & one_of(t.c.connection_id, connection_ids, dialect)
                for (product_id, period_start), connection_ids in by_product.items()
            )
        )
    )


def _grouped(keys: Sequence[tuple[Any, Any, str]]) -> dict[tuple[Any, Any], list[str]]:
    """Three-column keys grouped by their first two columns (in order), the third listed."""
    groups: dict[tuple[Any, Any], list[str]] = {}
    for first, second, third in keys:
        groups.setdefault((first, second), []).append(third)
    return groups


async def insert_request(session: AsyncSession, values: dict[str, Any]) -> int:
    """Insert one request row (values by attribute name); its `seq`."""
    result = await session.execute(_INSERT_ONE, column_values(values))
    return int(result.scalar_one())


async def insert_requests(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert request rows (values by attribute name) in one statement; their `seq`s in the order
    given. Used by both metering paths (reported usage and the forward proxy).

    On SQLAlchemy's sessions, an executemany that SQLAlchemy sends as multi-row INSERTs
    (`insertmanyvalues`). A lean writer's driver session (`db.driver`) has no such thing: there,
    one multi-row INSERT per batch, built once per number of rows (SQLAlchemy would compute
    the cache key of so large a statement at every execution; the driver's session finds it by
    its identity). Each new row then comes back with its unique key, by which its `seq` is
    matched to it."""
    if len(rows) == 1:
        return [await insert_request(session, rows[0])]
    if not isinstance(session, DriverSession):
        result = await session.execute(_INSERT_MANY, [column_values(row) for row in rows])
        return [int(seq) for seq in result.scalars()]
    seqs: list[int] = []
    for start in range(0, len(rows), _INSERT_CHUNK):
        chunk = [column_values(row) for row in rows[start : start + _INSERT_CHUNK]]
        names = tuple(chunk[0])
        params = {
            f"r{n}_{name}": value for n, row in enumerate(chunk) for name, value in row.items()
        }
        result = await session.execute(_insert_many(len(chunk), names), params)
        found = {(r.merchant_id, r.livemode, r.request_id): int(r.seq) for r in result}
        seqs.extend(found[row["merchant_id"], row["livemode"], row["request_id"]] for row in chunk)
    return seqs


_INSERT_CHUNK = 128  # rows per statement (about 6,000 parameters; both databases allow 32,766)
_INSERTS_MANY: dict[tuple[int, tuple[str, ...]], Any] = {}


def _insert_many(count: int, names: tuple[str, ...]) -> Any:
    """INSERT of `count` request rows with these columns (bound as `r<n>_<column>`), returning
    each new row's key and `seq`. Built once per shape (SQLAlchemy then compiles it once)."""
    statement = _INSERTS_MANY.get((count, names))
    if statement is None:
        table = _REQUESTS
        statement = (
            insert(table)
            .values(
                [
                    {name: bindparam(f"r{n}_{name}", type_=table.c[name].type) for name in names}
                    for n in range(count)
                ]
            )
            .returning(table.c.seq, table.c.merchant_id, table.c.livemode, table.c.request_id)
        )
        if len(_INSERTS_MANY) >= 1024:
            _INSERTS_MANY.clear()
        _INSERTS_MANY[(count, names)] = statement
    return statement


def column_values(values: dict[str, Any]) -> dict[str, Any]:
    """Request values by attribute name → by column name (`request_metadata` is `metadata`)."""
    if "request_metadata" not in values:
        return values
    renamed = dict(values)
    renamed["metadata"] = renamed.pop("request_metadata")
    return renamed


_REQUESTS = table_of(Request)
_INSERT_ONE = insert(_REQUESTS).returning(_REQUESTS.c.seq)
_INSERT_MANY = insert(_REQUESTS).returning(_REQUESTS.c.seq, sort_by_parameter_order=True)


async def find_request(
    session: AsyncSession, merchant_id: str, livemode: bool, request_id: str
) -> Request | None:
    """The stored request `request_id` (a repeated report is answered with it)."""
    return (
        await session.execute(
            select(Request).where(
                Request.merchant_id == merchant_id,
                Request.livemode == livemode,
                Request.request_id == request_id,
            )
        )
    ).scalar_one_or_none()


# -- server processes and abandoned calls (`metering.abandoned`) -----------------------------------


async def add_process(
    session: AsyncSession, process_id: str, *, host: str, pid: int, now: datetime
) -> None:
    await session.execute(
        insert(ServerProcess).values(id=process_id, host=host, pid=pid, started_at=now, seen_at=now)
    )


async def process_seen(session: AsyncSession, process_id: str, now: datetime) -> bool:
    """Record that the process is alive; False when its row is gone (taken for dead)."""
    result = cast(
        CursorResult[Any],
        await session.execute(
            update(ServerProcess).where(ServerProcess.id == process_id).values(seen_at=now)
        ),
    )
    return result.rowcount != 0


async def processes_seen_since(session: AsyncSession, since: datetime) -> int:
    """Server processes that said they were alive at `since` or later (`lava restore`)."""
    found = await session.scalar(
        select(func.count()).select_from(ServerProcess).where(ServerProcess.seen_at >= since)
    )
    return int(found or 0)


async def forget_process(session: AsyncSession, process_id: str) -> None:
    await session.execute(delete(ServerProcess).where(ServerProcess.id == process_id))


async def abandoned_calls(
    session: AsyncSession, stale: datetime, limit: int
) -> list[tuple[int, str | None]]:
    """(seq, wallet_id) of pending calls older than `stale` whose process is gone or silent
    since `stale`, oldest first."""
    rows = await session.execute(
        select(Request.seq, Request.wallet_id)
        .outerjoin(ServerProcess, ServerProcess.id == Request.process_id)
        .where(
            Request.status == "pending",
            Request.created_at < stale,
            or_(ServerProcess.id.is_(None), ServerProcess.seen_at < stale),
        )
        .order_by(Request.seq)
        .limit(limit)
    )
    return [(int(row.seq), row.wallet_id) for row in rows]


async def silent_processes(session: AsyncSession, stale: datetime, limit: int) -> list[str]:
    rows = await session.execute(
        select(ServerProcess.id).where(ServerProcess.seen_at < stale).limit(limit)
    )
    return list(rows.scalars())


async def forget_idle_processes(session: AsyncSession, ids: list[str], stale: datetime) -> None:
    """Delete these processes if still silent since `stale` and with no pending call left."""
    left = select(Request.seq).where(
        Request.status == "pending", Request.process_id == ServerProcess.id
    )
    await session.execute(
        delete(ServerProcess).where(
            ServerProcess.id.in_(ids), ServerProcess.seen_at < stale, ~left.exists()
        )
    )


async def pending_hold(
    session: AsyncSession, seq: int
) -> tuple[Decimal, dict[str, str], str | None, datetime] | None:
    """The hold, metadata, spend key and creation time of request `seq` if it is still pending."""
    found = (
        await session.execute(
            select(
                Request.hold_amount,
                Request.request_metadata,
                Request.spend_key_id,
                Request.created_at,
            ).where(Request.seq == seq, Request.status == "pending")
        )
    ).first()
    if found is None:
        return None
    hold, metadata, spend_key_id, created_at = found
    return hold, metadata, spend_key_id, created_at


async def close_abandoned(session: AsyncSession, seq: int, metadata: dict[str, str]) -> bool:
    """Mark a pending request `error` with this metadata; False if it was not pending."""
    result = cast(
        CursorResult[Any],
        await session.execute(
            update(Request)
            .where(Request.seq == seq, Request.status == "pending")
            .values(status="error", request_metadata=metadata)
        ),
    )
    return result.rowcount == 1


@dataclass(frozen=True)
class TopUpPlan:
    """What an auto top-up buys (`metering.top_up`): the wallet's running subscription, its
    auto top-up bundle and the plan's `bundle_rollover_type`."""

    subscription: ActiveSubscription
    bundle: CreditBundle
    rollover: str


async def top_up_plan(session: AsyncSession, wallet_id: str) -> TopUpPlan | None:
    """The wallet's running subscription with an auto top-up bundle still offered, if any."""
    row = (
        await session.execute(
            select(ActiveSubscription, CreditBundle, SubscriptionConfig.bundle_rollover_type)
            .join(CreditBundle, CreditBundle.id == ActiveSubscription.auto_top_up_bundle_id)
            .join(
                SubscriptionConfig,
                SubscriptionConfig.id == ActiveSubscription.subscription_config_id,
            )
            .where(
                ActiveSubscription.wallet_id == wallet_id,
                ActiveSubscription.status == "active",
                CreditBundle.not_deleted(),
            )
        )
    ).first()
    if row is None:
        return None
    return TopUpPlan(row[0], row[1], row[2])


async def bundle_of(session: AsyncSession, bundle_id: str) -> CreditBundle | None:
    """A bundle by id, deleted or not (a bundle paid for is granted even if withdrawn since)."""
    return await session.get(CreditBundle, bundle_id)


async def subscription_of(session: AsyncSession, subscription_id: str) -> ActiveSubscription | None:
    return await session.get(ActiveSubscription, subscription_id)


async def rollover_of(session: AsyncSession, plan_id: str) -> str:
    """A plan's `bundle_rollover_type`."""
    query = select(SubscriptionConfig.bundle_rollover_type).where(SubscriptionConfig.id == plan_id)
    return str((await session.execute(query)).scalar_one())
