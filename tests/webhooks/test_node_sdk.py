"""The official Node SDK, `@lavapayments/nodejs@11.2.0` from the npm registry (`.ci/run`
installs it into `.node/`), drives webhooks CRUD against our server over real HTTP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lava_server.app import create_app
from lava_server.testing import serve_in_thread
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / ".node" / "node_modules" / "@lavapayments" / "nodejs"
INSTALL = "npm install --prefix .node @lavapayments/nodejs@11.2.0"

SCRIPT = """
const { Lava } = require(process.env.PACKAGE);
const lava = new Lava(process.env.KEY, { baseUrl: process.env.BASE });
(async () => {
  const out = {};
  out.created = await lava.webhooks.create({ name: "node", url: "https://hooks.example.com/n" });
  const id = out.created.webhook_id;
  out.retrieved = await lava.webhooks.retrieve(id);
  out.updated = await lava.webhooks.update(id, { name: "renamed" });
  out.listed = await lava.webhooks.list({ limit: 5 });
  out.deleted = await lava.webhooks.delete(id);
  try {
    await lava.webhooks.retrieve(id);
  } catch (error) {
    out.error = String(error.message || error);
  }
  try {
    await lava.webhooks.create({ name: "bad", url: "http://hooks.example.com/" });
  } catch (error) {
    out.invalid = String(error.message || error);
  }
  console.log(JSON.stringify(out));
})().catch((error) => { console.error(error); process.exit(1); });
"""


@pytest.fixture
def node_sdk() -> Path:
    if shutil.which("node") is None or not PACKAGE.exists():
        if IN_CI:
            pytest.fail(f"the Node SDK is missing: .ci/run installs it ({INSTALL})")
        pytest.skip(f"the Node SDK is not installed here; to run this test: {INSTALL}")
    return PACKAGE


def test_the_node_sdk_drives_webhooks_crud(node_sdk, settings, merchant):
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
    created = out["created"]
    assert created["webhook_id"].startswith("wh_test_")
    assert created["webhook_secret"].startswith("whsec_test_")
    assert created["name"] == "node" and created["url"] == "https://hooks.example.com/n"
    assert out["retrieved"]["webhook_id"] == created["webhook_id"]
    assert "webhook_secret" not in out["retrieved"]
    assert out["updated"]["name"] == "renamed"
    assert [w["webhook_id"] for w in out["listed"]["data"]] == [created["webhook_id"]]
    assert out["listed"]["has_more"] is False
    assert out["deleted"] == {"id": created["webhook_id"], "deleted": True}
    assert "404" in out["error"] or "No webhook" in out["error"], out["error"]
    assert "https://" in out["invalid"] or "400" in out["invalid"], out["invalid"]
