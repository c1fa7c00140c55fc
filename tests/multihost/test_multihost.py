"""Issue 17, point 6: three `lava serve` processes in separate network namespaces (each its own
address, as separate hosts), behind a round-robin load balancer, on one PostgreSQL. Mixed
traffic (reports with `Idempotency-Key` retries, forward calls through the fake provider, hosted
checkouts, webhooks to a receiver) while one host is SIGKILLed and restarted. Every report and
forward call answered 2xx is stored exactly once, reports retried with the same key are charged
once, every completed checkout credits its amount once and its event arrives, the wallet's
balance is what was funded less what its requests were charged, and `lava ledger check` is
clean.

Each host reaches PostgreSQL, the fake provider and the receiver on its own 127.0.0.1 through
a sidecar forwarder (as a host would reach a local pgbouncer or an egress proxy): so sandbox
webhooks may stay on loopback URLs. In the root namespace a forwarder on the bridge address
leads to PostgreSQL on 127.0.0.1:5432. Skipped where network namespaces cannot be made, except
under CI=true, where that is a failure."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from lava_server.testing import ServerThread, serve_in_thread
from lavapayments.forward_token import encode_forward_token
from tests.conftest import IN_CI, _asyncpg_dsn
from tests.e2e.servers import LAVA, clean_env, free_port, lava_cli
from tests.multihost.netns import Network, why_not
from tests.multihost.tcp import Balancer, Loop, forward
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
HOSTS = 3
PORT = 8000  # every host serves on its own address, same port
TRAFFIC_SECONDS = 12.0
KILL_AT, RESTART_AT = 3.0, 7.0
OPENAI = "https://api.openai.com/v1"
FUNDED = Decimal(1000)
CHECKOUT_AMOUNT = Decimal(5)
CARD = {"card_number": "4242 4242 4242 4242", "card_expiry": "12 / 34", "card_cvc": "123"}
DETAILS = {
    "phone": "+1 415 555 0100",
    "email": "ada@example.com",
    "first_name": "Ada",
    "last_name": "Lovelace",
}
RETRYABLE = (httpx.TransportError,)


@pytest.fixture(scope="module")
def network() -> Iterator[Network]:
    problem = why_not()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"network namespaces cannot be made ({problem}); under CI that fails")
        pytest.skip(f"network namespaces cannot be made here: {problem}")
    net = Network(HOSTS)
    try:
        net.create()
        yield net
    finally:
        net.destroy()


class Hosts:
    """The sidecars and `lava serve` processes of the namespaces; `close` ends them all."""

    def __init__(self, net: Network, env: dict[str, str], sidecar: list[str], logs: Path) -> None:
        self.net, self.env, self.logs = net, env, logs
        self.sidecars: list[subprocess.Popen[str]] = []
        self.servers: list[subprocess.Popen[bytes] | None] = [None] * net.hosts
        for index in range(net.hosts):
            command = net.run(index, [sys.executable, "-m", "tests.multihost.tcp", *sidecar])
            process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
            self.sidecars.append(process)
            assert process.stdout is not None and process.stdout.readline().strip() == "ready"

    def base(self, index: int) -> str:
        return f"http://{self.net.address(index)}:{PORT}"

    def start(self, index: int) -> None:
        command = ["serve", "--host", self.net.address(index), "--port", str(PORT)]
        with (self.logs / f"host{index}.log").open("ab") as out:
            self.servers[index] = subprocess.Popen(
                self.net.run(index, [LAVA, *command]),
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base(index)}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"host {index} did not start:\n{self.log(index)}")

    def kill(self, index: int) -> None:
        server = self.servers[index]
        assert server is not None
        server.send_signal(signal.SIGKILL)  # `ip netns exec` execs: this is `lava serve` itself
        server.wait(10)

    def log(self, index: int) -> str:
        return (self.logs / f"host{index}.log").read_text(errors="replace")

    def close(self) -> None:
        for server in self.servers:
            if server is not None and server.poll() is None:
                server.terminate()
        for server in self.servers:
            if server is not None:
                try:
                    server.wait(20)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait(5)
        for sidecar in self.sidecars:
            sidecar.kill()
            sidecar.wait(5)


class Tally:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.reports: dict[str, int] = {}  # request_id -> final status
        self.forwards: dict[str, int] = {}  # metadata tag -> status (0: no answer)
        self.checkouts: list[tuple[str, str]] = []  # (session id, final step)


async def post_until_answered(
    http: httpx.AsyncClient, tally: Tally, url: str, deadline: float, **kwargs: Any
) -> httpx.Response | None:
    """POST, retried exactly as sent (same body, same Idempotency-Key) on a dropped connection,
    a 5xx from a dying host, or a 409 saying the key's first request is still running (a key
    claimed by a killed host is taken over once that host has not been seen alive for
    `LAVA_ABANDONED_AFTER_SECONDS`, 3 s here: at most 15 s of such 409s, see `reporter`)."""
    first = True
    still_running_since: float | None = None
    while time.monotonic() < deadline:
        if not first:
            tally.counts["retries"] += 1
            await asyncio.sleep(0.2)
        first = False
        try:
            response = await http.post(url, **kwargs)
        except RETRYABLE:
            tally.counts["dropped"] += 1
            continue
        if response.status_code >= 500:
            tally.counts["5xx"] += 1
            continue
        if response.status_code == 409 and "still being processed" in response.text:
            tally.counts["409 still running"] += 1
            now = time.monotonic()
            still_running_since = still_running_since or now
            if now - still_running_since > 15:
                return response
            continue
        return response
    return None


async def reporter(
    http: httpx.AsyncClient, tally: Tally, ids: dict[str, Any], stop: float, worker: int
) -> None:
    n = 0
    while time.monotonic() < stop:
        n += 1
        request_id = f"rep-{worker}-{n}"
        body = {
            "request_id": request_id,
            "customer_id": ids["connection_id"],
            "meter_slug": ids["product_id"],
            "input_tokens": 1000 + n,
            "output_tokens": 200,
        }
        tally.counts["reports sent"] += 1
        headers = {**ids["headers"], "Idempotency-Key": f"idem-{request_id}"}
        response = await post_until_answered(
            http, tally, "/v1/requests", stop + 20, json=body, headers=headers
        )
        if response is not None and response.status_code == 409:
            # A key claimed by the killed host should have been taken over by now
            # (`api/idempotency.py`); the test asserts none is left stuck. Resent under a new
            # key anyway, so that the other checks still hold if one is.
            tally.counts["stuck keys (resent under a new key)"] += 1
            headers = {**ids["headers"], "Idempotency-Key": f"idem2-{request_id}"}
            response = await post_until_answered(
                http, tally, "/v1/requests", stop + 20, json=body, headers=headers
            )
        tally.reports[request_id] = 0 if response is None else response.status_code


async def forwarder(
    http: httpx.AsyncClient, tally: Tally, ids: dict[str, Any], stop: float, worker: int
) -> None:
    n = 0
    while time.monotonic() < stop:
        n += 1
        tag = f"fwd-{worker}-{n}"
        tally.counts["forward calls sent"] += 1
        body = {
            "model": "gpt-4o-mini",
            "max_tokens": 50,
            "stream": n % 2 == 0,
            "messages": [{"role": "user", "content": f"{tag} fake-tokens-40"}],
        }
        headers = {
            "Authorization": f"Bearer {ids['token']}",
            "x-lava-metadata": json.dumps({"tag": tag}),
        }
        try:
            response = await http.post(
                f"/v1/forward?u={OPENAI}/chat/completions", json=body, headers=headers
            )
            tally.forwards[tag] = response.status_code
        except RETRYABLE:  # not idempotent: never retried; it may or may not be stored
            tally.forwards[tag] = 0


async def checkout(http: httpx.AsyncClient, tally: Tally, ids: dict[str, Any], stop: float) -> None:
    while time.monotonic() < stop:
        created = await post_until_answered(
            http,
            tally,
            "/v1/checkout_sessions",
            stop + 20,
            json={"checkout_mode": "onboarding", "origin_url": "https://shop.example"},
            headers={**ids["headers"], "Idempotency-Key": f"cs-{uuid.uuid4().hex}"},
        )
        assert created is not None and created.status_code == 201, created
        session = created.json()
        secret = json.loads(base64.b64decode(session["checkout_session_token"]))["secret"]
        path = f"/embed/checkout/{secret}"
        tally.counts["checkouts started"] += 1

        async def act(action: str, **fields: str) -> None:
            # A repeated action for a step the session has left changes nothing.
            done = await post_until_answered(
                http, tally, path, stop + 20, data={"action": action, **fields}
            )
            assert done is not None and done.status_code in (200, 303), (
                action,
                done and done.status_code,
                done and done.text[:500],
            )

        async def page() -> str:
            for _ in range(50):
                try:
                    response = await http.get(path)
                    if response.status_code == 200:
                        return response.text
                except RETRYABLE:
                    tally.counts["dropped"] += 1
                await asyncio.sleep(0.2)
            raise AssertionError("the checkout page never answered")

        # A new customer each time (a phone number is a wallet).
        phone = f"+1 415 555 {1000 + tally.counts['checkouts started']:04d}"
        await act("details", **{**DETAILS, "phone": phone})
        shown = await page()
        code = re.search(r'id="sandbox-code">([0-9]{6})<', shown)
        assert code, f"no sandbox code on the page: {shown[-3000:]}"
        await act("verify", code=code.group(1))
        await act("amount", amount=str(CHECKOUT_AMOUNT))
        await act("pay", **CARD)
        title = re.search(r'<h1 id="title">([^<]*)</h1>', await page())
        step = title.group(1).strip() if title else "?"
        tally.checkouts.append((session["checkout_session_id"], step))


async def drive(hosts: Hosts, lb_url: str, ids: dict[str, Any]) -> tuple[Tally, dict[str, float]]:
    tally = Tally()
    start = time.monotonic()
    stop = start + TRAFFIC_SECONDS
    limits = httpx.Limits(max_keepalive_connections=0)  # a new connection, a new backend
    async with httpx.AsyncClient(base_url=lb_url, timeout=30, limits=limits) as http:

        async def chaos() -> dict[str, float]:
            await asyncio.sleep(KILL_AT)
            killed = time.monotonic() - start
            await asyncio.to_thread(hosts.kill, 1)
            await asyncio.sleep(RESTART_AT - KILL_AT)
            await asyncio.to_thread(hosts.start, 1)
            return {"killed_at": killed, "back_at": time.monotonic() - start}

        jobs = [reporter(http, tally, ids, stop, w) for w in range(6)]
        jobs += [forwarder(http, tally, ids, stop, w) for w in range(6)]
        jobs += [checkout(http, tally, ids, stop) for _ in range(2)]
        timing, *_ = await asyncio.gather(chaos(), *jobs)
    return tally, timing


async def rows(database_url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


def until(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_three_hosts_one_killed_lose_nothing_and_charge_nothing_twice(
    database_url: str, network: Network, tmp_path: Path
) -> None:
    began = time.monotonic()
    net = network
    pg = make_url(database_url)
    pg_port, fake_port, hook_port, lb_port = (free_port() for _ in range(4))
    loop = Loop()
    hooks = Receiver()
    fake: subprocess.Popen[str] | None = None
    hosts: Hosts | None = None
    try:
        # Root namespace: PostgreSQL, the fake provider and the receiver, on the bridge.
        loop.run(forward(f"{net.gateway}:{pg_port}", f"{pg.host}:{pg.port or 5432}"))
        fake = subprocess.Popen(
            [LAVA, "fake-provider", "--host", net.gateway, "--port", str(fake_port)],
            env=clean_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        with serve_in_thread(hooks.app(), host=net.gateway, port=hook_port) as hook_server:
            assert isinstance(hook_server, ServerThread)
            until(lambda: _up(f"http://{net.gateway}:{fake_port}/_fake/health"), 20, "fake")
            # Each host: the same three services on its own loopback, through its sidecar.
            sidecar = [
                f"127.0.0.1:5432={net.gateway}:{pg_port}",
                f"127.0.0.1:{fake_port}={net.gateway}:{fake_port}",
                f"127.0.0.1:{hook_port}={net.gateway}:{hook_port}",
            ]
            env = {
                **clean_env(),
                "LAVA_DATABASE_URL": pg.set(host="127.0.0.1", port=5432).render_as_string(
                    hide_password=False
                ),
                "LAVA_UPSTREAM_OPENAI": f"http://127.0.0.1:{fake_port}",
                "LAVA_PROVIDER_KEY_OPENAI": "sk-managed",
                "LAVA_WEBHOOKS_ALLOW_HTTP": "true",
                "LAVA_WEBHOOK_POLL_SECONDS": "0.2",
                "LAVA_WEBHOOK_TIMEOUT_SECONDS": "3",
                "LAVA_WEBHOOK_RETRY_DELAYS": "0.5,1",
                "LAVA_WEBHOOK_BALANCE_COALESCE_S": "1",
                "LAVA_PROCESS_HEARTBEAT_SECONDS": "1",
                "LAVA_ABANDONED_AFTER_SECONDS": "3",
                "LAVA_WORKER_INTERVAL_SECONDS": "1",
                "LAVA_RATE_LIMIT_PER_MINUTE": "1000000",
                # Every checkout comes from the balancer's one address.
                "LAVA_CODE_SENDS_PER_CLIENT_PER_HOUR": "100000",
                "LAVA_CODE_SENDS_PER_HOUR": "1000",
                "LAVA_LOG_LEVEL": "warning",
            }
            hosts = Hosts(net, env, sidecar, tmp_path)
            for index in range(HOSTS):
                hosts.start(index)
            balancer = Balancer([f"{net.address(i)}:{PORT}" for i in range(HOSTS)])
            loop.run(balancer.listen(f"127.0.0.1:{lb_port}"))
            lb_url = f"http://127.0.0.1:{lb_port}"

            ids = setup(database_url, lb_url, hooks, hook_port)
            tally, timing = asyncio.run(drive(hosts, lb_url, ids))
            settle(database_url, ids, hooks, tally)
            figures = check(database_url, ids, hooks, tally, fake_port, net)
        report = lava_cli("ledger", "check", "--json", "--database-url", database_url)
        assert report.returncode == 0, report.stdout + report.stderr
        assert json.loads(report.stdout)["problems"] == []
        figures.update(timing)
        figures["connections per host"] = balancer.served
        figures["connections skipped per host"] = balancer.skipped
        figures["seconds"] = round(time.monotonic() - began, 1)
        print("multi-host:", json.dumps(figures, default=str))
        assert balancer.skipped[1] > 0  # the balancer did meet the dead host
        assert figures["stuck keys"] == 0  # the killed host's claims were taken over
    finally:
        if hosts is not None:
            hosts.close()
        if fake is not None:
            fake.terminate()
            fake.wait(10)
        loop.close()


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def setup(database_url: str, lb_url: str, hooks: Receiver, hook_port: int) -> dict[str, Any]:
    created = lava_cli("merchants", "create", "Multi", "--json", "--database-url", database_url)
    assert created.returncode == 0, created.stderr
    merchant = json.loads(created.stdout)
    headers = {"Authorization": f"Bearer {merchant['secret_key']}"}
    with httpx.Client(base_url=lb_url, headers=headers, timeout=30) as api:
        hook = api.post(
            "/v1/webhooks", json={"name": "all", "url": f"http://127.0.0.1:{hook_port}/hook/all"}
        )
        assert hook.status_code == 201, hook.text
        hooks.secrets["all"] = hook.json()["webhook_secret"]
        product = api.post(
            "/v1/products",
            json={"name": "Chat", "tiers": [{"start": 0, "rate": "2", "type": "tokens_1m"}]},
        )
        assert product.status_code == 201, product.text
        connection = api.post("/v1/test_helpers/connections", json={"balance": str(FUNDED)})
        assert connection.status_code in (200, 201), connection.text
    token = encode_forward_token(
        secret_key=merchant["secret_key"],
        connection_secret=connection.json()["connection_secret"],
        product_secret=product.json()["product_secret"],
    )
    return {
        "headers": headers,
        "webhook_id": hook.json()["webhook_id"],
        "product_id": product.json()["product_id"],
        "connection_id": connection.json()["connection_id"],
        "token": token,
    }


def settle(database_url: str, ids: dict[str, Any], hooks: Receiver, tally: Tally) -> None:
    """Wait for what the killed host left: its calls released once it is seen dead, its
    deliveries claimed again once their claims run out."""

    def nothing_pending() -> bool:
        pending = asyncio.run(
            rows(database_url, "SELECT count(*) AS n FROM requests WHERE status = 'pending'")
        )
        return int(pending[0]["n"]) == 0

    until(nothing_pending, 30, "abandoned calls to be released")

    def delivered() -> bool:
        found = asyncio.run(
            rows(
                database_url,
                "SELECT count(*) AS n FROM webhook_deliveries WHERE status <> 'delivered'",
            )
        )
        return int(found[0]["n"]) == 0

    until(delivered, 30, "every webhook delivery")


def _metadata(row: asyncpg.Record) -> dict[str, str]:
    metadata = row["metadata"]
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    return dict(metadata or {})


def check(
    database_url: str,
    ids: dict[str, Any],
    hooks: Receiver,
    tally: Tally,
    fake_port: int,
    net: Network,
) -> dict[str, Any]:
    stored = asyncio.run(
        rows(
            database_url,
            "SELECT request_id, status, total_wallet_cost, metadata FROM requests"
            " WHERE connection_id = $1",
            ids["connection_id"],
        )
    )
    by_request_id = Counter(row["request_id"] for row in stored)
    assert max(by_request_id.values()) == 1, "a request stored twice"

    # Reports: every one answered 2xx is stored once; none was left unanswered.
    answered = {rid for rid, status in tally.reports.items() if 200 <= status < 300}
    assert all(by_request_id[rid] == 1 for rid in answered)
    unanswered = {rid: s for rid, s in tally.reports.items() if rid not in answered}
    assert not unanswered, f"reports never answered 2xx: {unanswered}"

    # Forward calls: every one answered 200 is stored once, completed.
    def tag_of(row: asyncpg.Record) -> str | None:
        return _metadata(row).get("tag")

    forwards = {tag_of(row): row for row in stored if tag_of(row)}
    ok_calls = [tag for tag, status in tally.forwards.items() if status == 200]
    # A call whose answer had gone out when its host died, before its bill was written, is
    # released as abandoned (docs/forward-proxy.md): the customer is not billed for it.
    abandoned = [row for row in forwards.values() if row["status"] != "completed"]
    assert all(_metadata(row).get("lava_abandoned") == "true" for row in abandoned), abandoned
    assert all(row["total_wallet_cost"] == 0 for row in abandoned)
    assert all(tag in forwards for tag in ok_calls), "a call answered 200 was not stored"
    answered_released = sum(1 for tag in ok_calls if forwards[tag]["status"] != "completed")
    sent_upstream = len(
        httpx.get(f"http://{net.gateway}:{fake_port}/_fake/requests").json()["data"]
    )
    assert len(forwards) <= sent_upstream + len(abandoned)

    # The customer's wallet: funded, less exactly what its stored requests were charged.
    charged = sum((row["total_wallet_cost"] for row in stored), Decimal(0))
    wallet = asyncio.run(
        rows(
            database_url,
            "SELECT w.balance, w.held FROM wallets w JOIN connections c ON c.wallet_id = w.id"
            " WHERE c.id = $1",
            ids["connection_id"],
        )
    )[0]
    assert wallet["held"] == 0
    assert wallet["balance"] == FUNDED - charged, (wallet["balance"], FUNDED, charged)

    # Checkouts: each completed one credited its amount once, and its event arrived.
    completed = [sid for sid, step in tally.checkouts if step == "Payment complete"]
    assert completed, tally.checkouts
    credited = asyncio.run(
        rows(
            database_url,
            "SELECT cs.id, w.balance FROM checkout_sessions cs JOIN wallets w"
            " ON w.id = cs.wallet_id WHERE cs.id = ANY($1::text[])",
            completed,
        )
    )
    assert len(credited) == len(completed)
    assert all(row["balance"] == CHECKOUT_AMOUNT for row in credited), credited
    events = hooks.events("all")
    assert all(item.event is not None for item in hooks.received), "a signature did not verify"
    done = {e["data"]["checkout_session_id"] for e in events if e["event"] == "checkout.completed"}
    assert set(completed) <= done

    statuses = Counter(tally.reports.values())
    return {
        "reports sent": tally.counts["reports sent"],
        "reports 2xx": len(answered),
        "report statuses": dict(statuses),
        "reports stored": sum(1 for rid in tally.reports if by_request_id[rid] == 1),
        "retries": tally.counts["retries"],
        "dropped connections": tally.counts["dropped"],
        "5xx answers": tally.counts["5xx"],
        "409 still running": tally.counts["409 still running"],
        "stuck keys": tally.counts["stuck keys (resent under a new key)"],
        "forward calls sent": tally.counts["forward calls sent"],
        "forward 200": len(ok_calls),
        "forward no answer": sum(1 for s in tally.forwards.values() if s == 0),
        "forward stored": len(forwards),
        "forward abandoned (released)": len(abandoned),
        "forward answered 200 but released": answered_released,
        "checkouts": f"{len(completed)} of {len(tally.checkouts)} completed",
        "webhook events received": len(events),
        "webhook requests received": len(hooks.received),
        "charged": str(charged),
    }
