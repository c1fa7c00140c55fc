"""The SQL of the forward proxy's hot path: few statements, Core only, compiled once.

Call these inside a `Database.write()` session. Lock order is the one of every money-moving
transaction of the server: the wallet row first, then tier positions, then roll-ups.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.engine import upsert_insert
from lava_server.db.models import ApiKey, Connection, Product, Request, TierUsage, Wallet


@dataclass(frozen=True, slots=True)
class Payer:
    """Who a forward call bills, as found under the wallet's lock."""

    merchant_id: str  # of the secret key
    livemode: bool  # of the secret key
    connection_id: str
    connection_merchant_id: str
    connection_livemode: bool
    wallet_id: str
    balance: Decimal
    held: Decimal
    cycle_started_at: datetime | None
    cycle_ends_at: datetime | None
    product: Product | None  # None: no product_secret in the token


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
_PAYER_COLUMNS = (
    ApiKey.merchant_id,
    ApiKey.livemode,
    Connection.id.label("connection_id"),
    Connection.merchant_id.label("connection_merchant_id"),
    Connection.livemode.label("connection_livemode"),
    Connection.wallet_id,
    Wallet.balance,
    Wallet.held,
    Wallet.cycle_started_at,
    Wallet.cycle_ends_at,
)


def _payer_query(with_product: bool) -> Any:
    columns: tuple[Any, ...] = _PAYER_COLUMNS
    query = select(*columns).select_from(ApiKey)
    query = query.join(Connection, Connection.secret == _bind("connection_secret"))
    query = query.join(Wallet, Wallet.id == Connection.wallet_id)
    if with_product:
        query = query.add_columns(
            *(column.label(f"product_{column.key}") for column in _PRODUCT_COLUMNS)
        )
        query = query.join(Product, Product.secret == _bind("product_secret"))
        query = query.where(Product.deleted_at.is_(None))
    query = query.where(
        ApiKey.key_hash == _bind("key_hash"),
        ApiKey.revoked_at.is_(None),
        Connection.deleted_at.is_(None),
    )
    return query.with_for_update(of=Wallet)


def _bind(name: str) -> Any:
    types = {
        "connection_secret": Connection.secret.type,
        "product_secret": Product.secret.type,
        "key_hash": ApiKey.key_hash.type,
    }
    return bindparam(name, type_=types[name])


_PAYER_WITH_PRODUCT = _payer_query(with_product=True)
_PAYER_WITHOUT_PRODUCT = _payer_query(with_product=False)


async def lock_payer(
    session: AsyncSession,
    *,
    key_hash: str,
    connection_secret: str,
    product_secret: str | None,
) -> Payer | None:
    """Check the key, connection and product in one statement and lock the wallet; None when
    any of them is unknown, revoked or deleted (see `diagnose` for which)."""
    params: dict[str, Any] = {"key_hash": key_hash, "connection_secret": connection_secret}
    if product_secret is None:
        row = (await session.execute(_PAYER_WITHOUT_PRODUCT, params)).first()
    else:
        params["product_secret"] = product_secret
        row = (await session.execute(_PAYER_WITH_PRODUCT, params)).first()
    if row is None:
        return None
    product = None
    if product_secret is not None:
        product = Product(**{c.key: row._mapping[f"product_{c.key}"] for c in _PRODUCT_COLUMNS})
    return Payer(
        merchant_id=row.merchant_id,
        livemode=row.livemode,
        connection_id=row.connection_id,
        connection_merchant_id=row.connection_merchant_id,
        connection_livemode=row.connection_livemode,
        wallet_id=row.wallet_id,
        balance=row.balance,
        held=row.held,
        cycle_started_at=row.cycle_started_at,
        cycle_ends_at=row.cycle_ends_at,
        product=product,
    )


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


async def find_key(session: AsyncSession, key_hash: str) -> tuple[str, bool] | None:
    """(merchant_id, livemode) of an active secret key."""
    row = (
        await session.execute(
            select(ApiKey.merchant_id, ApiKey.livemode).where(
                ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)
            )
        )
    ).first()
    return None if row is None else (row.merchant_id, row.livemode)


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


async def change_held(session: AsyncSession, wallet_id: str, delta: Decimal) -> None:
    """`wallets.held += delta` (a hold taken: positive; released: negative)."""
    await session.execute(
        update(Wallet).where(Wallet.id == wallet_id).values(held=Wallet.held + delta)
    )


async def insert_request(session: AsyncSession, values: dict[str, Any]) -> int:
    result = await session.execute(insert(Request).returning(Request.seq), values)
    return int(result.scalar_one())


async def finish_request(session: AsyncSession, seq: int, values: dict[str, Any]) -> bool:
    """Give a pending request its final values; False when it is not pending any more (settled
    or released already: the caller must roll back)."""
    result = await session.execute(
        update(Request).where(Request.seq == seq, Request.status == "pending").values(**values)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def add_tier_units(
    session: AsyncSession, connection_id: str, product_id: str, period_start: datetime, units: int
) -> int:
    """Add `units` to the tier position; return the position before them."""
    statement = upsert_insert(session)(TierUsage).values(
        connection_id=connection_id, product_id=product_id, period_start=period_start, units=units
    )
    statement = statement.on_conflict_do_update(
        index_elements=["connection_id", "product_id", "period_start"],
        set_={"units": TierUsage.units + statement.excluded.units},
    ).returning(TierUsage.units)
    total = int((await session.execute(statement)).scalar_one())
    return total - units
