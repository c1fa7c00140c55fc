"""The API layer's own statements: secret keys looked up by hash, and stored idempotent answers.

Here rather than in `merchants/` (which creates the keys) because the API layer sits below every
feature package, `merchants` included: it may use only base modules (`docs/architecture.md`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import ApiKey, IdempotencyKey, ServerProcess


async def active_keys(
    session: AsyncSession, digests: Sequence[str]
) -> Sequence[Row[str, str, bool, str]]:
    """(id, merchant_id, livemode, key_hash) of the unrevoked keys among these hashes."""
    rows = await session.execute(
        select(ApiKey.id, ApiKey.merchant_id, ApiKey.livemode, ApiKey.key_hash).where(
            ApiKey.key_hash.in_(sorted(set(digests))), ApiKey.revoked_at.is_(None)
        )
    )
    return rows.all()


async def idempotency_key(session: AsyncSession, scope: str, key: str) -> IdempotencyKey | None:
    return (
        await session.execute(
            select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        )
    ).scalar_one_or_none()


async def remove_idempotency_key(session: AsyncSession, row: IdempotencyKey) -> None:
    """Deleted now (flushed), so that a new row with the same key may follow in the transaction."""
    await session.delete(row)
    await session.flush()


def add_idempotency_key(session: AsyncSession, row: IdempotencyKey) -> None:
    session.add(row)


async def take_over_claim(
    session: AsyncSession,
    row: IdempotencyKey,
    *,
    process_id: str | None,
    claimed_before: datetime,
    seen_before: datetime,
    now: datetime,
) -> bool:
    """Claim again a key whose first request is unanswered, older than `claimed_before`, and
    whose process has not been seen alive since `seen_before` (or is gone): it died before
    answering. One UPDATE, so of several retries at once exactly one takes it."""
    alive = select(ServerProcess.id).where(
        ServerProcess.id == IdempotencyKey.process_id, ServerProcess.seen_at >= seen_before
    )
    result = await session.execute(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.scope == row.scope,
            IdempotencyKey.key == row.key,
            IdempotencyKey.status_code.is_(None),
            IdempotencyKey.process_id == row.process_id,
            IdempotencyKey.created_at < claimed_before,
            ~alive.exists(),
        )
        .values(process_id=process_id, created_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def forget_answer(session: AsyncSession, scope: str, key: str) -> None:
    await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    )


async def store_answer(
    session: AsyncSession, scope: str, key: str, status: int, body: bytes
) -> None:
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        .values(status_code=status, response_body=body)
    )


async def purge_idempotency_keys(session: AsyncSession, created_before: datetime) -> int:
    """Delete the keys created before this time; returns how many."""
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < created_before)
    )
    return int(getattr(result, "rowcount", 0) or 0)
