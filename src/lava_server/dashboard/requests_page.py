"""The Requests page: the API's list of requests (`GET /v1/requests`: the same service, filters
and cursors) with each request's price breakdown, filtered by customer, meter, model, status and
one metadata pair, and the filtered list as CSV (every page of it, streamed)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from fastapi.responses import Response, StreamingResponse

from lava_server.connections import service as connections
from lava_server.dashboard.web import PREFIX, Page, Refused, signed_in
from lava_server.errors import ApiError, InvalidRequest
from lava_server.metadata import parse_metadata_filters
from lava_server.products import service as products
from lava_server.requests import service as requests
from lava_server.requests.schemas import RequestStatus, RestRequest

router = APIRouter(prefix=PREFIX, include_in_schema=False)
LIMIT = 25
CSV_PAGE = 500
METERS_SHOWN = 100
STATUSES: tuple[str, ...] = get_args(RequestStatus)
CSV_COLUMNS = (
    "request_id",
    "created_at",
    "status",
    "customer_id",
    "meter_id",
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "input_characters",
    "output_characters",
    "input_seconds",
    "output_seconds",
    "provider_cost",
    "provider_cost_payer",
    "fee",
    "rate_type",
    "service_charge",
    "service_charge_payer",
    "total_request_cost",
    "total_wallet_cost",
    "total_merchant_cost",
    "metadata",
)


@dataclass
class Filters:
    """The page's filters as typed (`given`) and as the service takes them."""

    given: dict[str, str]
    connection_id: str | None = None
    product_id: str | None = None
    model: str | None = None
    status: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def query(self, **more: str) -> str:
        pairs = {k: v for k, v in self.given.items() if v}
        pairs.update(more)
        return ("?" + urlencode(pairs)) if pairs else ""


async def _filters(page: Page, given: dict[str, str]) -> Filters:
    """The filters, checked as the API checks its own; a bad one is a 400 naming its field."""
    found = Filters(given)
    customer = given["customer"]
    if customer:
        found.connection_id = await connections.connection_id_of(page.db, page.caller, customer)
    found.product_id = given["meter"] or None
    found.model = given["model"] or None
    status = given["status"]
    if status:
        if status not in STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}.", param="status")
        found.status = status
    pair = given["metadata"]
    if pair:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip() or not value:
            raise InvalidRequest("metadata must be key=value, e.g. user_id=123.", param="metadata")
        try:
            found.metadata = parse_metadata_filters(json.dumps([[key.strip(), value]]))
        except InvalidRequest as error:
            raise InvalidRequest(error.message, param="metadata") from None
    return found


def _given(customer: str, meter: str, model: str, status: str, metadata: str) -> dict[str, str]:
    return {
        "customer": customer.strip()[:255],
        "meter": meter.strip()[:64],
        "model": model.strip()[:255],
        "status": status.strip()[:16],
        "metadata": metadata.strip()[:520],
    }


async def _page(page: Page, filters: Filters, cursor: str | None, limit: int) -> list[Any]:
    return list(
        await requests.list_page(
            page.db,
            page.caller,
            cursor=cursor,
            limit=limit,
            connection_id=filters.connection_id,
            product_id=filters.product_id,
            metadata_filters=filters.metadata,
            model=filters.model,
            status=filters.status,
        )
    )


@router.get("/{mode}/requests")
async def request_list(
    page: Page = Depends(signed_in),
    customer: str = "",
    meter: str = "",
    model: str = "",
    status: str = "",
    metadata: str = "",
    cursor: str = "",
) -> Response:
    given = _given(customer, meter, model, status, metadata)
    meters = await products.list_page(page.db, page.caller, None, METERS_SHOWN)
    context: dict[str, Any] = {
        "given": given,
        "meters": [(m.id, m.name) for m in meters[:METERS_SHOWN]],
        "statuses": STATUSES,
        "problem": None,
        "items": [],
        "next_url": None,
        "first_url": None,
        "csv_url": None,
        "filtered": any(given.values()),
    }
    try:
        filters = await _filters(page, given)
        rows = await _page(page, filters, cursor[:255] or None, LIMIT)
    except ApiError as error:
        context["problem"] = {"field": error.param or "", "message": error.message}
        return page.render("requests.html", error.status, **context)
    shown = rows[:LIMIT]
    here = page.url("requests")
    context["items"] = [requests.render(row) for row in shown]
    context["csv_url"] = page.url("requests.csv") + filters.query()
    if len(rows) > LIMIT:
        context["next_url"] = here + filters.query(cursor=shown[-1].request_id)
    if cursor:
        context["first_url"] = here + filters.query()
    return page.render("requests.html", **context)


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str) -> str:
    """Text a merchant's own customers may have chosen (request ids, models, metadata), kept
    from being read as a formula by a spreadsheet: one starting with = + - @ gets a leading
    apostrophe (OWASP's advice for CSV injection). Amounts and counts are never touched."""
    return "'" + value if value.startswith(_FORMULA) else value


def csv_row(item: RestRequest) -> list[str]:
    """One request as a CSV row (`CSV_COLUMNS`): money as the API's exact decimal strings."""
    usage = item["model_usage"]
    return [
        text_cell(item["request_id"]),
        item["created_at"],
        item["status"],
        item.get("customer_id", ""),
        item.get("meter_id", ""),
        text_cell(item["provider"]),
        text_cell(item.get("model", "")),
        str(usage["input_tokens"]),
        str(usage["output_tokens"]),
        str(usage["input_characters"]),
        str(usage["output_characters"]),
        str(usage["input_seconds"]),
        str(usage["output_seconds"]),
        usage["total_cost"],
        usage["payer"],
        item["fee"]["amount"],
        item["fee"]["rate_type"],
        item["service_charge"]["amount"],
        item["service_charge"]["payer"],
        item["total_request_cost"],
        item["total_wallet_cost"],
        item["total_merchant_cost"],
        text_cell(json.dumps(item["metadata"], sort_keys=True, separators=(",", ":")))
        if item["metadata"]
        else "",
    ]


def _csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(rows)
    return out.getvalue()


@router.get("/{mode}/requests.csv")
async def request_csv(
    page: Page = Depends(signed_in),
    customer: str = "",
    meter: str = "",
    model: str = "",
    status: str = "",
    metadata: str = "",
) -> Response:
    """Every request the filters match, newest first, read a page at a time with the API's
    cursors and streamed: memory stays flat whatever the number of rows."""
    try:
        filters = await _filters(page, _given(customer, meter, model, status, metadata))
        first = await _page(page, filters, None, CSV_PAGE)
    except ApiError as error:
        raise Refused(error.status, error.message) from None

    async def body() -> AsyncIterator[str]:
        yield _csv_text([list(CSV_COLUMNS)])
        rows = first
        while True:
            shown = rows[:CSV_PAGE]
            yield _csv_text([csv_row(requests.render(row)) for row in shown])
            if len(rows) <= CSV_PAGE:
                return
            rows = await _page(page, filters, shown[-1].request_id, CSV_PAGE)

    name = f"requests-{page.mode}.csv"
    headers: Mapping[str, str] = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers=headers)
