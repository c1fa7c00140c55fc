"""The dashboard's own SQL: its users and their sessions. What a page shows is read through
the services of the packages that own it, never here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import DashboardSession, DashboardUser, Merchant


async def add_user(session: AsyncSession, user: DashboardUser) -> None:
    session.add(user)
    await session.flush()


async def user_by_email(session: AsyncSession, email: str) -> DashboardUser | None:
    return (
        await session.execute(select(DashboardUser).where(DashboardUser.email == email))
    ).scalar_one_or_none()


async def user_by_id(session: AsyncSession, user_id: str) -> DashboardUser | None:
    return await session.get(DashboardUser, user_id)


async def has_any_user(session: AsyncSession) -> bool:
    found = await session.execute(select(DashboardUser.id).limit(1))
    return found.first() is not None


async def set_sign_in_token(
    session: AsyncSession, user_id: str, token_hash: str, expires_at: datetime, now: datetime
) -> None:
    await session.execute(
        update(DashboardUser)
        .where(DashboardUser.id == user_id)
        .values(sign_in_token_hash=token_hash, sign_in_token_expires_at=expires_at, updated_at=now)
    )


async def take_sign_in_token(session: AsyncSession, token_hash: str, now: datetime) -> str | None:
    """Clear the link whose token hashes to `token_hash` if it has not expired, and return its
    user's id; None when there is no such link (used already, replaced, expired). One statement:
    two uses at once clear it once."""
    found = await session.execute(
        update(DashboardUser)
        .where(
            DashboardUser.sign_in_token_hash == token_hash,
            DashboardUser.sign_in_token_expires_at > now,
        )
        .values(sign_in_token_hash=None, sign_in_token_expires_at=None, updated_at=now)
        .returning(DashboardUser.id)
    )
    return found.scalar_one_or_none()


async def set_password_hash(
    session: AsyncSession, user_id: str, password_hash: str, now: datetime
) -> None:
    await session.execute(
        update(DashboardUser)
        .where(DashboardUser.id == user_id)
        .values(password_hash=password_hash, updated_at=now)
    )


async def add_session(session: AsyncSession, row: DashboardSession) -> None:
    session.add(row)
    await session.flush()


async def session_with_user(
    session: AsyncSession, session_id: str, now: datetime
) -> tuple[DashboardSession, DashboardUser, Merchant] | None:
    row = (
        await session.execute(
            select(DashboardSession, DashboardUser, Merchant)
            .join(DashboardUser, DashboardUser.id == DashboardSession.user_id)
            .join(Merchant, Merchant.id == DashboardUser.merchant_id)
            .where(DashboardSession.id == session_id, DashboardSession.expires_at > now)
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])


async def delete_session(session: AsyncSession, session_id: str) -> None:
    await session.execute(delete(DashboardSession).where(DashboardSession.id == session_id))


async def delete_sessions_of(
    session: AsyncSession, user_id: str, *, keep: str | None = None
) -> int:
    """Every session of the user (sign out everywhere) but `keep`; how many there were."""
    statement = delete(DashboardSession).where(DashboardSession.user_id == user_id)
    if keep is not None:
        statement = statement.where(DashboardSession.id != keep)
    result = await session.execute(statement)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def delete_expired_sessions(session: AsyncSession, now: datetime) -> None:
    await session.execute(delete(DashboardSession).where(DashboardSession.expires_at <= now))
