"""Benchmark: what the forward proxy adds to a provider call.

The fake provider (`lava fake-provider --latency-ms 20`) runs as its own process; `lava serve`
forwards to it (`LAVA_UPSTREAM_OPENAI`). The same chat-completion calls are sent straight to the
fake provider (the baseline) and through `/v1/forward`, in the same run, with a lean keep-alive
client (`_common.HttpConnection`):

- concurrency 1, not streaming: latency p50/p99, and what the proxy adds;
- concurrency 1, streaming: time to the first byte of the body, and what the proxy adds;
- concurrency 64, not streaming: sustained requests/s.

Every call through the proxy is metered for real (a hold, then a settlement debiting a wallet,
on SQLite or PostgreSQL); `lava ledger check` must be clean at the end.

    .venv/bin/python bench/proxy.py                          # both databases
    .venv/bin/python bench/proxy.py --databases sqlite --calls 300 --sustained 2000
    .venv/bin/python bench/proxy.py --baseline-ref 9cdcd6d   # and the server of that commit

`--baseline-ref REF` builds commit REF in a temporary `git worktree` and runs its server too, in
the same run and on the same machine (each database: the baseline, then this checkout), then
prints both sets of figures side by side with their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from _common import (
    CURRENT,
    LAVA,
    Build,
    HttpConnection,
    baseline,
    clean_env,
    cpu_seconds,
    database,
    dumps,
    free_port,
    lava,
    percentile,
    server,
)

from lavapayments.forward_token import encode_forward_token

LATENCY_MS = 20
FORWARD_PATH = "/v1/forward/chat/completions?u=https://api.openai.com/v1"
DIRECT_PATH = "/v1/chat/completions"


@contextmanager
def fake_provider(port: int) -> Iterator[None]:
    process = subprocess.Popen(
        [LAVA, "fake-provider", "--port", str(port), "--latency-ms", str(LATENCY_MS)],
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _ = asyncio.run(_request(port, "GET", "/_fake/health", {}, b""))
                if status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _request(
    port: int, method: str, path: str, headers: dict[str, str], body: bytes
) -> tuple[int, bytes]:
    connection = HttpConnection("127.0.0.1", port)
    try:
        return await connection.request(method, path, headers, body)
    finally:
        await connection.close()


async def first_byte(
    connection: HttpConnection, path: str, headers: dict[str, str], body: bytes
) -> tuple[float, float]:
    """Send a streaming call on a keep-alive connection; (seconds to the first byte of the body,
    seconds to the end). The answer must be chunked (SSE)."""
    if connection.writer is None:
        connection.reader, connection.writer = await asyncio.open_connection(
            connection.host, connection.port
        )
    assert connection.reader is not None
    head = f"POST {path} HTTP/1.1\r\nHost: {connection.host}:{connection.port}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head += f"Content-Length: {len(body)}\r\n\r\n"
    started = time.perf_counter()
    connection.writer.write(head.encode() + body)
    status = int((await connection.reader.readline()).split()[1])
    assert status == 200, status
    while (await connection.reader.readline()) not in (b"\r\n", b""):
        pass
    ttfb = 0.0
    while True:
        size = int((await connection.reader.readline()).strip(), 16)
        if not ttfb:
            ttfb = time.perf_counter() - started
        if size == 0:
            await connection.reader.readline()
            return ttfb, time.perf_counter() - started
        await connection.reader.readexactly(size)
        await connection.reader.readline()


def chat_body(stream: bool) -> bytes:
    return dumps(
        {
            "model": "gpt-4o-mini",
            "max_tokens": 64,
            "stream": stream,
            "messages": [{"role": "user", "content": "Say hello to the benchmark, briefly."}],
        }
    )


async def sequential(port: int, path: str, headers: dict[str, str], calls: int) -> list[float]:
    connection = HttpConnection("127.0.0.1", port)
    body = chat_body(False)
    latencies = []
    try:
        for _ in range(calls):
            started = time.perf_counter()
            status, _ = await connection.request("POST", path, headers, body)
            latencies.append(time.perf_counter() - started)
            assert status == 200, status
    finally:
        await connection.close()
    return latencies


async def streaming(
    port: int, path: str, headers: dict[str, str], calls: int
) -> list[tuple[float, float]]:
    connection = HttpConnection("127.0.0.1", port)
    body = chat_body(True)
    try:
        return [await first_byte(connection, path, headers, body) for _ in range(calls)]
    finally:
        await connection.close()


async def sustained(
    port: int, path: str, headers: dict[str, str], calls: int, concurrency: int
) -> tuple[float, dict[int, int]]:
    body = chat_body(False)
    remaining = [calls]
    statuses: dict[int, int] = {}

    async def worker() -> None:
        connection = HttpConnection("127.0.0.1", port)
        try:
            while remaining[0] > 0:
                remaining[0] -= 1
                status, _ = await connection.request("POST", path, headers, body)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return calls / (time.perf_counter() - started), statuses


def setup(database_url: str, base: str, build: Build = CURRENT) -> str:
    """A merchant, a product and a well-funded connection; the forward token billing them."""
    merchant = json.loads(
        lava("merchants", "create", "Bench", "--json", "--database-url", database_url, build=build)
    )
    headers = {
        "Authorization": f"Bearer {merchant['secret_key']}",
        "Content-Type": "application/json",
    }
    port = int(base.split(":")[2].split("/")[0])

    async def make() -> tuple[dict[str, Any], dict[str, Any]]:
        product_body = {"name": "Chat", "tiers": [{"start": 0, "rate": "2", "type": "tokens_1m"}]}
        _, product = await _request(port, "POST", "/v1/products", headers, dumps(product_body))
        _, connection = await _request(
            port, "POST", "/v1/test_helpers/connections", headers, dumps({"balance": "100000"})
        )
        return json.loads(product), json.loads(connection)

    product, connection = asyncio.run(make())
    return encode_forward_token(
        secret_key=merchant["secret_key"],
        connection_secret=connection["connection_secret"],
        product_secret=product["product_secret"],
    )


def ms(value: float) -> str:
    return f"{value * 1000:7.2f} ms"


def run(kind: str, args: argparse.Namespace, build: Build = CURRENT) -> dict[str, float]:
    fake_port, lava_port = free_port(), free_port()
    env = {
        "LAVA_UPSTREAM_OPENAI": f"http://127.0.0.1:{fake_port}",
        "LAVA_PROVIDER_KEY_OPENAI": "sk-bench",
    }
    with (
        database(kind) as url,
        fake_provider(fake_port),
        server(url, lava_port, args.workers, env, build) as base,
    ):
        token = setup(url, base, build)
        direct_headers = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}
        proxy_headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        async def measure() -> dict[str, Any]:
            # Warm up both paths (connections, caches, the tokenizer, the price table).
            await sequential(lava_port, FORWARD_PATH, proxy_headers, 50)
            await sequential(fake_port, DIRECT_PATH, direct_headers, 20)
            results: dict[str, Any] = {}
            # Interleave direct and proxied rounds, so that drift hits both alike.
            direct: list[float] = []
            proxied: list[float] = []
            direct_stream: list[tuple[float, float]] = []
            proxied_stream: list[tuple[float, float]] = []
            rounds = 5
            for _ in range(rounds):
                direct += await sequential(
                    fake_port, DIRECT_PATH, direct_headers, args.calls // rounds
                )
                proxied += await sequential(
                    lava_port, FORWARD_PATH, proxy_headers, args.calls // rounds
                )
                direct_stream += await streaming(
                    fake_port, DIRECT_PATH, direct_headers, args.calls // rounds
                )
                proxied_stream += await streaming(
                    lava_port, FORWARD_PATH, proxy_headers, args.calls // rounds
                )
            results["direct"], results["proxied"] = direct, proxied
            results["direct_ttfb"] = [t for t, _ in direct_stream]
            results["proxied_ttfb"] = [t for t, _ in proxied_stream]
            results["direct_rate"], _ = await sustained(
                fake_port, DIRECT_PATH, direct_headers, args.sustained, args.concurrency
            )
            cpu = cpu_seconds(base.pid)
            results["proxied_rate"], results["statuses"] = await sustained(
                lava_port, FORWARD_PATH, proxy_headers, args.sustained, args.concurrency
            )
            results["server_cpu"] = (cpu_seconds(base.pid) - cpu) / args.sustained
            return results

        results = asyncio.run(measure())
        report = json.loads(lava("ledger", "check", "--json", "--database-url", url, build=build))
    assert report["problems"] == [], report
    figures = {
        "direct_p50": percentile(results["direct"], 0.5),
        "direct_p99": percentile(results["direct"], 0.99),
        "proxied_p50": percentile(results["proxied"], 0.5),
        "proxied_p99": percentile(results["proxied"], 0.99),
        "direct_ttfb_p50": percentile(results["direct_ttfb"], 0.5),
        "proxied_ttfb_p50": percentile(results["proxied_ttfb"], 0.5),
        "direct_ttfb_p99": percentile(results["direct_ttfb"], 0.99),
        "proxied_ttfb_p99": percentile(results["proxied_ttfb"], 0.99),
        "direct_rate": results["direct_rate"],
        "proxied_rate": results["proxied_rate"],
        "server_cpu": results["server_cpu"],
    }
    print(
        f"\n== {kind}, {build.name}: fake provider at {LATENCY_MS} ms, "
        f"lava serve --workers {args.workers}"
    )
    print(f"   concurrency 1, not streaming ({len(results['direct'])} calls each)")
    print(f"     direct   p50 {ms(figures['direct_p50'])}  p99 {ms(figures['direct_p99'])}")
    print(f"     proxied  p50 {ms(figures['proxied_p50'])}  p99 {ms(figures['proxied_p99'])}")
    print(
        f"     added    p50 {ms(figures['proxied_p50'] - figures['direct_p50'])}  "
        f"p99 {ms(figures['proxied_p99'] - figures['direct_p99'])}   (target <= 2 ms / 6 ms)"
    )
    print("   concurrency 1, streaming: time to first byte")
    print(
        f"     direct   p50 {ms(figures['direct_ttfb_p50'])}  p99 {ms(figures['direct_ttfb_p99'])}"
    )
    print(
        f"     proxied  p50 {ms(figures['proxied_ttfb_p50'])}  p99 {ms(figures['proxied_ttfb_p99'])}"
    )
    print(
        f"     added    p50 {ms(figures['proxied_ttfb_p50'] - figures['direct_ttfb_p50'])}  "
        f"p99 {ms(figures['proxied_ttfb_p99'] - figures['direct_ttfb_p99'])}"
    )
    print(f"   concurrency {args.concurrency}, not streaming ({args.sustained} calls each)")
    print(
        f"     direct {figures['direct_rate']:7.0f} req/s   proxied {figures['proxied_rate']:7.0f} "
        f"req/s   ratio {figures['proxied_rate'] / figures['direct_rate']:.2f}   (target >= 500)"
        f"   statuses {results['statuses']}"
    )
    print(
        f"     server CPU per call {ms(figures['server_cpu'])} (lava serve and its workers, "
        "settlements included)"
    )
    print(f"   ledger check: {report['entries']} entries, clean")
    return figures


def compare(kind: str, before: dict[str, float], after: dict[str, float], name: str) -> None:
    """Both builds' figures side by side (the proxy's own share: proxied minus direct)."""
    rows = [
        ("added p50, c=1", "p50", True),
        ("added p99, c=1", "p99", True),
        ("added first byte p50", "ttfb_p50", True),
    ]
    print(f"\n== {kind}: {name} -> this checkout (same run)")
    print(f"   {'':24} {'baseline':>12} {'now':>12} {'now/baseline':>13}")
    for label, key, added in rows:
        old = before[f"proxied_{key}"] - (before[f"direct_{key}"] if added else 0)
        new = after[f"proxied_{key}"] - (after[f"direct_{key}"] if added else 0)
        print(f"   {label:24} {ms(old):>12} {ms(new):>12} {new / old if old else 0:12.2f}x")
    old_rate, new_rate = before["proxied_rate"], after["proxied_rate"]
    print(
        f"   {'req/s, c=' + str(CONCURRENCY[0]):24} {old_rate:12.0f} {new_rate:12.0f} "
        f"{new_rate / old_rate:12.2f}x"
    )
    old_cpu, new_cpu = before["server_cpu"], after["server_cpu"]
    print(
        f"   {'server CPU/call, c=' + str(CONCURRENCY[0]):24} {ms(old_cpu):>12} "
        f"{ms(new_cpu):>12} {new_cpu / old_cpu:12.2f}x"
    )


CONCURRENCY = [64]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--calls", type=int, default=500, help="calls per latency series")
    parser.add_argument("--sustained", type=int, default=5000, help="calls at concurrency 64")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1, help="lava serve processes")
    parser.add_argument(
        "--baseline-ref",
        help="also run the server of this commit (built in a temporary git worktree) in the "
        "same run, and print both with their ratio",
    )
    args = parser.parse_args()
    CONCURRENCY[0] = args.concurrency
    if not args.baseline_ref:
        for kind in args.databases.split(","):
            run(kind, args)
        return
    with baseline(args.baseline_ref) as old:
        results = [
            (kind, run(kind, args, old), run(kind, args, CURRENT))
            for kind in args.databases.split(",")
        ]
        for kind, before, after in results:
            compare(kind, before, after, old.name)


if __name__ == "__main__":
    main()
