"""`GET /metrics` (issue 17, point 2): a real `lava serve` process, real traffic through both
doors and a webhook delivery, then Prometheus' own parser over what it answers."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lava_server.settings import Settings
from lava_server.testing import ServerThread, serve_in_thread
from lavapayments.forward_token import encode_forward_token
from tests.e2e.servers import LAVA, clean_env, free_port, lava_cli
from tests.proxy.processes import wait_for
from tests.webhooks.receiver import Receiver

TOKEN = "metrics-token-for-tests-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(base: str) -> Samples:
    answer = httpx.get(f"{base}/metrics", headers=AUTH, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, series: str, **labels: str) -> float:
    """The sample `name` with these labels (among others); 0 when absent."""
    wanted = set(labels.items())
    return sum(v for (n, found), v in samples.items() if n == series and wanted <= found)


def present(samples: Samples, name: str) -> bool:
    return any(n == name for n, _ in samples)


def spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:  # a file, never a pipe that could fill up
        return subprocess.Popen([LAVA, *args], env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(20)
    finally:
        process.kill()


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, ServerThread]]:
    receiver = Receiver()
    with serve_in_thread(receiver.app(), shutdown_timeout=1) as server:
        yield receiver, server


@pytest.fixture
def fake_provider(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = spawn(["fake-provider", "--port", str(port)], tmp_path / "fake.log", clean_env())
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/_fake/health")
        yield url
    finally:
        stop(process)


def server_env(database_url: str, fake_url: str, **extra: str) -> dict[str, str]:
    return {
        **clean_env(),
        "LAVA_DATABASE_URL": database_url,
        "LAVA_METRICS_TOKEN": TOKEN,
        "LAVA_UPSTREAM_OPENAI": fake_url,
        "LAVA_PROVIDER_KEY_OPENAI": "sk-managed",
        "LAVA_WEBHOOKS_ALLOW_HTTP": "true",
        "LAVA_WEBHOOK_POLL_SECONDS": "0.1",
        "LAVA_LOG_LEVEL": "warning",
        **extra,
    }


@pytest.mark.slow
def test_metrics_move_with_traffic(
    database_url: str,
    tmp_path: Path,
    fake_provider: str,
    receiver: tuple[Receiver, ServerThread],
) -> None:
    hooks, hook_server = receiver
    port = free_port()
    env = server_env(database_url, fake_provider, LAVA_AUTH_FAILURES_PER_MINUTE="2")
    server = spawn(["serve", "--port", str(port)], tmp_path / "serve.log", env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/healthz")
        created = lava_cli("merchants", "create", "Ops", "--json", "--database-url", database_url)
        merchant = json.loads(created.stdout)
        api = httpx.Client(
            base_url=f"{base}/v1/",
            headers={"Authorization": f"Bearer {merchant['secret_key']}"},
            timeout=30,
        )
        product = api.post(
            "products",
            json={"name": "Chat", "tiers": [{"start": 0, "rate": "2", "type": "tokens_1m"}]},
        ).json()
        connection = api.post("test_helpers/connections", json={"balance": "100"}).json()
        hook = api.post(
            "webhooks", json={"name": "all", "url": f"{hook_server.url}/hook/all"}
        ).json()
        hooks.secrets["all"] = hook["webhook_secret"]
        before = scrape(base)

        report = api.post(
            "requests",
            json={
                "request_id": "metrics-1",
                "connection_secret": connection["connection_secret"],
                "product_secret": product["product_secret"],
                "input_tokens": 1000,
            },
        )
        assert report.status_code == 201, report.text
        token = encode_forward_token(
            secret_key=merchant["secret_key"],
            connection_secret=connection["connection_secret"],
            product_secret=product["product_secret"],
        )
        forwarded = httpx.post(
            f"{base}/v1/forward/chat/completions?u=https://api.openai.com/v1",
            headers={"Authorization": f"Bearer {token}"},
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            timeout=30,
        )
        assert forwarded.status_code == 200, forwarded.text
        assert api.get(f"connections/{connection['connection_id']}").status_code == 200
        assert api.post(f"webhooks/{hook['webhook_id']}/test").status_code in (200, 201)
        deadline = time.monotonic() + 30
        while not hooks.events("all"):
            assert time.monotonic() < deadline, "the webhook was not delivered"
            time.sleep(0.05)
        # The attempt is counted once it is recorded, just after the receiver answered.
        deadline = time.monotonic() + 10
        while value(scrape(base), "lava_webhook_attempts_total", outcome="delivered") < 1:
            assert time.monotonic() < deadline, "the delivery was not counted"
            time.sleep(0.1)
        after = scrape(base)

        def moved(series: str, **labels: str) -> float:
            return value(after, series, **labels) - value(before, series, **labels)

        # HTTP: by route template (never the path itself) and status, with latencies.
        posted = {"route": "/v1/requests", "method": "POST"}
        assert moved("lava_http_requests_total", **posted, status="201") == 1
        assert moved("lava_http_request_duration_seconds_count", **posted) == 1
        assert moved("lava_http_request_duration_seconds_bucket", **posted, le="+Inf") == 1
        read = {"route": "/v1/connections/{connection_id}", "method": "GET", "status": "200"}
        assert moved("lava_http_requests_total", **read) == 1
        assert moved("lava_http_requests_total", route="/v1/forward", status="200") == 1
        assert not any(
            connection["connection_id"] in dict(labels).get("route", "") for _, labels in after
        )
        # The forward call: by provider, with the upstream's latency and time to first byte.
        assert moved("lava_forward_calls_total", provider="openai", outcome="completed") == 1
        assert moved("lava_forward_upstream_duration_seconds_count", provider="openai") == 1
        assert moved("lava_forward_upstream_ttfb_seconds_count", provider="openai") == 1
        assert present(after, "lava_holds_in_flight")
        assert value(after, "lava_holds_in_flight") == 0  # settled
        # The group commit of reports (holds mostly take the quick path, alone).
        assert moved("lava_group_commit_batch_size_count", name="reports") == 1
        assert moved("lava_group_commit_wait_seconds_count", name="reports") == 1
        assert moved("lava_group_commit_batch_size_count", name="settlements") >= 1
        # Webhooks and their backlog, the ledger per mode, the database pool.
        assert moved("lava_webhook_attempts_total", outcome="delivered") >= 1
        assert present(after, "lava_webhook_pending_deliveries")
        assert present(after, "lava_webhook_outbox_rows")
        assert present(after, "lava_webhook_oldest_due_seconds")
        assert value(after, "lava_wallets", mode="sandbox") == 1
        assert moved("lava_wallet_balance_usd", mode="sandbox") < 0  # two calls were charged
        assert moved("lava_ledger_last_entry_id") > 0
        assert present(after, "lava_db_connections_in_use")
        assert present(after, "lava_db_pool_capacity")

        # Rate-limit refusals: past 2 failed authentications a minute, this address gets 429.
        assert present(after, "lava_rate_limit_refusals_total")
        # The limiter counts in fixed one-minute windows: start the burst early in one, so that
        # its four requests fall in the same window (a window that ended mid-burst gave a 401).
        if time.time() % 60 > 50:
            time.sleep(60.5 - time.time() % 60)
        for _ in range(3):
            httpx.get(f"{base}/v1/connections", headers={"Authorization": "Bearer aks_test_x"})
        refused = httpx.get(f"{base}/v1/connections", headers={"Authorization": "Bearer aks_no"})
        assert refused.status_code == 429
        last = scrape(base)
        assert value(last, "lava_rate_limit_refusals_total", limit="auth_failures") >= 1
        api.close()
    finally:
        stop(server)


@pytest.mark.slow
def test_metrics_add_up_over_worker_processes(
    database_url: str, tmp_path: Path, fake_provider: str
) -> None:
    """`--workers 2`: each process keeps its series in a shared directory; a scrape, answered by
    either process, adds up both (PostgreSQL: SQLite serves from one process)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("several server processes serve PostgreSQL only")
    port = free_port()
    env = server_env(database_url, fake_provider, LAVA_DB_POOL_SIZE="3", TMPDIR=str(tmp_path))
    server = spawn(["serve", "--port", str(port), "--workers", "2"], tmp_path / "serve.log", env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        # Both processes have started once the pools of both are counted (2 x 3 x 2).
        while True:
            try:
                if value(scrape(base), "lava_db_pool_capacity") == 12:
                    break
            except (httpx.TransportError, AssertionError):
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        assert [p.name for p in tmp_path.glob("lava-metrics-*")], "no shared directory"
        for _ in range(20):  # a new connection each: the kernel spreads them over both
            assert httpx.get(f"{base}/healthz").status_code == 200
        counted = [
            value(scrape(base), "lava_http_requests_total", route="/healthz", status="200")
            for _ in range(4)
        ]
        assert counted == [20, 20, 20, 20]  # whichever process answered
    finally:
        stop(server)
    assert not list(tmp_path.glob("lava-metrics-*")), "the shared directory was left behind"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, metrics_token=TOKEN)


async def test_metrics_need_the_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/metrics", headers=AUTH)).status_code == 200
    assert (await client.get("/metrics")).status_code == 401
    wrong = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["param"] == "Authorization"


async def test_metrics_are_off_without_a_token(database_url: str) -> None:
    from lava_server.app import create_app

    app = create_app(Settings(database_url=database_url))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lava.test") as http:
        assert (await http.get("/metrics", headers=AUTH)).status_code == 404
        assert (await http.get("/metrics")).status_code == 404


def test_a_short_token_is_refused() -> None:
    with pytest.raises(ValueError, match="metrics_token"):
        Settings(metrics_token="short")
