"""The `lava` command's management subcommands, against both databases."""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from lava_server.cli import app

runner = CliRunner()


def lava_sync(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


async def lava(*args: str) -> str:
    """The command runs its own event loop, so it runs in a thread beside the test's loop."""
    return await asyncio.to_thread(lava_sync, *args)


@pytest.fixture
def url(database_url: str) -> list[str]:
    return ["--database-url", database_url]


async def test_merchants_keys_and_products_from_the_shell(url, client):
    created = json.loads(await lava("merchants", "create", "Acme", "--json", *url))
    assert created["merchant_id"].startswith("mer_")
    assert created["secret_key"].startswith("aks_test_")
    headers = {"Authorization": f"Bearer {created['secret_key']}"}
    assert (await client.get("/v1/connections", headers=headers)).status_code == 200

    live = json.loads(await lava("merchants", "create", "Acme Live", "--live", "--json", *url))
    assert live["secret_key"].startswith("aks_live_")

    extra = json.loads(
        await lava("keys", "create", "--merchant", created["merchant_id"], "--json", *url)
    )
    listed = json.loads(
        await lava("keys", "list", "--merchant", created["merchant_id"], "--json", *url)
    )
    assert {row["key_id"] for row in listed} == {extra["key_id"], listed[0]["key_id"]}
    assert all(row["revoked_at"] is None for row in listed)
    assert extra["secret_key"] not in json.dumps(listed)  # only hashes are kept

    await lava("keys", "revoke", extra["key_id"], *url)
    extra_headers = {"Authorization": f"Bearer {extra['secret_key']}"}
    assert (await client.get("/v1/connections", headers=extra_headers)).status_code == 401
    listed = json.loads(
        await lava("keys", "list", "--merchant", created["merchant_id"], "--json", *url)
    )
    assert [row["revoked_at"] is not None for row in listed].count(True) == 1

    product = json.loads(
        await lava(
            "products",
            "create",
            "Chat",
            "--merchant",
            created["merchant_id"],
            "--tier",
            "0:5:tokens_1m",
            "--tier",
            "1000000:3:tokens_1m",
            "--json",
            *url,
        )
    )
    assert product["product_secret"].startswith("ps_test_")
    assert product["tiers"][1] == {"start": 1000000, "rate": "3", "type": "tokens_1m"}
    via_api = (await client.get(f"/v1/products/{product['product_id']}", headers=headers)).json()
    assert via_api == product
    products = json.loads(
        await lava("products", "list", "--merchant", created["merchant_id"], "--json", *url)
    )
    assert [p["product_id"] for p in products] == [product["product_id"]]


def test_bad_input_is_refused_with_a_message(url):
    result = runner.invoke(app, ["keys", "revoke", "key_test_nothing", *url])
    assert result.exit_code == 1
    assert "No active key" in result.output
    created = json.loads(lava_sync("merchants", "create", "Acme", "--json", *url))
    result = runner.invoke(
        app,
        [
            "products",
            "create",
            "Bad",
            "--merchant",
            created["merchant_id"],
            "--tier",
            "5:1:tokens_1m",
            *url,
        ],
    )
    assert result.exit_code == 1
    assert "first tier must start at 0" in result.output
    result = runner.invoke(
        app,
        ["products", "create", "Bad", "--merchant", created["merchant_id"], "--tier", "zero", *url],
    )
    assert result.exit_code == 2
    result = runner.invoke(
        app, ["products", "create", "X", "--merchant", "mer_nobody", "--tier", "0:1:requests", *url]
    )
    assert result.exit_code == 1
    assert "No merchant" in result.output


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("LAVA_REDIS_URL", "localhost:6379", "redis_url"),
        ("LAVA_ABANDONED_AFTER_SECONDS", "0", "abandoned_after_seconds"),
        ("LAVA_PROCESS_HEARTBEAT_SECONDS", "-1", "process_heartbeat_seconds"),
    ],
)
def test_a_bad_setting_is_named_not_a_traceback(monkeypatch, url, variable, value, field):
    monkeypatch.setenv(variable, value)
    result = runner.invoke(app, ["keys", "list", *url])
    assert result.exit_code == 2
    assert f"Invalid setting {field}" in result.output
    assert "Traceback" not in result.output
