"""The official Node SDK, `@lavapayments/nodejs@11.2.0` from the npm registry (`.ci/run`
installs it into `.node/`), drives the current API's customers, meters, secret keys and models
against our server over real HTTP, on both databases, and the objects it makes are the seed
era's connections and products."""

from __future__ import annotations

import json
import os
import subprocess

from lava_server.app import create_app
from lava_server.testing import serve_in_thread
from tests.secret_keys.helpers import later
from tests.webhooks.test_node_sdk import node_sdk  # noqa: F401 - the fixture

SCRIPT = """
const { Lava } = require(process.env.PACKAGE);
const lava = new Lava(process.env.KEY, { baseUrl: process.env.BASE });
const attempt = async (call) => {
  try { return await call(); } catch (error) { return { error: String(error.message || error) }; }
};
(async () => {
  const out = {};
  out.customer = await lava.customers.create({
    reference_id: "node-1", email: "n@example.com", name: "Node User", metadata: { a: 1 },
  });
  const id = out.customer.customer_id;
  out.again = await lava.customers.create({ reference_id: "node-1" });
  out.second = await lava.customers.create({});
  out.page1 = await lava.customers.list({ limit: 1 });
  out.page2 = await lava.customers.list({ limit: 1, cursor: out.page1.next_cursor });
  out.retrieved = await lava.customers.retrieve(id);
  out.updated = await lava.customers.update(id, { email: null, phone: "+15550102" });
  out.subscription = await lava.customers.getSubscription(id);
  out.badCustomer = await attempt(() => lava.customers.create({ reference_id: "con_x" }));

  out.meter = await lava.meters.create({
    name: "Node Meter", rate_type: "fixed", tier_type: "tokens_1m",
    tiers: [{ start: "0", rate: "2" }, { start: "1000000", rate: "1" }],
  });
  out.meterUpdated = await lava.meters.update(out.meter.meter_id, { name: "Renamed" });
  out.meterRetrieved = await lava.meters.retrieve(out.meter.meter_id);
  out.meters = await lava.meters.list();
  out.meterTaken = await attempt(() => lava.meters.create({
    name: "x", meter_slug: "node-meter", rate_type: "fixed", tier_type: "requests",
    tiers: [{ start: "0", rate: "1" }],
  }));

  out.key = await lava.secretKeys.create({ name: "node" });
  out.keys = await lava.secretKeys.list({ limit: 10 });
  out.models = await lava.models.list();
  out.keyTooSoon = await attempt(() => lava.secretKeys.delete(out.key.secret_key_id));

  out.customerDeleted = await lava.customers.delete(id);
  out.meterDeleted = await lava.meters.delete(out.meter.meter_id);
  out.gone = await attempt(() => lava.customers.retrieve(id));
  // The new key revokes the one this client was made with, which is old enough.
  const second = new Lava(out.key.secret_key, { baseUrl: process.env.BASE });
  out.keyDeleted = await second.secretKeys.delete(out.keys.data[1].secret_key_id);
  console.log(JSON.stringify(out));
})().catch((error) => { console.error(error); process.exit(1); });
"""


def test_the_node_sdk_drives_the_current_api(node_sdk, settings, merchant, monkeypatch):  # noqa: F811
    # The server's clock runs 16 s ahead: the merchant's key is past the cooldown of a new key
    # (docs/current-api.md#secret-keys), the keys made by the script are not.
    later(monkeypatch)
    with serve_in_thread(create_app(settings), shutdown_timeout=3) as server:
        done = subprocess.run(
            ["node", "-e", SCRIPT],
            env={
                **os.environ,
                "PACKAGE": str(node_sdk),
                "KEY": merchant.secret_key,
                "BASE": f"{server.url}/v1/",
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout)

        customer = out["customer"]
        assert customer["customer_id"].startswith("con_test_")
        assert customer["contact"] == {
            "phone": "",
            "email": "n@example.com",
            "first_name": "Node",
            "last_name": "User",
        }
        assert customer["metadata"] == {"a": 1} and customer["subscription"] is None
        assert out["again"]["customer_id"] == customer["customer_id"]
        assert out["page1"]["has_more"] is True
        assert [c["customer_id"] for c in out["page1"]["data"] + out["page2"]["data"]] == [
            out["second"]["customer_id"],
            customer["customer_id"],
        ]
        assert out["retrieved"] == customer
        assert out["updated"]["contact"]["email"] == ""
        assert out["updated"]["contact"]["phone"] == "+15550102"
        assert out["subscription"] == {"subscription": None}
        assert "400" in out["badCustomer"]["error"]

        meter = out["meter"]
        assert meter["meter_id"].startswith("prd_test_")
        assert meter["meter_slug"] == "node-meter"
        assert meter["tiers"][1] == {"start": 1000000, "rate": "1", "type": "tokens_1m"}
        assert out["meterUpdated"]["name"] == out["meterRetrieved"]["name"] == "Renamed"
        assert [m["meter_id"] for m in out["meters"]["data"]] == [meter["meter_id"]]
        assert "409" in out["meterTaken"]["error"]

        key = out["key"]
        assert key["secret_key"].startswith("aks_test_")
        assert key["secret_key_hint"] == key["secret_key"][-4:]
        assert out["keys"]["data"][0]["secret_key_id"] == key["secret_key_id"]
        assert all("secret_key" not in k for k in out["keys"]["data"])
        assert "429" in out["keyTooSoon"]["error"]
        old_key = out["keys"]["data"][1]["secret_key_id"]
        assert out["keyDeleted"] == {"id": old_key, "deleted": True}
        assert out["models"]["object"] == "list" and out["models"]["data"]

        assert out["customerDeleted"] == {"success": True}
        assert out["meterDeleted"] == {"id": meter["meter_id"], "deleted": True}
        assert "404" in out["gone"]["error"]
