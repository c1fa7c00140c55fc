"""Statements that read tables growing with the business find their rows through indexes:
SQLite's query plans (PostgreSQL's depend on its statistics)."""

from __future__ import annotations

from pathlib import Path

from lava_server.db.engine import Database
from lava_server.payments import repository as payments
from lava_server.wallets import repository as wallets
from tests.db.plans import sqlite_plans


async def _plans_of(sqlite_template: Path, tmp_path: Path, work: object) -> dict[str, str]:
    async def run(db: Database) -> None:
        async with db.read() as session:
            await work(session)  # type: ignore[operator]

    return await sqlite_plans(sqlite_template, tmp_path, run)


async def test_the_worker_reads_only_the_wallets_with_autopay(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """Every round of the worker (5 s) looks for wallets below their autopay threshold: through
    the partial index of the wallets with autopay on (migration 0022), not every wallet."""
    plans = await _plans_of(
        sqlite_template, tmp_path, lambda session: wallets.wallets_needing_topup(session, 100)
    )
    [plan] = plans.values()
    assert "USING INDEX ix_wallets_autopay" in plan, plan


async def test_a_merchants_payments_are_paged_through_their_index(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """`GET /v1/payments` and the dashboard's pages: a merchant's payments of one mode, newest
    first, found through `ix_payments_merchant` (migration 0022), not by walking every payment."""
    plans = await _plans_of(
        sqlite_template,
        tmp_path,
        lambda session: payments.payments_page(session, "mer_x", True, None, 20, None),
    )
    [plan] = plans.values()
    assert "payments USING INDEX ix_payments_merchant" in plan, plan
