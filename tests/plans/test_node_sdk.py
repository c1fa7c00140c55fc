"""The official Node SDK, `@lavapayments/nodejs@11.2.0` from the npm registry (`.ci/run`
installs it into `.node/`), drives every method of its `SubscriptionsResource` and
`CreditBundlesResource`, `customers.getSubscription` and `checkoutSessions.create` with the
current API's modes, against our server over real HTTP, on both databases."""

from __future__ import annotations

import json
import os
import subprocess

from lava_server.app import create_app
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
  out.meter = await lava.meters.create({
    name: "Chat", rate_type: "fixed", tier_type: "requests", tiers: [{ start: "0", rate: "1" }],
  });
  out.plan = await lava.subscriptions.createPlan({
    name: "Pro", period_amount: "25", billing_interval: "month", included_credit: "20",
    rollover_type: "full", meter_ids: [out.meter.meter_id],
    credit_bundles: [{ name: "Small", cost: "5", credit_amount: "5" }],
    default_auto_top_up_bundle_index: 0,
  });
  out.hobby = await lava.subscriptions.createPlan({
    name: "Hobby", period_amount: "0", billing_interval: "week",
    credit_bundles: [{ name: "Boost", cost: "3", credit_amount: "4" }],
  });
  out.badPlan = await attempt(() => lava.subscriptions.createPlan({
    name: "x", period_amount: "5", billing_interval: "month", included_credit: "6",
  }));
  out.plans = await lava.subscriptions.listPlans({ limit: 2 });
  out.plans2 = await lava.subscriptions.listPlans({ limit: 2, cursor: out.plans.next_cursor });
  out.retrievedPlan = await lava.subscriptions.retrievePlan(out.plan.plan_id);
  const small = out.plan.credit_bundles[0].credit_bundle_id;
  out.updatedPlan = await lava.subscriptions.updatePlan(out.plan.plan_id, {
    name: "Pro+", bundle_rollover_type: "none", meter_ids: [],
    credit_bundles: [
      { credit_bundle_id: small, name: "Small", cost: "6", credit_amount: "6" },
      { name: "Big", cost: "50", credit_amount: "55" },
    ],
  });
  out.immutable = await attempt(() => lava.subscriptions.updatePlan(out.plan.plan_id, {
    period_amount: "30",
  }));
  out.bundles = await lava.creditBundles.list({ plan_id: out.plan.plan_id });
  out.allBundles = await lava.creditBundles.list({ limit: 1 });
  out.bundle = await lava.creditBundles.retrieve(small);

  out.customer = await lava.customers.create({
    reference_id: "node-plans", phone: "+14155550177", name: "Node User",
  });
  const id = out.customer.customer_id;
  out.none = await lava.customers.getSubscription(id);
  out.paidRefused = await attempt(() => lava.subscriptions.create({
    customer_id: id, plan_id: out.plan.plan_id,
  }));
  out.created = await lava.subscriptions.create({ customer_id: id, plan_id: out.hobby.plan_id });
  const sid = out.created.subscription.subscription_id;
  const boost = out.hobby.credit_bundles[0].credit_bundle_id;
  out.updated = await lava.subscriptions.update(sid, { auto_top_up_bundle_id: boost });
  out.wrongBundle = await attempt(() => lava.subscriptions.update(sid, {
    auto_top_up_bundle_id: small,
  }));
  out.listed = await lava.subscriptions.list({ status: "active", customer_id: "node-plans" });
  out.withTopUp = await lava.customers.getSubscription("node-plans");

  out.subscriptionCheckout = await lava.checkoutSessions.create({
    checkout_mode: "subscription", origin_url: "https://shop.example",
    customer_id: id, plan_id: out.plan.plan_id,
  });
  out.newCustomerCheckout = await lava.checkoutSessions.create({
    checkout_mode: "subscription", origin_url: "https://shop.example", plan_id: out.plan.plan_id,
  });
  out.bundleCheckout = await lava.checkoutSessions.create({
    checkout_mode: "credit_bundle", origin_url: "https://shop.example",
    customer_id: id, credit_bundle_id: boost,
  });
  out.badCheckout = await attempt(() => lava.checkoutSessions.create({
    checkout_mode: "credit_bundle", origin_url: "https://shop.example",
    customer_id: id, credit_bundle_id: small,
  }));

  out.cancelled = await lava.subscriptions.cancel(sid);
  out.pending = await lava.customers.getSubscription(id);
  out.all = await lava.subscriptions.list({ status: "all" });
  out.cancelledList = await lava.subscriptions.list({ status: "cancelled" });
  out.deleted = await lava.subscriptions.deletePlan(out.plan.plan_id);
  out.gone = await attempt(() => lava.subscriptions.retrievePlan(out.plan.plan_id));
  console.log(JSON.stringify(out));
})().catch((error) => { console.error(error); process.exit(1); });
"""


def test_the_node_sdk_drives_plans_bundles_and_subscriptions(
    node_sdk,  # noqa: F811
    settings,
    merchant,
):
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

    plan, hobby, meter = out["plan"], out["hobby"], out["meter"]
    assert plan["plan_id"].startswith("sc_test_")
    assert (plan["period_amount"], plan["included_credit"]) == ("25.0000000000", "20.0000000000")
    assert (plan["rollover_type"], plan["bundle_rollover_type"]) == ("full", "full")
    assert plan["linked_meters"] == [{"meter_id": meter["meter_id"], "name": "Chat"}]
    small = plan["credit_bundles"][0]
    assert plan["default_auto_top_up_bundle_id"] == small["credit_bundle_id"]
    assert hobby["billing_interval"] == "week" and hobby["included_credit"] == "0.0000000000"
    assert "400" in out["badPlan"]["error"]
    listed = out["plans"]["data"] + out["plans2"]["data"]
    # The Free plan is made the first time plans are listed: the newest then.
    assert [p["name"] for p in listed] == ["Free", "Hobby", "Pro"]
    assert out["retrievedPlan"] == plan
    updated = out["updatedPlan"]
    assert (updated["name"], updated["bundle_rollover_type"]) == ("Pro+", "none")
    assert updated["linked_meters"] == []
    assert [(b["name"], b["cost"]) for b in updated["credit_bundles"]] == [
        ("Small", "6.0000000000"),
        ("Big", "50.0000000000"),
    ]
    assert "400" in out["immutable"]["error"]
    assert {b["name"] for b in out["bundles"]["data"]} == {"Small", "Big"}
    assert len(out["allBundles"]["data"]) == 1 and out["allBundles"]["has_more"] is True
    assert out["bundle"] == {
        "credit_bundle_id": small["credit_bundle_id"],
        "plan_id": plan["plan_id"],
        "name": "Small",
        "cost": "6.0000000000",
        "credit_amount": "6.0000000000",
        "created_at": out["bundle"]["created_at"],
    }

    customer_id = out["customer"]["customer_id"]
    assert out["none"] == {"subscription": None}
    assert "400" in out["paidRefused"]["error"]
    created = out["created"]["subscription"]
    assert created["plan_id"] == hobby["plan_id"] and created["status"] == "active"
    assert created["plan"]["billing_interval"] == "week"
    assert out["updated"] == {"success": True}
    assert "400" in out["wrongBundle"]["error"]
    [one] = out["listed"]["data"]
    assert one["subscription_id"] == created["subscription_id"]
    assert one["customer_id"] == customer_id
    assert one["customer"]["phone"] == "+14155550177"
    boost = hobby["credit_bundles"][0]["credit_bundle_id"]
    assert out["withTopUp"]["subscription"]["auto_top_up_bundle_id"] == boost

    checkout = out["subscriptionCheckout"]
    assert checkout["checkout_mode"] == "subscription"
    assert checkout["customer_id"] == customer_id and checkout["plan_id"] == plan["plan_id"]
    assert checkout["checkout_session_token"]
    assert out["newCustomerCheckout"]["plan_id"] == plan["plan_id"]
    assert "customer_id" not in out["newCustomerCheckout"]
    bundle_checkout = out["bundleCheckout"]
    assert bundle_checkout["checkout_mode"] == "credit_bundle"
    assert bundle_checkout["credit_bundle_id"] == boost
    assert "400" in out["badCheckout"]["error"]  # not the customer's plan's bundle

    assert out["cancelled"] == {"success": True}
    pending = out["pending"]["subscription"]
    assert pending["status"] == "active"
    assert pending["pending_change"] == {
        "type": "cancellation",
        "effective_at": pending["cycle_end_at"],
    }
    assert [s["subscription_id"] for s in out["all"]["data"]] == [created["subscription_id"]]
    assert out["cancelledList"]["data"] == []
    assert out["deleted"] == {"id": plan["plan_id"], "deleted": True}
    assert "404" in out["gone"]["error"]
