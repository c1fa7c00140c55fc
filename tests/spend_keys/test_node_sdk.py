"""The official Node SDK, `@lavapayments/nodejs@11.2.0` from the npm registry (`.ci/run` installs
it into `.node/`), calls every method of `spendKeys` against our server over real HTTP, on both
databases (`docs/current-api.md#spend-keys`)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

from sqlalchemy import select

from lava_server.app import create_app
from lava_server.db.models import SpendKey
from lava_server.testing import serve_in_thread
from tests.webhooks.test_node_sdk import node_sdk  # noqa: F401 - the fixture

SCRIPT = """
const { Lava } = require(process.env.PACKAGE);
const lava = new Lava(process.env.KEY, { baseUrl: process.env.BASE });
const attempt = async (call) => {
  try { return await call(); } catch (error) { return { error: String(error.message || error) }; }
};
(async () => {
  const out = {};
  out.plain = await lava.spendKeys.create({ name: "plain" });
  out.full = await lava.spendKeys.create({
    name: "capped", status: "paused", request_shape: "anthropic",
    allowed_models: ["claude-3-5-haiku"], allowed_providers: ["anthropic"],
    spend_limit: { amount: "0.05", cycle: "daily" },
    request_limit: { count: 100, cycle: "monthly" },
    rate_limit: { rpm: 30, burst: 5 }, expires_at: "2031-06-01T00:00:00.000Z",
  });
  const id = out.full.spend_key_id;
  out.page1 = await lava.spendKeys.list({ limit: 1 });
  out.page2 = await lava.spendKeys.list({ limit: 1, cursor: out.page1.next_cursor });
  out.all = await lava.spendKeys.list();
  out.retrieved = await lava.spendKeys.retrieve(id);
  out.updated = await lava.spendKeys.update(id, {
    status: "active", spend_limit: null, allowed_models: null, rate_limit: { rpm: 10 },
  });
  out.badUpdate = await attempt(() => lava.spendKeys.update(id, { request_shape: "google" }));
  out.rotated = await lava.spendKeys.rotate(id);
  out.revoked = await lava.spendKeys.revoke(out.plain.spend_key_id);
  out.gone = await attempt(() => lava.spendKeys.retrieve(out.plain.spend_key_id));
  out.after = await lava.spendKeys.list();
  console.log(JSON.stringify(out));
})().catch((error) => { console.error(error); process.exit(1); });
"""


async def test_the_node_sdk_drives_spend_keys(node_sdk, settings, merchant, db):  # noqa: F811
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

    plain, full = out["plain"], out["full"]
    assert (
        plain["key"].startswith("lava_sk_") and plain["key_preview"] == plain["key"][:16] + "****"
    )
    assert plain["status"] == "active" and plain["wallet_id"] == merchant.merchant_id
    assert full["status"] == "paused" and full["request_shape"] == "anthropic"
    assert full["spend_limit"] == {"amount": "0.0500000000", "cycle": "daily"}
    assert full["request_limit"] == {"count": 100, "cycle": "monthly"}
    assert full["rate_limit"] == {"rpm": 30, "burst": 5}
    assert full["expires_at"] == "2031-06-01T00:00:00.000Z"
    assert out["page1"]["has_more"] is True
    listed = out["page1"]["data"] + out["page2"]["data"]
    assert [k["spend_key_id"] for k in listed] == [full["spend_key_id"], plain["spend_key_id"]]
    assert all("key" not in k for k in out["all"]["data"])
    assert out["retrieved"] == {k: v for k, v in full.items() if k != "key"}

    updated = out["updated"]
    assert updated["status"] == "active" and updated["spend_limit"] is None
    assert updated["allowed_models"] is None and updated["rate_limit"] == {"rpm": 10, "burst": None}
    assert updated["allowed_providers"] == ["anthropic"]  # left out: stays
    assert "400" in out["badUpdate"]["error"]

    rotated = out["rotated"]
    assert rotated["spend_key_id"] == full["spend_key_id"] and rotated["key"] != full["key"]
    assert out["revoked"] == {"success": True}
    assert "404" in out["gone"]["error"]
    assert [k["spend_key_id"] for k in out["after"]["data"]] == [full["spend_key_id"]]

    async with db.read() as session:
        row = await session.get(SpendKey, full["spend_key_id"])
        assert row is not None
        assert row.key_hash == hashlib.sha256(rotated["key"].encode()).hexdigest()
        hashes = (await session.execute(select(SpendKey.key_hash))).scalars().all()
    assert hashlib.sha256(full["key"].encode()).hexdigest() not in hashes
