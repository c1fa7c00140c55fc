from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from lava_server.db.engine import Database
from lava_server.wallets.service import check
from tests.checkout.conftest import clock

__all__ = ["clock"]


@pytest.fixture(autouse=True)
async def ledger_clean(db: Database) -> AsyncIterator[None]:
    """`lava ledger check` is clean after every test of money operations."""
    yield
    report = await check(db)
    assert report.problems == [], [p.describe() for p in report.problems]
