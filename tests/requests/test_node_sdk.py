"""The official Node SDK, `@lavapayments/nodejs@11.2.0` from the npm registry (`.ci/run`
installs it into `.node/`), reports and reads requests and usage with the current API's names
against our server over real HTTP, on both databases (`docs/current-api.md#requests-and-usage`):
the customer and meter it names are a connection and a product, the money is charged once."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timezone
from decimal import Decimal

from lava_server.app import create_app
from lava_server.testing import serve_in_thread
from lava_server.wallets.service import check as ledger_check
from tests.metering.helpers import balance_of
from tests.webhooks.test_node_sdk import node_sdk  # noqa: F401 - the fixture

SCRIPT = """
const { Lava } = require(process.env.PACKAGE);
const lava = new Lava(process.env.KEY, { baseUrl: process.env.BASE });
const attempt = async (call) => {
  try { return await call(); } catch (error) { return { error: String(error.message || error) }; }
};
(async () => {
  const out = {};
  out.customer = await lava.customers.create({ reference_id: "node-user" });
  // Its wallet starts empty: funded through our sandbox helper, with the client's own request().
  await lava.request("POST", `test_helpers/connections/${out.customer.customer_id}/fund`, {
    data: { amount: "1" },
  });
  out.meter = await lava.meters.create({
    name: "Node Chat", rate_type: "fixed", tier_type: "tokens_1m",
    tiers: [{ start: "0", rate: "2" }],
  });
  out.other = await lava.meters.create({
    name: "Node Other", rate_type: "fixed", tier_type: "requests",
    tiers: [{ start: "0", rate: "0.01" }],
  });
  const base = { customer_id: out.customer.customer_id, meter_slug: out.meter.meter_slug };
  out.created = await lava.requests.create({
    ...base, request_id: "node-1", input_tokens: 500, output_tokens: 200,
    metadata: { feature: "chat" },
  });
  out.again = await lava.requests.create({
    ...base, request_id: "node-1", input_tokens: 500, output_tokens: 200,
    metadata: { feature: "chat" },
  });
  out.byReference = await lava.requests.create({
    request_id: "node-2", customer_id: "node-user", meter_slug: out.other.meter_slug,
  });
  out.conflict = await attempt(() => lava.requests.create({
    ...base, request_id: "node-1", input_tokens: 1,
  }));
  out.unknown = await attempt(() => lava.requests.create({
    request_id: "node-3", customer_id: "nobody", meter_slug: out.meter.meter_slug,
  }));
  out.retrieved = await lava.requests.retrieve("node-1");
  out.all = await lava.requests.list();
  out.page = await lava.requests.list({ limit: 1 });
  out.next = await lava.requests.list({ limit: 1, cursor: out.page.next_cursor });
  out.byCustomer = await lava.requests.list({ customer_id: "node-user" });
  out.byMeter = await lava.requests.list({ meter_id: out.meter.meter_id });
  out.byMetadata = await lava.requests.list({ metadata_filters: { feature: "chat" } });
  out.usage = await lava.usage.retrieve({ start: process.env.START });
  out.usageMeter = await lava.usage.retrieve({
    start: process.env.START, customer_id: out.customer.customer_id, meter_id: out.other.meter_id,
  });
  out.usageMetadata = await lava.usage.retrieve({
    start: process.env.START, customer_id: "node-user", metadata_filters: { feature: "chat" },
  });
  console.log(JSON.stringify(out));
})().catch((error) => { console.error(error); process.exit(1); });
"""


async def test_the_node_sdk_reports_and_reads_requests_and_usage(
    node_sdk,  # noqa: F811
    settings,
    merchant,
    client,
    db,
):
    start = datetime.now(timezone.utc).date().isoformat()
    with serve_in_thread(create_app(settings), shutdown_timeout=3) as server:
        done = subprocess.run(
            ["node", "-e", SCRIPT],
            env={
                **os.environ,
                "PACKAGE": str(node_sdk),
                "KEY": merchant.secret_key,
                "BASE": f"{server.url}/v1/",
                "START": start,
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    customer, meter, other = out["customer"], out["meter"], out["other"]

    created = out["created"]
    assert created["request_id"] == "node-1" and created["status"] == "completed"
    assert created["customer_id"] == created["connection_id"] == customer["customer_id"]
    assert created["meter_id"] == created["product_id"] == meter["meter_id"]
    assert created["cost"] == created["model_usage"]["total_cost"] == "0.0000000000"
    assert created["charge"] == {
        "amount": "0.0014000000",
        "rate_type": "fixed",
        "breakdown": [
            {
                "tier": {"start": 0, "rate": "2", "type": "tokens_1m"},
                "tokens": 700,
                "characters": 0,
                "seconds": 0,
                "cost": "0.0014000000",
            }
        ],
    }
    assert created["metadata"] == {"feature": "chat"}
    assert out["again"] == created == out["retrieved"]
    assert out["byReference"]["customer_id"] == customer["customer_id"]
    assert out["byReference"]["meter_id"] == other["meter_id"]
    assert out["byReference"]["charge"]["amount"] == "0.0100000000"
    assert "409" in out["conflict"]["error"]
    assert "404" in out["unknown"]["error"] and "customer_id" in out["unknown"]["error"]

    assert [r["request_id"] for r in out["all"]["data"]] == ["node-2", "node-1"]
    assert out["page"]["has_more"] is True
    assert [r["request_id"] for r in out["page"]["data"] + out["next"]["data"]] == [
        "node-2",
        "node-1",
    ]
    assert out["next"]["has_more"] is False
    assert [r["request_id"] for r in out["byCustomer"]["data"]] == ["node-2", "node-1"]
    assert [r["request_id"] for r in out["byMeter"]["data"]] == ["node-1"]
    assert [r["request_id"] for r in out["byMetadata"]["data"]] == ["node-1"]

    totals = out["usage"]["totals"]
    assert totals["total_requests"] == 2 and totals["total_usage_tokens"] == 700
    assert totals["total_cost"] == "0.0000000000"
    assert totals["total_charge"] == "0.0114000000"
    assert out["usage"]["items"][-1]["date"] == start
    assert out["usage"]["items"][-1]["total_charge"] == "0.0114000000"
    assert out["usageMeter"]["totals"]["total_requests"] == 1
    assert out["usageMeter"]["totals"]["total_charge"] == "0.0100000000"
    assert out["usageMetadata"]["totals"]["total_charge"] == "0.0014000000"

    # A current-API meter leaves the provider cost and the service charge to the merchant: the
    # wallet pays the fees, once.
    wallet = await balance_of(client, merchant.headers, customer["customer_id"])
    assert wallet == Decimal(1) - Decimal("0.0114")
    assert (await ledger_check(db)).problems == []
