"""`lava webhooks list|create|deliveries|resend`, against both databases."""

from __future__ import annotations

import asyncio
import json

from lava_server.cli import app
from tests.cli.test_cli import lava, runner


async def test_webhooks_from_the_shell(database_url, client):
    url = ["--database-url", database_url]
    merchant = json.loads(await lava("merchants", "create", "Acme", "--json", *url))
    m = ["--merchant", merchant["merchant_id"]]
    created = json.loads(
        await lava(
            "webhooks", "create", "Backend", "https://hooks.example.com/lava",
            "--event", "checkout.completed", "--legacy-names", "--json", *m, *url,
        )
    )  # fmt: skip
    assert created["webhook_secret"].startswith("whsec_test_")
    assert created["enabled_events"] == ["checkout.completed"]
    assert created["event_names"] == "legacy"
    listed = json.loads(await lava("webhooks", "list", "--json", *m, *url))
    assert [row["webhook_id"] for row in listed] == [created["webhook_id"]]
    assert "webhook_secret" not in listed[0]

    headers = {"Authorization": f"Bearer {merchant['secret_key']}"}
    ping = (await client.post(f"/v1/webhooks/{created['webhook_id']}/test", headers=headers)).json()
    rows = json.loads(
        await lava("webhooks", "deliveries", created["webhook_id"], "--json", *m, *url)
    )
    assert [row["delivery_id"] for row in rows] == [ping["delivery_id"]]
    table = await lava("webhooks", "deliveries", created["webhook_id"], *m, *url)
    assert "ping" in table
    said = await lava("webhooks", "resend", created["webhook_id"], ping["delivery_id"], *m, *url)
    assert ping["delivery_id"] in said

    bad = await asyncio.to_thread(
        runner.invoke, app, ["webhooks", "create", "x", "http://example.com/", *m, *url]
    )
    assert bad.exit_code == 1 and "https://" in bad.output
    unknown = await asyncio.to_thread(
        runner.invoke, app, ["webhooks", "resend", created["webhook_id"], "whd_x", *m, *url]
    )
    assert unknown.exit_code == 1 and "No delivery" in unknown.output
