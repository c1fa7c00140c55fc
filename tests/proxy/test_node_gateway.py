"""The official Node SDK 11.2.0 (`@lavapayments/nodejs`, installed into `.node/`) calls the
forward endpoint through `lava.gateway(url, {...})` with its own `generateForwardToken`: customer
billing, meter-only (`customer_id: null`), merchant billing, `disable_billing` and BYOK, against
the fake provider over real HTTP, on both databases."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import time
from decimal import Decimal

from lava_server.wallets.service import check as ledger_check
from tests.proxy.test_token_v2 import RATE, Shop, costs
from tests.webhooks.test_node_sdk import node_sdk  # noqa: F401 - the fixture

SCRIPT = """
const { Lava } = require(process.env.PACKAGE);
const lava = new Lava(process.env.KEY, { baseUrl: process.env.BASE });
const url = "https://api.openai.com/v1/chat/completions";
const body = {
  model: "gpt-4o-mini", max_tokens: 50, messages: [{ role: "user", content: "Hello there" }],
};
const customer_id = process.env.CUSTOMER;
const meter_slug = process.env.METER;
const attempt = async (call) => {
  try { return await call(); } catch (error) { return { error: String(error.message || error) }; }
};
(async () => {
  const out = {};
  out.token = lava.generateForwardToken({ customer_id, meter_slug });
  out.customer = await lava.gateway(url, { body, customer_id, meter_slug });
  out.reference = await lava.gateway(url, { body, customer_id: "user-42", meter_slug });
  out.meterOnly = await lava.gateway(url, { body, meter_slug });
  out.merchant = await lava.gateway(url, { body });
  out.disabled = await lava.gateway(url, { body, customer_id, meter_slug, disable_billing: true });
  out.byok = await lava.gateway(url, { body, provider_key: "sk-node-own" });
  out.noMeter = await attempt(() => lava.gateway(url, { body, customer_id }));
  out.unknownMeter = await attempt(() => lava.gateway(url, { body, meter_slug: "nope" }));
  out.unknownCustomer = await attempt(
    () => lava.gateway(url, { body, customer_id: "nobody", meter_slug }));
  console.log(JSON.stringify(out));
})().catch((error) => { console.error(error); process.exit(1); });
"""


def run_node(package, shop: Shop) -> dict:
    done = subprocess.run(
        ["node", "-e", SCRIPT],
        env={
            **os.environ,
            "PACKAGE": str(package),
            "KEY": shop.merchant.secret_key,
            "BASE": f"{shop.base}/v1/",
            "CUSTOMER": shop.customer["connection_id"],
            "METER": shop.meter["meter_slug"],
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


async def test_the_node_sdk_gateway_bills_as_its_token_says(node_sdk, lava, merchant, fake, db):  # noqa: F811
    shop = await Shop(lava.url, merchant).setup()
    out = await asyncio.to_thread(run_node, node_sdk, shop)
    assert json.loads(base64.b64decode(out["token"])) == {
        "secret_key": merchant.secret_key,
        "customer_id": shop.customer["connection_id"],
        "meter_slug": shop.meter["meter_slug"],
    }
    for name in ("customer", "reference", "meterOnly", "merchant", "disabled", "byok"):
        assert out[name]["object"] == "chat.completion", (name, out[name])
    # gateway() itself refuses a customer without a meter; the server names what is unknown.
    assert "customer_id requires meter_slug" in out["noMeter"]["error"]
    assert "404" in out["unknownMeter"]["error"] and "meter_slug" in out["unknownMeter"]["error"]
    assert "404" in out["unknownCustomer"]["error"]
    assert "customer_id" in out["unknownCustomer"]["error"]
    assert len(fake.requests) == 6
    assert fake.requests[-1]["api_key"] == "sk-node-own"

    async with shop.api() as http:  # the bills are written just after the answers
        deadline = time.monotonic() + 5
        while True:
            listed = (await http.get("requests", params={"limit": "100"})).json()["data"]
            done = len(listed) >= 6 and all(r["status"] == "completed" for r in listed)
            if done or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.01)
    stored = {r["request_id"]: r for r in listed}
    assert len(stored) == 6 and all(r["status"] == "completed" for r in listed)
    con_id, meter_id = shop.customer["connection_id"], shop.meter["meter_id"]
    customer = [r for r in listed if r.get("connection_id") == con_id]
    billed = [r for r in customer if r["total_wallet_cost"] != "0.0000000000"]
    disabled = [r for r in customer if r["total_wallet_cost"] == "0.0000000000"]
    merchant_paid = [r for r in listed if "connection_id" not in r]
    assert len(billed) == 2 and len(disabled) == 1 and len(merchant_paid) == 3
    charged = Decimal(0)
    for request in billed:
        assert request["product_id"] == meter_id
        usage = request["model_usage"]
        fee = RATE * (usage["input_tokens"] + usage["output_tokens"]) / 1_000_000
        assert Decimal(request["total_wallet_cost"]) == fee > 0
        charged += fee
    assert disabled[0]["product_id"] == meter_id
    meter_only = [r for r in merchant_paid if r.get("product_id") == meter_id]
    assert len(meter_only) == 1
    byok = [r for r in merchant_paid if r["provider_key_type"] == "unmanaged"]
    assert len(byok) == 1 and byok[0]["total_merchant_cost"] == "0.0000000000"
    for request in merchant_paid:
        if request["provider_key_type"] == "managed":
            provider, service = costs(request)
            assert Decimal(request["total_merchant_cost"]) == provider + service > 0
    assert await shop.balance() == Decimal(10) - charged
    assert (await ledger_check(db)).problems == []
