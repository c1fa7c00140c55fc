"""The Customers pages over HTTP, on SQLite and PostgreSQL: the list (search, pages), a
customer's page, and the admin's actions through the same services as the API, with their
refusals shown on the page; a viewer is refused every action on the server."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest

from tests.dashboard.conftest import signed_in


async def _customer(client, merchant, reference: str, balance: str = "10", **contact) -> str:
    made = await client.post(
        "/v1/test_helpers/connections",
        headers=merchant.headers,
        json={"balance": balance, "reference_id": reference, **contact},
    )
    assert made.status_code == 201, made.text
    return made.json()["connection_id"]


async def _available(client, merchant, customer_id: str) -> Decimal:
    found = await client.get(f"/v1/connections/{customer_id}", headers=merchant.headers)
    assert found.status_code == 200
    return Decimal(found.json()["wallet"]["balance"])


async def test_the_list_searches_and_pages_with_the_api_cursors(client, merchant, admin):
    ids = [
        await _customer(client, merchant, f"user-{n}", email=f"u{n}@example.com") for n in range(23)
    ]
    await _customer(client, merchant, "phoned", phone="+15551234567")
    await signed_in(client, admin)
    first = await client.get("/dashboard/test/customers")
    assert first.status_code == 200
    assert "phoned" in first.text
    assert "user-22" in first.text
    assert "user-3<" not in first.text  # 24 customers, 20 a page, newest first
    assert f"?cursor={ids[4]}" in first.text
    second = await client.get(f"/dashboard/test/customers?cursor={ids[4]}")
    assert "user-3<" in second.text and "user-0<" in second.text
    assert "user-22" not in second.text
    assert (await client.get("/dashboard/test/customers?cursor=nonsense")).status_code == 400
    by_email = await client.get("/dashboard/test/customers?q=U7@Example.com")
    assert "user-7<" in by_email.text and "user-8<" not in by_email.text
    by_phone = await client.get("/dashboard/test/customers?q=%2B15551234567")
    assert "phoned" in by_phone.text and "user-1<" not in by_phone.text
    by_reference = await client.get("/dashboard/test/customers?q=user-12")
    assert "user-12<" in by_reference.text and "user-1<" not in by_reference.text
    nothing = await client.get("/dashboard/test/customers?q=nobody")
    assert "No customer matches" in nothing.text
    live = await client.get("/dashboard/live/customers")  # the other mode's data only
    assert "user-1" not in live.text
    assert "No customers yet" in live.text


async def test_a_customer_page_and_granting_credit(client, merchant, admin):
    customer = await _customer(client, merchant, "ada", email="ada@example.com")
    csrf = await signed_in(client, admin)
    page = await client.get(f"/dashboard/test/customers/{customer}")
    assert page.status_code == 200
    assert "ada@example.com" in page.text
    assert "Grant credit" in page.text
    granted = await client.post(
        f"/dashboard/test/customers/{customer}/grant",
        data={"csrf_token": csrf, "amount": "2.50", "reason": "sorry", "expires_at": ""},
    )
    assert granted.status_code == 303
    assert await _available(client, merchant, customer) == Decimal("12.5")
    after = await client.get(granted.headers["location"])
    assert "Credit granted." in after.text
    assert "grant" in after.text  # the ledger entry
    # The same refusal as the API's, shown by the form; nothing moves.
    bad = await client.post(
        f"/dashboard/test/customers/{customer}/grant",
        data={"csrf_token": csrf, "amount": "-1", "reason": "oops"},
    )
    api = await client.post(
        f"/v1/customers/{customer}/credits",
        headers=merchant.headers,
        json={"amount": "-1", "reason": "oops"},
    )
    assert bad.status_code == api.status_code == 400
    assert html.escape(api.json()["error"]["message"], quote=False) in bad.text
    assert 'id="grant-error"' in bad.text
    assert await _available(client, merchant, customer) == Decimal("12.5")


async def test_adjusting_past_zero_is_refused_on_the_page(client, merchant, admin):
    customer = await _customer(client, merchant, "bob", balance="3")
    csrf = await signed_in(client, admin)
    refused = await client.post(
        f"/dashboard/test/customers/{customer}/adjust",
        data={"csrf_token": csrf, "amount": "-5", "reason": "too much"},
    )
    assert refused.status_code == 402
    assert 'id="adjust-error"' in refused.text
    assert await _available(client, merchant, customer) == Decimal("3")
    done = await client.post(
        f"/dashboard/test/customers/{customer}/adjust",
        data={"csrf_token": csrf, "amount": "-1.25", "reason": "correction"},
    )
    assert done.status_code == 303
    assert await _available(client, merchant, customer) == Decimal("1.75")


async def test_deleting_a_customer(client, merchant, admin):
    customer = await _customer(client, merchant, "cy")
    csrf = await signed_in(client, admin)
    gone = await client.post(
        f"/dashboard/test/customers/{customer}/delete", data={"csrf_token": csrf}
    )
    assert gone.status_code == 303
    assert gone.headers["location"].startswith("/dashboard/test/customers?notice=")
    assert (
        await client.get(f"/v1/customers/{customer}", headers=merchant.headers)
    ).status_code == 404
    assert (await client.get(f"/dashboard/test/customers/{customer}")).status_code == 404


@pytest.mark.parametrize("action", ["grant", "adjust", "delete", "refund", "cancel-subscription"])
async def test_a_viewer_is_refused_every_action_on_the_server(client, merchant, viewer, action):
    customer = await _customer(client, merchant, "dan")
    csrf = await signed_in(client, viewer)
    page = await client.get(f"/dashboard/test/customers/{customer}")
    assert page.status_code == 200
    assert "Grant credit" not in page.text  # no write control shown
    forged = await client.post(
        f"/dashboard/test/customers/{customer}/{action}",
        data={"csrf_token": csrf, "amount": "5", "reason": "forged", "payment_id": "pay_x"},
    )
    assert forged.status_code == 403
    assert "viewer" in forged.text
    assert await _available(client, merchant, customer) == Decimal("10")
    assert (
        await client.get(f"/v1/customers/{customer}", headers=merchant.headers)
    ).status_code == 200


async def test_an_action_without_the_csrf_token_is_refused_and_changes_nothing(
    client, merchant, admin
):
    customer = await _customer(client, merchant, "eve")
    await signed_in(client, admin)
    forged = await client.post(
        f"/dashboard/test/customers/{customer}/grant",
        data={"amount": "5", "reason": "forged"},
    )
    assert forged.status_code == 403
    assert await _available(client, merchant, customer) == Decimal("10")
    as_json = await client.post(
        f"/dashboard/test/customers/{customer}/grant", json={"amount": "5", "reason": "forged"}
    )
    assert as_json.status_code == 415
    assert await _available(client, merchant, customer) == Decimal("10")


async def test_actions_are_of_the_page_mode(client, merchant, admin):
    customer = await _customer(client, merchant, "fay")
    csrf = await signed_in(client, admin)
    other_mode = await client.post(
        f"/dashboard/live/customers/{customer}/grant",
        data={"csrf_token": csrf, "amount": "1", "reason": "wrong mode"},
    )
    assert other_mode.status_code == 404
    assert await _available(client, merchant, customer) == Decimal("10")


async def test_refunding_a_payment_from_the_customer_page(client, merchant, admin):
    from tests.money_ops.helpers import money, onboarded

    customer, payment_id = await onboarded(client, merchant.headers, amount="25")
    csrf = await signed_in(client, admin)
    page = await client.get(f"/dashboard/test/customers/{customer}")
    assert payment_id in page.text
    too_much = await client.post(
        f"/dashboard/test/customers/{customer}/refund",
        data={"csrf_token": csrf, "payment_id": payment_id, "amount": "30", "idempotency_key": "a"},
    )
    assert too_much.status_code == 400
    assert 'id="refund-error"' in too_much.text
    assert await money(client, merchant.headers, customer) == Decimal(25)
    done = await client.post(
        f"/dashboard/test/customers/{customer}/refund",
        data={"csrf_token": csrf, "payment_id": payment_id, "amount": "10", "idempotency_key": "b"},
    )
    assert done.status_code == 303, done.text
    assert await money(client, merchant.headers, customer) == Decimal(15)
    # The same form sent twice (a double click) refunds once.
    again = await client.post(
        f"/dashboard/test/customers/{customer}/refund",
        data={"csrf_token": csrf, "payment_id": payment_id, "amount": "10", "idempotency_key": "b"},
    )
    assert again.status_code == 303
    assert await money(client, merchant.headers, customer) == Decimal(15)
    payment = (await client.get(f"/v1/payments/{payment_id}", headers=merchant.headers)).json()
    assert payment["amount_refunded"] == "10.0000000000"
    # Another customer's page cannot refund this payment.
    other = await _customer(client, merchant, "other")
    wrong = await client.post(
        f"/dashboard/test/customers/{other}/refund",
        data={"csrf_token": csrf, "payment_id": payment_id, "idempotency_key": "c"},
    )
    assert wrong.status_code == 400
    assert "is not this customer" in wrong.text
    assert await money(client, merchant.headers, customer) == Decimal(15)


async def test_cancelling_a_subscription_from_the_customer_page(client, merchant, admin):
    from tests.plans.test_plans import free_plan

    customer = await _customer(client, merchant, "sub-1")
    free = await free_plan(client, merchant.headers)
    made = await client.post(
        "/v1/subscriptions",
        json={"customer_id": customer, "plan_id": free["plan_id"]},
        headers=merchant.headers,
    )
    assert made.status_code in (200, 201), made.text
    subscription_id = made.json()["subscription"]["subscription_id"]
    csrf = await signed_in(client, admin)
    page = await client.get(f"/dashboard/test/customers/{customer}")
    assert "Cancel the subscription" in page.text
    listed = await client.get("/dashboard/test/customers")
    assert "Free" in listed.text  # the plan in the list
    wrong = await client.post(
        f"/dashboard/test/customers/{customer}/cancel-subscription",
        data={"csrf_token": csrf, "subscription_id": "as_test_nope"},
    )
    assert wrong.status_code == 400
    done = await client.post(
        f"/dashboard/test/customers/{customer}/cancel-subscription",
        data={"csrf_token": csrf, "subscription_id": subscription_id},
    )
    assert done.status_code == 303, done.text
    running = (
        await client.get(f"/v1/customers/{customer}/subscription", headers=merchant.headers)
    ).json()["subscription"]
    assert running["pending_change"]["type"] == "cancellation"
    after = await client.get(done.headers["location"])
    assert "Cancels at the end of its cycle" in after.text
    assert "Cancel the subscription" not in after.text
