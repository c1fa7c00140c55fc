"""The Overview page: fees, provider cost, service charge, requests and tokens per day over 7, 30
or 90 days (and the period before, to compare), the top customers, meters and models, and the
balances held in the customers' wallets. Every figure comes from a service the API uses: the
daily series is `GET /v1/usage`'s (`usage.service.retrieve`, from the 15-minute roll-ups)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from lava_server.connections import service as connections
from lava_server.dashboard.web import PREFIX, Page, signed_in, usd
from lava_server.errors import NotFound
from lava_server.products import service as products
from lava_server.requests import service as requests
from lava_server.requests.service import MODEL_SAMPLE
from lava_server.timeutil import utcnow
from lava_server.usage import service as usage

router = APIRouter(prefix=PREFIX, include_in_schema=False)
PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30
# The series of the money chart: (field of GET /v1/usage, label, colour). Colours: a
# colour-blind-safe set (Okabe-Ito) with enough contrast on white.
MONEY_SERIES = (
    ("total_fee_amount", "Fees (revenue)", "#0072B2"),
    ("total_usage_cost", "Provider cost", "#D55E00"),
    ("total_service_charge_amount", "Service charge", "#009E73"),
)


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    previous: str | None
    change: str | None  # "+12%" / "-3%" / None


def _change(now: Decimal, before: Decimal) -> str | None:
    if before == 0:
        return None if now == 0 else "new"
    percent = (now - before) / before * 100
    return f"{percent:+.0f}%"


def _window(days: int, today: datetime) -> tuple[str, str]:
    """The `start` and `end` of `GET /v1/usage` for the `days` days ending today (UTC)."""
    first = today.date() - timedelta(days=days - 1)
    return first.isoformat(), today.date().isoformat()


async def overview_data(page: Page, days: int, compare: bool) -> dict[str, Any]:
    caller = page.caller
    now = utcnow()
    start, end = _window(days, now)
    series = await usage.retrieve(
        page.db,
        caller,
        start=start,
        end=end,
        connection_id=None,
        product_id=None,
        metadata_filters={},
    )
    previous = None
    if compare:
        before_end = now - timedelta(days=days)
        before_start, before_last = _window(days, before_end)
        previous = await usage.retrieve(
            page.db,
            caller,
            start=before_start,
            end=before_last,
            connection_id=None,
            product_id=None,
            metadata_filters={},
        )
    since = datetime.combine(now.date() - timedelta(days=days - 1), time(), timezone.utc)
    until = datetime.combine(now.date() + timedelta(days=1), time(), timezone.utc)
    top_customers = await usage.top(page.db, caller, since, until, by="connection")
    top_meters = await usage.top(page.db, caller, since, until, by="product")
    top_models = await requests.top_models(page.db, caller, since)
    wallets = await connections.wallet_totals(page.db, caller)

    totals = series["totals"]
    figures = []
    for field, label in (
        ("total_fee_amount", "Fees (revenue)"),
        ("total_usage_cost", "Provider cost"),
        ("total_service_charge_amount", "Service charge"),
    ):
        value = Decimal(totals[field])  # type: ignore[literal-required]
        before = None if previous is None else Decimal(previous["totals"][field])  # type: ignore[literal-required]
        figures.append(
            Figure(
                label,
                usd(value),
                None if before is None else usd(before),
                None if before is None else _change(value, before),
            )
        )
    for field, label in (("total_requests", "Requests"), ("total_usage_tokens", "Tokens")):
        count = int(totals[field])  # type: ignore[literal-required]
        before_count = None if previous is None else int(previous["totals"][field])  # type: ignore[literal-required]
        figures.append(
            Figure(
                label,
                f"{count:,}",
                None if before_count is None else f"{before_count:,}",
                None if before_count is None else _change(Decimal(count), Decimal(before_count)),
            )
        )

    dates = [item["date"] for item in series["items"]]
    charts = {
        "money": {
            "title": "Money per day",
            "unit": "USD",
            "x": dates,
            "series": [
                {"name": label, "color": color, "y": [item[field] for item in series["items"]]}  # type: ignore[literal-required]
                for field, label, color in MONEY_SERIES
            ],
        },
        "requests": {
            "title": "Requests per day",
            "unit": "requests",
            "x": dates,
            "series": [
                {
                    "name": "Requests",
                    "color": "#0072B2",
                    "y": [item["total_requests"] for item in series["items"]],
                }
            ],
        },
        "tokens": {
            "title": "Tokens per day",
            "unit": "tokens",
            "x": dates,
            "series": [
                {
                    "name": "Tokens",
                    "color": "#CC79A7",
                    "y": [item["total_usage_tokens"] for item in series["items"]],
                }
            ],
        },
    }
    if previous is not None:
        # The previous period drawn on this period's days, dashed, to compare day by day.
        before_items = previous["items"]
        charts["money"]["series"].append(  # type: ignore[attr-defined]
            {
                "name": "Fees, previous period",
                "color": "#0072B2",
                "dash": "dot",
                "y": [item["total_fee_amount"] for item in before_items],
            }
        )
        charts["requests"]["series"].append(  # type: ignore[attr-defined]
            {
                "name": "Requests, previous period",
                "color": "#0072B2",
                "dash": "dot",
                "y": [item["total_requests"] for item in before_items],
            }
        )
        charts["tokens"]["series"].append(  # type: ignore[attr-defined]
            {
                "name": "Tokens, previous period",
                "color": "#CC79A7",
                "dash": "dot",
                "y": [item["total_usage_tokens"] for item in before_items],
            }
        )

    customers = []
    for row in top_customers:
        try:
            connection, _ = await connections.retrieve(page.db, caller, row.id)
            name = connection.reference_id or connection.email or connection.phone or row.id
        except NotFound:  # deleted since: its usage stays
            name = f"{row.id} (deleted)"
        customers.append({"id": row.id, "name": name, "top": row})
    meters = []
    for row in top_meters:
        try:
            product = await products.retrieve(page.db, caller, row.id)
            name = product.name
        except NotFound:
            name = f"{row.id} (deleted)"
        meters.append({"id": row.id, "name": name, "top": row})
    return {
        "days": days,
        "compare": compare,
        "periods": PERIODS,
        "figures": figures,
        "items": series["items"],
        "charts_json": json.dumps(charts),
        "chart_names": list(charts),
        "charts": charts,
        "top_customers": customers,
        "top_meters": meters,
        "top_models": top_models,
        "model_sample": MODEL_SAMPLE,
        "wallets": wallets,
        "empty": int(totals["total_requests"]) == 0,
        "base_url": page.base_url,
    }


@router.get("/{mode}/")
async def overview(page: Page = Depends(signed_in), days: str = "", compare: str = "") -> Response:
    period = int(days) if days in {str(p) for p in PERIODS} else DEFAULT_PERIOD
    data = await overview_data(page, period, compare == "1")
    return page.render("overview.html", **data)


@router.get("/{mode}")
async def overview_without_slash(page: Page = Depends(signed_in)) -> Response:
    return page.redirect("")
