"""Plans and their credit bundles: the list (period amount, interval, included credit,
rollover, linked meters, bundles), create and edit through the services of `/v1/plans`
(`subscriptions.plans` with the API's `PlanCreate` and `PlanUpdate`), each refusal shown by its
field with nothing saved."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from lava_server.dashboard.web import PREFIX, Action, Page, Refused, admin_action, parsed, signed_in
from lava_server.errors import ApiError
from lava_server.ids import id_pattern
from lava_server.products import service as products
from lava_server.subscriptions import plans
from lava_server.subscriptions.current_schemas import PlanCreate, PlanUpdate, RestPlan

router = APIRouter(prefix=PREFIX, include_in_schema=False)
LIST_LIMIT = 20
METERS_SHOWN = 30
MAX_BUNDLES = 20
INTERVALS = ("day", "week", "month", "year")
ROLLOVERS = {"none": "Expires with the period", "full": "Carries over"}
VIEWER = "Your role is viewer: you can see this dashboard but not change it."


@router.get("/{mode}/plans")
async def plan_list(page: Page = Depends(signed_in), cursor: str = "") -> Response:
    after = cursor or None
    if after is not None and not id_pattern("sc", page.livemode).fullmatch(after):
        raise Refused(400, "This page link is not valid: go back to the first page.")
    await plans.ensure_free_plan(page.db, page.caller, page.billing.now())
    items, more = await plans.list_plans(page.db, page.caller, after, LIST_LIMIT)
    return page.render(
        "plans.html",
        plans=items,
        next_url=page.url("plans") + f"?cursor={items[-1]['plan_id']}" if more else None,
        first_url=page.url("plans") if after else None,
    )


def _bundle_rows(form: Mapping[str, str]) -> list[dict[str, str]]:
    try:
        count = min(max(int(form.get("bundle_count", "0")), 0), MAX_BUNDLES * 2)
    except ValueError:
        count = 0
    return [
        {
            "id": form.get(f"bundle-{n}-id", ""),
            "name": form.get(f"bundle-{n}-name", ""),
            "cost": form.get(f"bundle-{n}-cost", ""),
            "credit_amount": form.get(f"bundle-{n}-credit", ""),
            "delete": form.get(f"bundle-{n}-delete", ""),
        }
        for n in range(count)
    ]


def _blank() -> dict[str, Any]:
    return {
        "name": "",
        "period_amount": "",
        "billing_interval": "month",
        "included_credit": "",
        "rollover_type": "none",
        "bundle_rollover_type": "full",
        "default_bundle": "",
        "meter_ids": [],
        "bundles": [],
    }


def _cents(amount: str) -> str:
    """A plan's amount (whole cents, written with 10 places by the API) as a form shows it."""
    return f"{Decimal(amount):.2f}"


def _shown_of(plan: RestPlan) -> dict[str, Any]:
    return {
        "name": plan["name"],
        "period_amount": _cents(plan["period_amount"]),
        "billing_interval": plan["billing_interval"],
        "included_credit": _cents(plan["included_credit"]),
        "rollover_type": plan["rollover_type"],
        "bundle_rollover_type": plan["bundle_rollover_type"],
        "default_bundle": plan["default_auto_top_up_bundle_id"] or "",
        "meter_ids": [m["meter_id"] for m in plan["linked_meters"]],
        "bundles": [
            {
                "id": b["credit_bundle_id"],
                "name": b["name"],
                "cost": _cents(b["cost"]),
                "credit_amount": _cents(b["credit_amount"]),
                "delete": "",
            }
            for b in plan["credit_bundles"]
        ],
    }


def _posted(form: Mapping[str, str]) -> dict[str, Any]:
    shown: dict[str, Any] = {
        key: form.get(key, "").strip()
        for key in (
            "name",
            "period_amount",
            "billing_interval",
            "included_credit",
            "rollover_type",
            "bundle_rollover_type",
            "default_bundle",
        )
    }
    shown["meter_ids"] = [key.removeprefix("meter-") for key in form if key.startswith("meter-")]
    shown["bundles"] = _bundle_rows(form)
    return shown


async def _editor(
    page: Page,
    *,
    shown: Mapping[str, Any],
    plan: RestPlan | None,
    problems: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    meters = await products.list_page(page.db, page.caller, None, METERS_SHOWN)
    return page.render(
        "plan.html",
        status,
        plan=plan,
        shown=shown,
        meters=[(m.id, m.name) for m in meters[:METERS_SHOWN]],
        problems=problems or {},
        intervals=INTERVALS,
        rollovers=ROLLOVERS,
        action=page.url(f"plans/{plan['plan_id']}" if plan is not None else "plans/new"),
        readonly=not page.is_admin,
    )


@router.get("/{mode}/plans/new")
async def new_plan(page: Page = Depends(signed_in)) -> Response:
    if not page.is_admin:
        raise Refused(403, VIEWER)
    return await _editor(page, shown=_blank(), plan=None)


async def _plan(page: Page, plan_id: str) -> RestPlan:
    try:
        return await plans.retrieve_plan(page.db, page.caller, plan_id[:64])
    except ApiError as error:
        raise Refused(error.status, error.message) from None


@router.get("/{mode}/plans/{plan_id}")
async def plan_page(plan_id: str, page: Page = Depends(signed_in)) -> Response:
    plan = await _plan(page, plan_id)
    return await _editor(page, shown=_shown_of(plan), plan=plan)


def _money(text: str) -> str | None:
    return text.strip() or None


def _create_body(shown: Mapping[str, Any]) -> dict[str, Any]:
    bundles = [b for b in shown["bundles"] if any(b[k] for k in ("name", "cost", "credit_amount"))]
    body: dict[str, Any] = {
        "name": shown["name"],
        "period_amount": shown["period_amount"],
        "billing_interval": shown["billing_interval"],
        "rollover_type": shown["rollover_type"],
        "bundle_rollover_type": shown["bundle_rollover_type"],
        "included_credit": _money(shown["included_credit"]),
        "meter_ids": shown["meter_ids"] or None,
        "credit_bundles": [
            {"name": b["name"], "cost": b["cost"], "credit_amount": b["credit_amount"]}
            for b in bundles
        ]
        or None,
    }
    default = shown["default_bundle"]
    if default.isdigit():
        body["default_auto_top_up_bundle_index"] = int(default)
    return body


def _update_body(shown: Mapping[str, Any], plan: RestPlan) -> dict[str, Any]:
    changes: list[dict[str, Any]] = []
    for row in shown["bundles"]:
        given = {"name": row["name"], "cost": row["cost"], "credit_amount": row["credit_amount"]}
        if row["id"]:
            changes.append(
                {**given, "credit_bundle_id": row["id"], "is_deleted": bool(row["delete"])}
            )
        elif any(given.values()):
            changes.append(given)
    body: dict[str, Any] = {
        "name": shown["name"],
        "rollover_type": shown["rollover_type"],
        "bundle_rollover_type": shown["bundle_rollover_type"],
        "included_credit": _money(shown["included_credit"]),
        "meter_ids": shown["meter_ids"],
        "credit_bundles": changes,
    }
    if shown["default_bundle"] != (plan["default_auto_top_up_bundle_id"] or ""):
        body["default_auto_top_up_bundle_id"] = shown["default_bundle"] or None
    return body


async def _submit(act: Action, plan: RestPlan | None) -> Response:
    page, form = act.page, act.form
    shown = _posted(form)
    intent = form.get("intent", "save")
    if intent == "add-bundle":
        if len(shown["bundles"]) < MAX_BUNDLES:
            shown["bundles"].append(
                {"id": "", "name": "", "cost": "", "credit_amount": "", "delete": ""}
            )
        return await _editor(page, shown=shown, plan=plan)
    if intent.startswith("remove-bundle-"):
        index = intent.removeprefix("remove-bundle-")
        rows = shown["bundles"]
        # A stored bundle is deleted by its box (on save), a new row removed at once.
        if index.isdigit() and int(index) < len(rows) and not rows[int(index)]["id"]:
            del rows[int(index)]
        return await _editor(page, shown=shown, plan=plan)
    now = page.billing.now()
    try:
        if plan is None:
            params = parsed(PlanCreate, _create_body(shown))
            made = await plans.create_plan(page.db, page.caller, params, now)
            return page.redirect(f"plans/{made['plan_id']}", f"Plan {made['name']} created.")
        update = parsed(PlanUpdate, _update_body(shown, plan))
        saved = await plans.update_plan(page.db, page.caller, plan["plan_id"], update, now)
        return page.redirect(f"plans/{saved['plan_id']}", f"Plan {saved['name']} saved.")
    except ApiError as error:
        if plan is not None:
            shown = {**shown, "period_amount": _cents(plan["period_amount"])}
            shown["billing_interval"] = plan["billing_interval"]
        return await _editor(
            page,
            shown=shown,
            plan=plan,
            problems={error.param or "form": error.message},
            status=error.status,
        )


@router.post("/{mode}/plans/new")
async def create_plan(act: Action = Depends(admin_action)) -> Response:
    return await _submit(act, None)


@router.post("/{mode}/plans/{plan_id}")
async def edit_plan(plan_id: str, act: Action = Depends(admin_action)) -> Response:
    return await _submit(act, await _plan(act.page, plan_id))
