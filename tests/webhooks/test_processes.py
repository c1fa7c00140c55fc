"""Deliveries across real processes: a `lava serve` killed (SIGKILL) mid-delivery loses
nothing; two `lava worker` processes on PostgreSQL never send one event at the same time; a
slow receiver delays neither the API nor another endpoint's deliveries."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lava_server.app import create_app
from lava_server.settings import Settings
from lava_server.testing import ServerThread, serve_in_thread
from tests.e2e.servers import LAVA, clean_env, free_port, lava_cli
from tests.proxy.processes import wait_for
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.slow

ENV = {
    "LAVA_WEBHOOKS_ALLOW_HTTP": "true",
    "LAVA_WEBHOOK_POLL_SECONDS": "0.1",
    "LAVA_WEBHOOK_TIMEOUT_SECONDS": "3",
    "LAVA_WEBHOOK_RETRY_DELAYS": "0.5,1",
    "LAVA_LOG_LEVEL": "warning",
}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, webhooks_allow_http=True)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, ServerThread]]:
    receiver = Receiver()
    with serve_in_thread(receiver.app(), shutdown_timeout=1) as server:
        yield receiver, server


def merchant_on(database_url: str) -> dict[str, str]:
    done = lava_cli("merchants", "create", "Hooks", "--json", "--database-url", database_url)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def spawn(args: list[str], database_url: str, log: Path, **extra: str) -> subprocess.Popen[bytes]:
    """`lava *args` with its output in a file (never a pipe that could fill up)."""
    env = {**clean_env(), **ENV, "LAVA_DATABASE_URL": database_url, **extra}
    with log.open("ab") as out:
        return subprocess.Popen([LAVA, *args], env=env, stdout=out, stderr=subprocess.STDOUT)


def until(condition, seconds: float = 40.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def subscribe(base: str, key: str, hooks: Receiver, server: ServerThread) -> str:
    headers = {"Authorization": f"Bearer {key}"}
    created = httpx.post(
        f"{base}/v1/webhooks",
        json={"name": "all", "url": f"{server.url}/hook/all"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    hooks.secrets["all"] = created.json()["webhook_secret"]
    return str(created.json()["webhook_id"])


def test_a_server_killed_mid_delivery_loses_nothing(database_url, tmp_path, receiver):
    hooks, hook_server = receiver
    hooks.delay = 1.0  # every delivery is in flight for a second
    merchant = merchant_on(database_url)
    port = free_port()
    first = spawn(["serve", "--port", str(port)], database_url, tmp_path / "a.log")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz")
        webhook_id = subscribe(base, merchant["secret_key"], hooks, hook_server)
        headers = {"Authorization": f"Bearer {merchant['secret_key']}"}
        pings = [
            httpx.post(f"{base}/v1/webhooks/{webhook_id}/test", headers=headers).json()
            for _ in range(3)
        ]
        until(lambda: hooks.in_flight >= 1)
        first.send_signal(signal.SIGKILL)  # mid-delivery: its answers go nowhere
        first.wait(10)
    finally:
        first.kill()
    port = free_port()
    second = spawn(["serve", "--port", str(port)], database_url, tmp_path / "b.log")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz")

        def all_delivered() -> bool:
            rows = httpx.get(f"{base}/v1/webhooks/{webhook_id}/deliveries", headers=headers).json()[
                "data"
            ]
            return len(rows) == 3 and all(row["status"] == "delivered" for row in rows)

        until(all_delivered)  # once the killed process's claims have run out
    finally:
        second.terminate()
        second.wait(20)
    assert {e["id"] for e in hooks.events("all")} == {p["event_id"] for p in pings}
    assert len(hooks.received) > 3  # some were sent twice (at least once, never zero times)


async def test_two_workers_never_send_one_event_at_once(database_url, tmp_path, receiver, client):
    if not database_url.startswith("postgresql"):
        pytest.skip("several workers share the work on PostgreSQL")
    hooks, hook_server = receiver
    hooks.delay = 0.01
    merchant = await asyncio.to_thread(merchant_on, database_url)
    headers = {"Authorization": f"Bearer {merchant['secret_key']}"}
    created = await client.post(
        "/v1/webhooks",
        json={"name": "all", "url": f"{hook_server.url}/hook/all"},
        headers=headers,
    )
    hooks.secrets["all"] = created.json()["webhook_secret"]
    webhook_id = created.json()["webhook_id"]
    ids = set()
    for _ in range(300):
        ping = await client.post(f"/v1/webhooks/{webhook_id}/test", headers=headers)
        ids.add(ping.json()["event_id"])
    workers = [spawn(["worker"], database_url, tmp_path / f"worker{n}.log") for n in range(2)]
    try:
        await asyncio.to_thread(until, lambda: len(hooks.events("all")) == 300, 60)
        await asyncio.sleep(1)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            assert await asyncio.to_thread(worker.wait, 20) == 0
    assert {e["id"] for e in hooks.events("all")} == ids
    assert hooks.overlaps == 0
    assert len(hooks.received) == 300  # each sent once: no claim ran out, none was taken twice
    logs = "".join((tmp_path / f"worker{n}.log").read_text() for n in range(2))
    assert "Traceback" not in logs, logs


async def test_a_slow_receiver_delays_neither_the_api_nor_other_endpoints(
    database_url, merchant, tmp_path
):
    slow, fast = Receiver(delay=30.0), Receiver()
    settings = Settings(
        database_url=database_url,
        webhooks_allow_http=True,
        webhook_poll_seconds=0.1,
        webhook_timeout_seconds=10,
    )
    with (
        serve_in_thread(slow.app(), shutdown_timeout=1) as slow_server,
        serve_in_thread(fast.app()) as fast_server,
        serve_in_thread(create_app(settings), shutdown_timeout=5) as lava,
    ):
        async with httpx.AsyncClient(base_url=lava.url, headers=merchant.headers) as http:
            hooks = {}
            for name, server in (("slow", slow_server), ("fast", fast_server)):
                created = await http.post(
                    "/v1/webhooks", json={"name": name, "url": f"{server.url}/hook/{name}"}
                )
                hooks[name] = created.json()["webhook_id"]
            for _ in range(20):
                await http.post(f"/v1/webhooks/{hooks['slow']}/test")
            await asyncio.to_thread(until, lambda: slow.in_flight >= 4, 10)
            started = time.monotonic()
            for _ in range(5):
                await http.post(f"/v1/webhooks/{hooks['fast']}/test")
            await asyncio.to_thread(until, lambda: len(fast.received) == 5, 10)
            fast_seconds = time.monotonic() - started
            latencies = []
            for _ in range(50):
                begun = time.monotonic()
                response = await http.get("/v1/webhooks")
                latencies.append(time.monotonic() - begun)
                assert response.status_code == 200
            assert slow.in_flight == 4  # its endpoint's cap: the others wait in the database
    assert fast_seconds < 3, fast_seconds
    assert max(latencies) < 0.5, max(latencies)
    assert slow.most_in_flight == 4
