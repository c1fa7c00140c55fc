"""`lava credits grant`, `lava adjust`, `lava refunds create`, `lava payments list`
(`docs/checkout-and-wallets.md#merchant-money-operations`), against both databases: what the
shell does, the API sees, and `lava ledger check` stays clean."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

from typer.testing import CliRunner

from lava_server import cli
from lava_server.cli import app
from tests.cli.test_cli import lava, url  # noqa: F401 - `url` is a fixture
from tests.money_ops.helpers import money, onboarded

runner = CliRunner()


async def test_money_from_the_shell(url, client, merchant, monkeypatch):  # noqa: F811
    m = ["--merchant", merchant.merchant_id]
    customer, payment_id = await onboarded(client, merchant.headers, amount="25")
    granted = json.loads(
        await lava("credits", "grant", customer, "5", "--reason", "welcome", *m, "--json", *url)
    )
    assert granted["object"] == "credit" and granted["wallet_balance"] == "30.0000000000"
    adjusted = json.loads(
        await lava("adjust", customer, "--amount", "-2.5", "--reason", "fix", *m, "--json", *url)
    )
    assert adjusted["amount"] == "-2.5000000000"
    assert await money(client, merchant.headers, customer) == Decimal("27.5")

    refunded = json.loads(
        await lava(
            "refunds", "create", payment_id, "--amount", "10", "--idempotency-key", "k1",
            *m, "--json", *url,
        )
    )  # fmt: skip
    assert refunded["status"] == "succeeded" and refunded["amount"] == "10.0000000000"
    again = json.loads(
        await lava(
            "refunds", "create", payment_id, "--amount", "10", "--idempotency-key", "k1",
            *m, "--json", *url,
        )
    )  # fmt: skip
    assert again == refunded  # the same refund, not a second one
    clash = await asyncio.to_thread(
        runner.invoke,
        app,
        ["refunds", "create", payment_id, "--amount", "3", "--idempotency-key", "k1", *m, *url],
    )
    assert clash.exit_code == 1 and "Idempotency-Key" in clash.output
    assert await money(client, merchant.headers, customer) == Decimal("17.5")

    listed = json.loads(await lava("payments", "list", *m, "--customer", customer, "--json", *url))
    assert [p["id"] for p in listed] == [payment_id]
    assert listed[0]["amount_refunded"] == "10.0000000000"
    monkeypatch.setattr(cli.console, "width", 300)  # 80 without a terminal
    table = await lava("payments", "list", *m, *url)
    assert payment_id in table and "top-up" in table

    # Refusals: a clear message, exit 1 (a rule) or 2 (bad input), nothing moved.
    too_much = await asyncio.to_thread(
        runner.invoke, app, ["refunds", "create", payment_id, "--amount", "16", *m, *url]
    )
    assert too_much.exit_code == 1 and "left to refund" in too_much.output
    below = await asyncio.to_thread(
        runner.invoke, app, ["adjust", customer, "--amount", "-100", "--reason", "x", *m, *url]
    )
    assert below.exit_code == 1 and "available balance" in below.output
    bad = await asyncio.to_thread(
        runner.invoke, app, ["credits", "grant", customer, "ten", "--reason", "x", *m, *url]
    )
    assert bad.exit_code == 2 and "amount" in bad.output
    assert await money(client, merchant.headers, customer) == Decimal("17.5")
    check = await lava("ledger", "check", "--json", *url)
    assert json.loads(check)["problems"] == []
