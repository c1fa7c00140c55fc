"""Real `lava fake-provider` and `lava serve` processes for the proxy's end-to-end tests, and a
merchant with a product and a funded connection on them."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import httpx

from lavapayments.forward_token import encode_forward_token
from tests.e2e.servers import LAVA, clean_env, free_port, lava_cli


def start(args: list[str], env: dict[str, str], ready: str) -> subprocess.Popen[str]:
    """`lava *args`, once it has printed `ready`."""
    process = subprocess.Popen(
        [LAVA, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if ready in line:
            return process
    process.kill()
    raise AssertionError("did not start:\n" + "".join(lines))


def wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


@dataclass
class Stack:
    """A fake provider and `lava serve` processes forwarding to it, on one database."""

    fake: subprocess.Popen[str]
    fake_url: str
    servers: list[subprocess.Popen[str]]
    bases: list[str]  # http://127.0.0.1:PORT of each server


def start_stack(
    database_url: str, servers: int, settings: dict[str, str], *fake_args: str
) -> Stack:
    """`lava fake-provider` (with `fake_args`) and `servers` `lava serve` processes with the
    managed OpenAI key, the given `LAVA_*` settings and the fake provider as OpenAI's origin."""
    fake_port = free_port()
    env = {
        **clean_env(),
        "LAVA_UPSTREAM_OPENAI": f"http://127.0.0.1:{fake_port}",
        "LAVA_PROVIDER_KEY_OPENAI": "sk-managed",
        # At most 16 connections a process (8 kept, 8 more when busy): two of these tests at
        # once, with two servers each, stay well under PostgreSQL's 100 connections (with the
        # default of 20 + 20 a process, two of them at once ran out and their calls hung).
        "LAVA_DB_POOL_SIZE": "8",
        # A burst of calls may wait for a connection while the whole suite loads the machine.
        "LAVA_DB_POOL_TIMEOUT_SECONDS": "30",
        **settings,
    }
    fake = subprocess.Popen(  # its output is not read: never a pipe that could fill up
        [LAVA, "fake-provider", "--port", str(fake_port), *fake_args], env=env, text=True
    )
    fake_url = f"http://127.0.0.1:{fake_port}"
    wait_for(f"{fake_url}/_fake/health")
    ports = [free_port() for _ in range(servers)]
    processes = [
        start(
            ["serve", "--port", str(port), "--database-url", database_url],
            env,
            "Uvicorn running on",  # listening (startup complete comes just before)
        )
        for port in ports
    ]
    return Stack(fake, fake_url, processes, [f"http://127.0.0.1:{port}" for port in ports])


@dataclass
class Funded:
    merchant: dict[str, Any]
    product: dict[str, Any]
    connection: dict[str, Any]
    token: str  # the forward token billing the connection with the product
    api: httpx.Client  # the merchant's API client on one server (close it)


def fund(database_url: str, base: str, *, rate: str, balance: str) -> Funded:
    """A new merchant, a one-tier product at `rate` per 1M tokens, a connection of `balance`."""
    created = lava_cli("merchants", "create", "E2E", "--json", "--database-url", database_url)
    merchant = json.loads(created.stdout)
    headers = {"Authorization": f"Bearer {merchant['secret_key']}"}
    api = httpx.Client(base_url=base + "/v1/", headers=headers, timeout=30)
    product = api.post(
        "products",
        json={"name": "Chat", "tiers": [{"start": 0, "rate": rate, "type": "tokens_1m"}]},
    ).json()
    connection = api.post("test_helpers/connections", json={"balance": balance}).json()
    token = encode_forward_token(
        secret_key=merchant["secret_key"],
        connection_secret=connection["connection_secret"],
        product_secret=product["product_secret"],
    )
    return Funded(merchant, product, connection, token, api)
