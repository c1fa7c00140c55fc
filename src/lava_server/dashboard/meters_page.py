"""The Meters page (products): the list with tiers, rate type and payers; a meter's page; create
and edit with a tier editor, through the services of `/v1/products` (same body model, same
pricing rules, same messages, each shown by its field); and a price preview, "this request
would cost ...", computed by the pricing engine (`pricing.price_request`) from the meter's
pricing as `products.check_pricing` reads it: no second copy of a rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from lava_server.dashboard.web import (
    PREFIX,
    Action,
    Page,
    Refused,
    admin_action,
    parsed,
    signed_in,
    templates,
)
from lava_server.db.models import Product
from lava_server.errors import ApiError, InvalidRequest
from lava_server.ids import id_pattern
from lava_server.pricing import (
    MAX_COUNT,
    PricedRequest,
    PricingError,
    TierType,
    Usage,
    format_money,
    price_request,
)
from lava_server.products import service as products
from lava_server.products.schemas import ProductCreate, ProductUpdate

router = APIRouter(prefix=PREFIX, include_in_schema=False)
templates.filters["money"] = format_money  # an amount as the API writes it (10 places)
LIST_LIMIT = 20
MAX_TIERS = 100
TIER_TYPES = {
    "tokens_1m": ("Tokens", "$ per 1M tokens", "tokens"),
    "characters_1m": ("Characters", "$ per 1M characters", "characters"),
    "minutes": ("Minutes", "$ per minute", "seconds"),
    "requests": ("Requests", "$ per request", "requests"),
}
CHOICES = {
    "rate_type": ("fixed", "percentage"),
    "token_basis": ("input+output", "output"),
    "base_cost_payer": ("wallet", "merchant"),
    "service_charge_payer": ("wallet", "merchant"),
    "overdraft": ("block", "allow"),
}
SAMPLE_DEFAULTS = {"input": "1000", "output": "500", "prior": "0", "provider_cost": "0.01"}


@dataclass
class Preview:
    """A sample request and what the pricing engine says it costs (or why it cannot)."""

    sample: dict[str, str]
    priced: PricedRequest | None = None
    problem: str | None = None
    problem_field: str | None = None


def _count(sample: Mapping[str, str], name: str) -> int:
    text = sample.get(name, "").strip().replace(",", "").replace("_", "")
    if not text.isdigit() or int(text) > MAX_COUNT:
        raise InvalidRequest(f"must be a whole number from 0 to {MAX_COUNT:,}.", param=name)
    return int(text)


def preview(page: Page, product: Product, sample: Mapping[str, str]) -> Preview:
    """Price a sample request with `product`'s pricing, as a report would be priced."""
    shown = {key: sample.get(key) or default for key, default in SAMPLE_DEFAULTS.items()}
    found = Preview(shown)
    try:
        config = products.check_pricing(product)
        inputs, outputs, prior = (_count(shown, n) for n in ("input", "output", "prior"))
        try:
            cost = Decimal(shown["provider_cost"].strip() or "0")
        except InvalidOperation:
            cost = Decimal(-1)
        if not cost.is_finite() or cost < 0:
            raise InvalidRequest("must be a decimal >= 0, in USD.", param="provider_cost")
        kind = config.tier_type
        if kind is TierType.TOKENS_1M:
            usage = Usage(input_tokens=inputs, output_tokens=outputs)
        elif kind is TierType.CHARACTERS_1M:
            usage = Usage(input_characters=inputs, output_characters=outputs)
        elif kind is TierType.MINUTES:
            usage = Usage(input_seconds=inputs, output_seconds=outputs)
        else:
            usage = Usage()  # a request is one unit
        found.priced = price_request(
            config,
            usage,
            prior_units=prior,
            service_charge_rate=page.settings.service_charge_rate,
            input_cost=cost,
        )
    except ApiError as error:
        found.problem, found.problem_field = error.message, error.param
    except PricingError as error:
        found.problem, found.problem_field = f"{error.field} {error.message}.", None
    return found


def _tier_rows(form: Mapping[str, str]) -> list[dict[str, str]]:
    try:
        count = min(max(int(form.get("tier_count", "1")), 0), MAX_TIERS)
    except ValueError:
        count = 1
    return [
        {"start": form.get(f"tier-{n}-start", ""), "rate": form.get(f"tier-{n}-rate", "")}
        for n in range(count)
    ]


def _form_of(product: Product) -> dict[str, Any]:
    """A stored meter as the form shows it."""
    tier_type = product.tiers[0]["type"] if product.tiers else "tokens_1m"
    return {
        "name": product.name,
        "meter_slug": product.meter_slug,
        "rate_type": product.rate_type,
        "token_basis": product.token_basis,
        "tier_type": tier_type,
        "base_cost_payer": product.base_cost_payer,
        "service_charge_payer": product.service_charge_payer,
        "overdraft": product.overdraft,
        "tiers": [{"start": str(t["start"]), "rate": str(t["rate"])} for t in product.tiers],
    }


def _blank_form() -> dict[str, Any]:
    return {
        "name": "",
        "meter_slug": "",
        "rate_type": "fixed",
        "token_basis": "input+output",
        "tier_type": "tokens_1m",
        "base_cost_payer": "wallet",
        "service_charge_payer": "wallet",
        "overdraft": "block",
        "tiers": [{"start": "0", "rate": ""}],
    }


def _posted_form(form: Mapping[str, str]) -> dict[str, Any]:
    shown: dict[str, Any] = {key: form.get(key, "").strip() for key in _blank_form()}
    shown["tiers"] = _tier_rows(form)
    return shown


def _start(text: str) -> Any:
    text = text.strip().replace(",", "").replace("_", "")
    return int(text) if text.isdigit() else text  # not digits: the model says why


def _body(shown: Mapping[str, Any]) -> dict[str, Any]:
    """The API's body (`ProductCreate`) from the form."""
    body: dict[str, Any] = {
        key: shown[key] for key in ("name", *CHOICES) if shown.get(key) is not None
    }
    body["meter_slug"] = shown["meter_slug"] or None
    body["tiers"] = [
        {"start": _start(t["start"]), "rate": t["rate"].strip(), "type": shown["tier_type"]}
        for t in shown["tiers"]
    ]
    return body


def _unsaved(params: ProductCreate) -> Product:
    """The product these params make, not stored: what the preview prices."""
    return Product(
        name=params.name,
        rate_type=params.rate_type,
        token_basis=params.token_basis,
        tiers=[{"start": t.start, "rate": f"{t.rate:f}", "type": t.type} for t in params.tiers],
        base_cost_payer=params.base_cost_payer,
        service_charge_payer=params.service_charge_payer,
    )


def _meter_facts(product: Product) -> dict[str, Any]:
    rendered = products.render(product)
    kind = rendered["tiers"][0]["type"] if rendered["tiers"] else "tokens_1m"
    return {**rendered, "tier_label": TIER_TYPES.get(kind, (kind, kind, kind))}


@router.get("/{mode}/meters")
async def meter_list(page: Page = Depends(signed_in), cursor: str = "") -> Response:
    after = cursor or None
    if after is not None and not id_pattern("prd", page.livemode).fullmatch(after):
        raise Refused(400, "This page link is not valid: go back to the first page.")
    rows = await products.list_page(page.db, page.caller, after, LIST_LIMIT)
    shown = rows[:LIST_LIMIT]
    return page.render(
        "meters.html",
        meters=[_meter_facts(p) for p in shown],
        next_url=page.url("meters") + f"?cursor={shown[-1].id}" if len(rows) > LIST_LIMIT else None,
        first_url=page.url("meters") if after else None,
        tier_types=TIER_TYPES,
    )


def _editor(
    page: Page,
    *,
    shown: Mapping[str, Any],
    meter: Product | None,
    problems: Mapping[str, str] | None = None,
    found: Preview | None = None,
    status: int = 200,
) -> Response:
    return page.render(
        "meter.html",
        status,
        meter=_meter_facts(meter) if meter is not None else None,
        shown=shown,
        problems=problems or {},
        preview=found,
        tier_types=TIER_TYPES,
        choices=CHOICES,
        action=page.url(f"meters/{meter.id}" if meter is not None else "meters/new"),
        readonly=meter is not None and not page.is_admin,
        service_percent=f"{(page.settings.service_charge_rate * 100).normalize():f}",
    )


@router.get("/{mode}/meters/new")
async def new_meter(page: Page = Depends(signed_in)) -> Response:
    if not page.is_admin:
        raise Refused(403, "Your role is viewer: you can see this dashboard but not change it.")
    return _editor(page, shown=_blank_form(), meter=None)


async def _meter(page: Page, meter_id: str) -> Product:
    try:
        return await products.retrieve(page.db, page.caller, meter_id[:64], param="meter_id")
    except ApiError as error:
        raise Refused(error.status, error.message) from None


@router.get("/{mode}/meters/{meter_id}")
async def meter_page(
    meter_id: str,
    page: Page = Depends(signed_in),
    input: str = "",
    output: str = "",
    prior: str = "",
    provider_cost: str = "",
) -> Response:
    meter = await _meter(page, meter_id)
    sample = {"input": input, "output": output, "prior": prior, "provider_cost": provider_cost}
    asked = {k: v for k, v in sample.items() if v}
    return _editor(page, shown=_form_of(meter), meter=meter, found=preview(page, meter, asked))


async def _submit(act: Action, meter: Product | None) -> Response:
    """The editor's buttons: add or remove a tier row, preview, or save (the default)."""
    page, form = act.page, act.form
    shown = _posted_form(form)
    intent = form.get("intent", "save")
    sample = {key: form.get(f"sample_{key}", "") for key in SAMPLE_DEFAULTS}
    if intent == "add-tier":
        if len(shown["tiers"]) < MAX_TIERS:
            shown["tiers"].append({"start": "", "rate": ""})
        return _editor(page, shown=shown, meter=meter, found=Preview(_sample_shown(sample)))
    if intent.startswith("remove-tier-"):
        index = intent.removeprefix("remove-tier-")
        if index.isdigit() and int(index) < len(shown["tiers"]) and len(shown["tiers"]) > 1:
            del shown["tiers"][int(index)]
        return _editor(page, shown=shown, meter=meter, found=Preview(_sample_shown(sample)))
    body = _body(shown)
    try:
        params: ProductCreate = parsed(ProductCreate, body)
        if intent == "preview":
            found = preview(page, _unsaved(params), sample)
            return _editor(page, shown=shown, meter=meter, found=found)
        if meter is None:
            saved = await products.create(page.db, page.caller, params)
            return page.redirect(f"meters/{saved.id}", f"Meter {saved.name} created.")
        update = parsed(ProductUpdate, body)
        saved = await products.update(page.db, page.caller, meter.id, update, param="meter_id")
        return page.redirect(f"meters/{saved.id}", f"Meter {saved.name} saved.")
    except ApiError as error:
        problems = {error.param or "form": error.message}
        return _editor(
            page,
            shown=shown,
            meter=meter,
            problems=problems,
            found=Preview(_sample_shown(sample)),
            status=error.status,
        )


def _sample_shown(sample: Mapping[str, str]) -> dict[str, str]:
    return {key: sample.get(key) or default for key, default in SAMPLE_DEFAULTS.items()}


@router.post("/{mode}/meters/new")
async def create_meter(act: Action = Depends(admin_action)) -> Response:
    return await _submit(act, None)


@router.post("/{mode}/meters/{meter_id}")
async def edit_meter(meter_id: str, act: Action = Depends(admin_action)) -> Response:
    return await _submit(act, await _meter(act.page, meter_id))
