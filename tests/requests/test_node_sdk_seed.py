"""The seed era's official Node SDK, `@lavapayments/nodejs@2.5.0` from the npm registry (`.ci/run`
installs it into `.node/` as `lava-node-2`, next to 11.2.0), drives its whole flow against our
server over real HTTP, on both databases: checkout sessions, connections, requests (report, list,
retrieve), usage, and `generateForwardToken` with a forwarded call to the fake provider.

2.5.0 has no `requests.create` and no subscriptions (they came in later versions); the report
goes through the client's own `request()`, as its README's raw calls do, and so do the sandbox
helpers that stand for a completed checkout and the product."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from lava_server.app import create_app
from lava_server.testing import serve_in_thread
from lava_server.wallets.service import check as ledger_check
from tests.conftest import IN_CI
from tests.proxy.conftest import proxy_settings, upstream_env  # noqa: F401 - the fixtures

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / ".node" / "node_modules" / "lava-node-2"
INSTALL = "npm install --prefix .node lava-node-2@npm:@lavapayments/nodejs@2.5.0"

SCRIPT = """
const { Lava } = require(process.env.PACKAGE);
const version = require(process.env.PACKAGE + "/package.json").version;
const lava = new Lava(process.env.KEY, {
  apiVersion: "2025-04-28.v1", baseUrl: process.env.BASE,
});
const attempt = async (call) => {
  try { return await call(); } catch (error) { return { error: String(error.message || error) }; }
};
(async () => {
  const out = { version };
  out.session = await lava.checkout.create({
    checkout_mode: "onboarding", origin_url: "https://shop.example", reference_id: "seed-user",
  });
  out.sessionRetrieved = await lava.checkout.retrieve(out.session.checkout_session_id);

  // A completed checkout's connection and a product, through the sandbox helpers.
  out.connection = await lava.request("POST", "test_helpers/connections", {
    data: { balance: "10", reference_id: "seed-user" },
  });
  out.product = await lava.request("POST", "products", {
    data: { name: "Seed Chat", tiers: [{ start: 0, rate: "2", type: "tokens_1m" }] },
  });
  out.connections = await lava.connections.list({ reference_id: "seed-user" });
  out.connectionRetrieved = await lava.connections.retrieve(out.connection.connection_id);

  const report = {
    request_id: "seed-1",
    connection_secret: out.connection.connection_secret,
    product_secret: out.product.product_secret,
    input_tokens: 500, output_tokens: 200, metadata: { feature: "chat" },
  };
  out.created = await lava.request("POST", "requests", { data: report });
  out.again = await lava.request("POST", "requests", { data: report });
  out.conflict = await attempt(() => lava.request("POST", "requests", {
    data: { ...report, input_tokens: 1 },
  }));

  const token = lava.generateForwardToken({
    connection_secret: out.connection.connection_secret,
    product_secret: out.product.product_secret,
  });
  out.token = JSON.parse(Buffer.from(token, "base64").toString());
  const forwarded = await fetch(`${lava.openaiUrl}/chat/completions`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] }),
  });
  out.forwardStatus = forwarded.status;
  out.forwardedId = forwarded.headers.get("x-lava-request-id");
  out.forwardAnswer = await forwarded.json();
  for (let i = 0; i < 200; i++) {  // the bill is written just after the answer
    out.forwardedRequest = await lava.requests.retrieve(out.forwardedId);
    if (out.forwardedRequest.status !== "pending") break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }

  out.retrieved = await lava.requests.retrieve("seed-1");
  out.all = await lava.requests.list();
  out.page = await lava.requests.list({ limit: 1 });
  out.next = await lava.requests.list({ limit: 1, cursor: out.page.next_cursor });
  out.byConnection = await lava.requests.list({ connection_id: out.connection.connection_id });
  out.byProduct = await lava.requests.list({ product_id: out.product.product_id });
  out.byMetadata = await lava.requests.list({ metadata_filters: { feature: "chat" } });
  out.usage = await lava.usage.retrieve({ start: process.env.START });
  out.usageProduct = await lava.usage.retrieve({
    start: process.env.START,
    connection_id: out.connection.connection_id,
    product_id: out.product.product_id,
    metadata_filters: { feature: "chat" },
  });
  out.connectionAfter = await lava.connections.retrieve(out.connection.connection_id);
  out.deleted = await lava.connections.delete(out.connection.connection_id);
  out.gone = await attempt(() => lava.connections.retrieve(out.connection.connection_id));
  console.log(JSON.stringify(out));
})().catch((error) => { console.error(error); process.exit(1); });
"""


@pytest.fixture
def node_sdk_2() -> Path:
    if shutil.which("node") is None or not PACKAGE.exists():
        if IN_CI:
            pytest.fail(f"the Node SDK 2.5.0 is missing: .ci/run installs it ({INSTALL})")
        pytest.skip(f"the Node SDK 2.5.0 is not installed here; to run this test: {INSTALL}")
    return PACKAGE


async def test_the_seed_era_node_sdk_runs_its_whole_flow(
    node_sdk_2,
    proxy_settings,  # noqa: F811
    upstream_env,  # noqa: F811
    fake,
    merchant,
    client,
    db,
):
    start = datetime.now(timezone.utc).date().isoformat()
    with serve_in_thread(create_app(proxy_settings), shutdown_timeout=5) as server:
        done = subprocess.run(
            ["node", "-e", SCRIPT],
            env={
                **os.environ,
                "PACKAGE": str(node_sdk_2),
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
    assert out["version"] == "2.5.0"

    session = out["session"]
    assert session["checkout_session_id"].startswith("cs_test_")
    assert session["checkout_mode"] == "onboarding" and session["reference_id"] == "seed-user"
    assert out["sessionRetrieved"]["checkout_session_id"] == session["checkout_session_id"]

    connection, product = out["connection"], out["product"]
    assert [c["connection_id"] for c in out["connections"]["data"]] == [connection["connection_id"]]
    assert out["connectionRetrieved"]["wallet"]["balance"] == "10.0000000000"

    created = out["created"]
    assert created["connection_id"] == connection["connection_id"]
    assert created["product_id"] == product["product_id"]
    assert created["fee"]["amount"] == "0.0014000000"
    assert created["total_wallet_cost"] == "0.0014266000"
    assert out["again"] == created == out["retrieved"]
    assert "409" in out["conflict"]["error"]

    assert out["token"] == {
        "secret_key": merchant.secret_key,
        "connection_secret": connection["connection_secret"],
        "product_secret": product["product_secret"],
    }
    assert out["forwardStatus"] == 200, out["forwardAnswer"]
    assert out["forwardAnswer"]["object"] == "chat.completion"
    assert len(fake.requests) == 1
    forwarded = out["forwardedRequest"]
    assert forwarded["status"] == "completed"
    assert forwarded["provider"] == "openai" and forwarded["provider_key_type"] == "managed"
    assert forwarded["connection_id"] == connection["connection_id"]
    assert forwarded["product_id"] == product["product_id"]
    assert Decimal(forwarded["total_wallet_cost"]) > 0

    ids = [out["forwardedId"], "seed-1"]
    assert [r["request_id"] for r in out["all"]["data"]] == ids
    assert [r["request_id"] for r in out["page"]["data"] + out["next"]["data"]] == ids
    assert [r["request_id"] for r in out["byConnection"]["data"]] == ids
    assert [r["request_id"] for r in out["byProduct"]["data"]] == ids
    assert [r["request_id"] for r in out["byMetadata"]["data"]] == ["seed-1"]

    spent = Decimal(created["total_wallet_cost"]) + Decimal(forwarded["total_wallet_cost"])
    totals = out["usage"]["totals"]
    assert totals["total_requests"] == 2
    assert Decimal(totals["total_wallet_cost"]) == spent
    assert totals["total_fee_amount"] == totals["total_charge"]
    assert out["usageProduct"]["totals"]["total_requests"] == 1
    assert out["usageProduct"]["totals"]["total_wallet_cost"] == "0.0014266000"
    assert Decimal(out["connectionAfter"]["wallet"]["balance"]) == Decimal(10) - spent

    assert out["deleted"] == {"success": True}
    assert "404" in out["gone"]["error"]
    # The wallet stays, with its history; the ledger adds up.
    assert (await client.get("/v1/requests/seed-1", headers=merchant.headers)).status_code == 200
    assert (await ledger_check(db)).problems == []
