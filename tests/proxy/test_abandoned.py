"""Forward calls abandoned by a server process that died (`proxy.abandoned`): the worker releases
their holds, charging nothing, and leaves the calls of live processes alone."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from lava_server.db.engine import Database
from lava_server.db.models import Request, ServerProcess
from lava_server.metering.abandoned import ABANDONED_KEY, release_abandoned
from lava_server.timeutil import utcnow
from lava_server.wallets.service import check as ledger_check
from tests.e2e.servers import lava_cli, stop_server
from tests.proxy.conftest import Billed
from tests.proxy.processes import fund, start_stack

OPENAI_BASE = "https://api.openai.com/v1"


def slow_chat(ms: int) -> dict[str, Any]:
    prompt = f"Hello there fake-slow-{ms}ms fake-tokens-20"
    return {
        "model": "gpt-4o-mini",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": prompt}],
    }


async def wait_until(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_live_process_keeps_its_calls_and_a_silent_one_loses_them(billed: Billed, fake, db):
    """The in-thread server's heartbeat row decides: while it is fresh the sweeper leaves the
    call in flight alone; once stale the hold is released, and the call's own settlement, when it
    ends, finds it closed and charges nothing."""
    async with httpx.AsyncClient(timeout=30) as http:
        call = asyncio.create_task(
            http.post(
                billed.forward_url(OPENAI_BASE + "/chat/completions"),
                json=slow_chat(1500),
                headers={"Authorization": f"Bearer {billed.token}"},
            )
        )

        async def pending() -> bool:
            return [r["status"] for r in await billed.requests(settled=False)] == ["pending"]

        await wait_until(pending)
        assert await billed.balance() < Decimal(10)  # held
        later = utcnow() + timedelta(seconds=120)
        async with db.write() as session:  # the process was seen just now
            await session.execute(update(ServerProcess).values(seen_at=later))
        assert await release_abandoned(db, 60, later) == 0
        assert await pending()
        async with db.write() as session:  # it has not been seen for two minutes
            await session.execute(update(ServerProcess).values(seen_at=utcnow()))
        assert await release_abandoned(db, 60, later) == 1
        assert await release_abandoned(db, 60, later) == 0  # once only
        [stored] = await billed.requests()
        assert stored["status"] == "error"
        assert stored["metadata"][ABANDONED_KEY] == "true"
        assert await billed.balance() == Decimal(10)
        response = await call
    # The call itself was answered: its settlement found it closed and charged nothing.
    assert response.status_code == 200
    await asyncio.sleep(0.2)
    [stored] = await billed.requests()
    assert stored["status"] == "error" and Decimal(stored["total_wallet_cost"]) == 0
    assert await billed.balance() == Decimal(10)
    assert (await ledger_check(db)).problems == []
    async with db.read() as session:
        held = (await session.execute(select(Request.hold_amount))).scalar_one()
    assert held > 0  # what was held stays on record


async def process_rows(database_url: str) -> int:
    db = Database(database_url)
    try:
        async with db.read() as session:
            return len((await session.execute(select(ServerProcess.id))).all())
    finally:
        await db.dispose()


@pytest.mark.slow
def test_the_holds_of_a_killed_server_are_released(database_url: str, tmp_path: Path) -> None:
    """Two `lava serve` processes; one is SIGKILLed with a call in flight. The other's worker
    releases that call's hold (nothing charged), while its own call in flight is billed as usual
    and the process row of the dead one is forgotten."""
    settings = {
        "LAVA_PROCESS_HEARTBEAT_SECONDS": "0.3",
        "LAVA_ABANDONED_AFTER_SECONDS": "1.5",
        "LAVA_WORKER_INTERVAL_SECONDS": "0.3",
    }
    stack = start_stack(database_url, 2, settings)
    doomed, survivor = stack.servers
    bases = stack.bases
    try:
        funded = fund(database_url, bases[1], rate="1000", balance="5")
        api, connection, token = funded.api, funded.connection, funded.token

        def balance() -> Decimal:
            answer = api.get(f"connections/{connection['connection_id']}").json()
            return Decimal(answer["wallet"]["balance"])

        def requests() -> dict[str, dict[str, Any]]:
            found = api.get("requests", params={"limit": "10"}).json()["data"]
            return {r["request_id"]: r for r in found}

        async def calls() -> list[httpx.Response | BaseException]:
            async with httpx.AsyncClient(timeout=60) as http:

                async def one(base: str, ms: int) -> httpx.Response:
                    return await http.post(
                        f"{base}/v1/forward/chat/completions?u={OPENAI_BASE}",
                        json=slow_chat(ms),
                        headers={"Authorization": f"Bearer {token}"},
                    )

                doomed_call = asyncio.create_task(one(bases[0], 30_000))
                survivor_call = asyncio.create_task(one(bases[1], 4_000))
                deadline = time.monotonic() + 10
                while len(requests()) < 2:
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.05)
                assert {r["status"] for r in requests().values()} == {"pending"}
                assert balance() < Decimal(5)
                doomed.kill()
                doomed.wait(timeout=10)
                return list(
                    await asyncio.gather(doomed_call, survivor_call, return_exceptions=True)
                )

        lost, answered = asyncio.run(calls())
        assert isinstance(lost, httpx.TransportError)  # the client saw the connection drop
        assert isinstance(answered, httpx.Response) and answered.status_code == 200
        survivor_id = answered.headers["x-lava-request-id"]
        deadline = time.monotonic() + 15
        while "pending" in {r["status"] for r in requests().values()}:
            assert time.monotonic() < deadline, requests()
            time.sleep(0.1)
        stored = requests()
        billed = stored.pop(survivor_id)
        [abandoned] = stored.values()
        assert billed["status"] == "completed" and Decimal(billed["total_wallet_cost"]) > 0
        assert ABANDONED_KEY not in billed["metadata"]
        assert abandoned["status"] == "error" and Decimal(abandoned["total_wallet_cost"]) == 0
        assert abandoned["metadata"][ABANDONED_KEY] == "true"
        assert balance() == Decimal(5) - Decimal(billed["total_wallet_cost"])  # no hold left
        report = lava_cli("ledger", "check", "--json", "--database-url", database_url)
        assert report.returncode == 0, report.stdout + report.stderr
        assert asyncio.run(process_rows(database_url)) == 1  # the survivor's own
        api.close()
    finally:
        doomed.kill()
        doomed.communicate(timeout=10)
        stop_server(survivor)
        stack.fake.kill()  # it still holds the dead server's call
        stack.fake.communicate(timeout=10)
