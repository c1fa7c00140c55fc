"""The worker as a command (`lava worker`) and inside `lava serve`."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from lava_server.app import create_app
from lava_server.cli import app as cli
from lava_server.db.models import Payment
from lava_server.settings import Settings
from lava_server.testing.server import ServerThread
from tests.e2e.servers import LAVA, clean_env
from tests.subscriptions.helpers import subscribe, wallet_row


async def renewals(db) -> list[Payment]:
    async with db.read() as session:
        return list(
            (await session.execute(select(Payment).where(Payment.purpose == "renewal"))).scalars()
        )


async def due_subscription(client, merchant, clock) -> dict:
    """A subscription started 40 days ago: its first renewal is due now."""
    clock.now = datetime.now(timezone.utc) - timedelta(days=40)
    subscription = await subscribe(client, merchant.headers, amount="20", rollover="full")
    clock.now = datetime.now(timezone.utc)  # the worker under test runs in this process
    return subscription


async def test_lava_worker_once(client, merchant, db, clock, database_url):
    sub = await due_subscription(client, merchant, clock)
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["worker", "--once", "--database-url", database_url]
    )
    assert result.exit_code == 0, result.output
    assert "1 renewal(s) queued" in result.stdout and "1 payment(s) processed" in result.stdout
    assert [p.status for p in await renewals(db)] == ["succeeded"]
    assert (await wallet_row(db, sub["wallet_id"])).balance == Decimal(40)
    again = await asyncio.to_thread(
        CliRunner().invoke, cli, ["worker", "--once", "--database-url", database_url]
    )
    assert "0 renewal(s) queued" in again.stdout
    assert len(await renewals(db)) == 1


@pytest.mark.parametrize("separate", [False, True])
async def test_lava_serve_runs_the_worker_unless_told_not_to(
    client, merchant, db, clock, database_url, separate
):
    sub = await due_subscription(client, merchant, clock)
    settings = Settings(
        database_url=database_url, worker_interval_seconds=0.1, separate_worker=separate
    )
    # Started and stopped from a thread, so that this test's event loop keeps running meanwhile
    # (nothing of it can hold the database while the server starts); 30 s for a loaded machine.
    server = ServerThread(create_app(settings), startup_timeout=30.0)
    await asyncio.to_thread(server.start)
    try:
        deadline = time.monotonic() + (1.5 if separate else 15)
        while time.monotonic() < deadline and not await renewals(db):
            await asyncio.sleep(0.1)
    finally:
        await asyncio.to_thread(server.stop)
    if separate:
        assert await renewals(db) == []
    else:
        assert [p.status for p in await renewals(db)] == ["succeeded"]
        assert (await wallet_row(db, sub["wallet_id"])).balance == Decimal(40)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_lava_worker_stops_cleanly_on_sigterm(database_url):
    process = subprocess.Popen(
        [LAVA, "worker", "--database-url", database_url],
        env={**clean_env(), "LAVA_WORKER_INTERVAL_SECONDS": "0.2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        seen.append(line)
        if "worker running" in line:
            break
    else:
        process.kill()
        pytest.fail("worker did not start: " + "".join(seen))
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert "worker stopped" in output
