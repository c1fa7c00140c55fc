from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.engine import one_of
from lava_server.db.models import Connection, Merchant, Wallet, table_of
from lava_server.db.sums import SumOf, execute_sums


async def add(session: AsyncSession, connection: Connection) -> None:
    session.add(connection)
    await session.flush()


async def get_with_wallet(
    session: AsyncSession, merchant_id: str, livemode: bool, connection_id: str
) -> tuple[Connection, Wallet] | None:
    row = (
        await session.execute(
            select(Connection, Wallet)
            .join(Wallet, Wallet.id == Connection.wallet_id)
            .where(
                Connection.id == connection_id,
                Connection.merchant_id == merchant_id,
                Connection.livemode == livemode,
                Connection.not_deleted(),
            )
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def page_with_wallets(
    session: AsyncSession,
    merchant_id: str,
    livemode: bool,
    cursor: str | None,
    limit: int,
    reference_id: str | None,
    search: str | None = None,
) -> Sequence[tuple[Connection, Wallet]]:
    query = (
        select(Connection, Wallet)
        .join(Wallet, Wallet.id == Connection.wallet_id)
        .where(
            Connection.merchant_id == merchant_id,
            Connection.livemode == livemode,
            Connection.not_deleted(),
        )
    )
    if reference_id is not None:
        query = query.where(Connection.reference_id == reference_id)
    if search is not None:  # the dashboard's search: a reference id, an email or a phone
        query = query.where(
            or_(
                Connection.reference_id == search,
                func.lower(Connection.email) == search.lower(),
                Connection.phone == search,
            )
        )
    if cursor is not None:
        query = query.where(Connection.id < cursor)
    rows = (await session.execute(query.order_by(Connection.id.desc()).limit(limit + 1))).all()
    return [(row[0], row[1]) for row in rows]


async def wallet_by_phone(session: AsyncSession, phone: str, *, livemode: bool) -> Wallet | None:
    return (
        await session.execute(
            select(Wallet).where(Wallet.phone == phone, Wallet.livemode == livemode)
        )
    ).scalar_one_or_none()


@dataclass(frozen=True)
class ConnectionRef:
    """What metering needs of a connection, read without the ORM."""

    id: str
    merchant_id: str
    livemode: bool
    wallet_id: str
    secret: str


async def _refs(session: AsyncSession, *where: Any) -> Sequence[Any]:
    """Live connections as rows of their id, owner, wallet, secret and reference, oldest first."""
    table = table_of(Connection)
    return (
        await session.execute(
            select(
                table.c.secret,
                table.c.id,
                table.c.merchant_id,
                table.c.livemode,
                table.c.wallet_id,
                table.c.reference_id,
            )
            .where(*where, Connection.not_deleted())
            .order_by(table.c.id)
        )
    ).all()


def _ref(row: Any) -> ConnectionRef:
    return ConnectionRef(row.id, row.merchant_id, row.livemode, row.wallet_id, row.secret)


async def by_secrets(session: AsyncSession, secrets: Sequence[str]) -> dict[str, ConnectionRef]:
    """Active connections by secret (any merchant: the caller checks ownership)."""
    if not secrets:
        return {}
    dialect = session.get_bind().dialect.name
    rows = await _refs(session, one_of(table_of(Connection).c.secret, secrets, dialect))
    return {row.secret: _ref(row) for row in rows}


async def by_ids(session: AsyncSession, ids: Sequence[str]) -> dict[str, ConnectionRef]:
    """Active connections by id (any merchant: the caller checks ownership)."""
    if not ids:
        return {}
    dialect = session.get_bind().dialect.name
    rows = await _refs(session, one_of(table_of(Connection).c.id, ids, dialect))
    return {row.id: _ref(row) for row in rows}


async def by_references(
    session: AsyncSession, merchant_ids: Sequence[str], references: Sequence[str]
) -> dict[tuple[str, bool, str], ConnectionRef]:
    """Active connections by (merchant, mode, reference): the oldest of each, as
    `by_reference` finds them."""
    if not references:
        return {}
    table = table_of(Connection)
    rows = await _refs(
        session, table.c.reference_id.in_(references), table.c.merchant_id.in_(merchant_ids)
    )
    found: dict[tuple[str, bool, str], ConnectionRef] = {}
    for row in rows:
        found.setdefault((row.merchant_id, row.livemode, row.reference_id), _ref(row))
    return found


async def by_reference(
    session: AsyncSession, merchant_id: str, livemode: bool, reference_id: str
) -> tuple[Connection, Wallet] | None:
    """The oldest live connection with this reference (the seed era allowed several)."""
    row = (
        await session.execute(
            select(Connection, Wallet)
            .join(Wallet, Wallet.id == Connection.wallet_id)
            .where(
                Connection.reference_id == reference_id,
                Connection.merchant_id == merchant_id,
                Connection.livemode == livemode,
                Connection.not_deleted(),
            )
            .order_by(Connection.id)
            .limit(1)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def lock_merchant(session: AsyncSession, merchant_id: str) -> None:
    """Serialises a merchant's customer creations, so that a reference is taken once."""
    await session.execute(select(Merchant.id).where(Merchant.id == merchant_id).with_for_update())


async def is_live_customer(
    session: AsyncSession, merchant_id: str, livemode: bool, customer_id: str
) -> bool:
    """Whether the merchant has a live customer with this `con_` id or `reference_id`
    (`connections.service.is_reference`)."""
    column = Connection.reference_id if not customer_id.startswith("con_") else Connection.id
    found = (
        await session.execute(
            select(Connection.id)
            .where(
                column == customer_id,
                Connection.merchant_id == merchant_id,
                Connection.livemode == livemode,
                Connection.deleted_at.is_(None),
            )
            .limit(1)
        )
    ).first()
    return found is not None


async def wallet_totals(session: AsyncSession, merchant_id: str, livemode: bool) -> Any:
    """The wallets of the merchant's customers of one mode: `count, balance, held,
    period_credit` summed (a wallet that two connections share counts once)."""
    wallet_ids = select(Connection.wallet_id).where(
        Connection.merchant_id == merchant_id,
        Connection.livemode == livemode,
        Connection.not_deleted(),
    )

    def query(sum_of: SumOf) -> Any:
        return select(
            func.count(),
            sum_of(Wallet.balance),
            sum_of(Wallet.held),
            sum_of(Wallet.period_credit),
        ).where(Wallet.id.in_(wallet_ids))

    return (await execute_sums(session, query))[0]
