"""`lava spend-keys list|create|revoke|rotate` (`docs/current-api.md#spend-keys`), against both
databases: what the shell makes, the API sees."""

from __future__ import annotations

import asyncio
import json

from typer.testing import CliRunner

from lava_server import cli
from lava_server.cli import app
from tests.cli.test_cli import lava, url  # noqa: F401 - `url` is a fixture

runner = CliRunner()


async def test_spend_keys_from_the_shell(url, client, merchant, monkeypatch):  # noqa: F811
    m = ["--merchant", merchant.merchant_id]
    customer = (
        await client.post("/v1/customers", json={"reference_id": "cli-u"}, headers=merchant.headers)
    ).json()
    meter = (
        await client.post(
            "/v1/meters",
            json={
                "name": "Chat",
                "rate_type": "fixed",
                "tier_type": "requests",
                "tiers": [{"start": "0", "rate": "0.01"}],
            },
            headers=merchant.headers,
        )
    ).json()
    made = json.loads(
        await lava(
            "spend-keys", "create", "Agent", *m, "--customer", "cli-u", "--meter",
            meter["meter_slug"], "--spend-limit", "0.05:daily", "--request-limit", "200:monthly",
            "--rpm", "30", "--model", "gpt-4o-mini", "--json", *url,
        )
    )  # fmt: skip
    assert made["key"].startswith("lava_sk_")
    assert made["customer_id"] == customer["customer_id"]
    assert made["spend_limit"] == {"amount": "0.0500000000", "cycle": "daily"}
    assert made["request_limit"] == {"count": 200, "cycle": "monthly"}
    assert made["rate_limit"] == {"rpm": 30, "burst": None}
    assert made["allowed_models"] == ["gpt-4o-mini"]
    path = f"/v1/spend_keys/{made['spend_key_id']}"
    seen = (await client.get(path, headers=merchant.headers)).json()
    assert seen == {k: v for k, v in made.items() if k != "key"}

    plain = json.loads(await lava("spend-keys", "create", "Plain", *m, "--json", *url))
    listed = json.loads(await lava("spend-keys", "list", *m, "--json", *url))
    assert [k["spend_key_id"] for k in listed] == [plain["spend_key_id"], made["spend_key_id"]]
    assert made["key"] not in json.dumps(listed)
    # The CLI's console took its width when it was imported (80 without a terminal): widen it.
    monkeypatch.setattr(cli.console, "width", 300)
    wide = await asyncio.to_thread(runner.invoke, app, ["spend-keys", "list", *m, *url])
    assert wide.exit_code == 0, wide.output
    assert made["spend_key_id"] in wide.stdout and "(merchant)" in wide.stdout
    assert "0.0000000000 / 0.0500000000 daily" in wide.stdout

    rotated = json.loads(
        await lava("spend-keys", "rotate", made["spend_key_id"], *m, "--json", *url)
    )
    assert rotated["spend_key_id"] == made["spend_key_id"] and rotated["key"] != made["key"]
    assert rotated["spend_limit"] == made["spend_limit"]

    out = await lava("spend-keys", "revoke", plain["spend_key_id"], *m, *url)
    assert plain["spend_key_id"] in out
    gone = await client.get(f"/v1/spend_keys/{plain['spend_key_id']}", headers=merchant.headers)
    assert gone.status_code == 404


def test_bad_input_is_refused_with_a_message(url, merchant):  # noqa: F811
    m = ["--merchant", merchant.merchant_id]
    cases = [
        (["create", "K", *m, "--spend-limit", "0:daily"], "spend_limit"),
        (["create", "K", *m, "--spend-limit", "5:yearly"], "spend_limit"),
        (["create", "K", *m, "--request-limit", "x:daily"], "request_limit"),
        (["create", "K", *m, "--rpm", "0"], "rate_limit"),
        (["create", "K", *m, "--customer", "u"], "meter_slug"),
        (["create", "K", *m, "--customer", "nobody", "--meter", "x"], "customer"),
        (["create", "K", "--merchant", "mer_missing"], "mer_missing"),
        (["revoke", "spk_test_missing", *m], "spk_test_missing"),
        (["rotate", "spk_test_missing", *m], "spk_test_missing"),
    ]
    for args, named in cases:
        result = runner.invoke(app, ["spend-keys", *args, *url])
        assert result.exit_code in (1, 2), (args, result.output)
        assert named in result.output, (args, result.output)
        assert "Traceback" not in result.output
