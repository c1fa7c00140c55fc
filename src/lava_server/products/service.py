from __future__ import annotations

import re
from collections.abc import Sequence
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.api.auth import Caller
from lava_server.db.engine import Database
from lava_server.db.models import Product
from lava_server.errors import Conflict, InvalidRequest, NotFound
from lava_server.ids import new_id, new_secret
from lava_server.pricing import PricingConfig, PricingConfigError, parse_pricing_config
from lava_server.products import repository
from lava_server.products.schemas import (
    MeterCreate,
    MeterTier,
    MeterUpdate,
    Overdraft,
    Payer,
    ProductCreate,
    ProductUpdate,
    RateType,
    RestMeter,
    RestProduct,
    Tier,
    TierIn,
    TierType,
    TokenBasis,
    meter_tiers,
    tiers_to_json,
)
from lava_server.timeutil import iso, utcnow

MAX_SLUG = 64


def check_pricing(product: Product) -> PricingConfig:
    """The product's pricing, or a 400 naming the first field that breaks a pricing rule."""
    try:
        return parse_pricing_config(
            {
                "rate_type": product.rate_type,
                "token_basis": product.token_basis,
                "tiers": product.tiers,
                "base_cost_payer": product.base_cost_payer,
                "service_charge_payer": product.service_charge_payer,
            }
        )
    except PricingConfigError as error:
        raise InvalidRequest(f"{error.field} {error.message}.", param=error.field) from None


def render(product: Product) -> RestProduct:
    return {
        "product_id": product.id,
        "product_secret": product.secret,
        "name": product.name,
        "rate_type": cast(RateType, product.rate_type),
        "token_basis": cast(TokenBasis, product.token_basis),
        "tiers": cast(list[Tier], product.tiers),
        "base_cost_payer": cast(Payer, product.base_cost_payer),
        "service_charge_payer": cast(Payer, product.service_charge_payer),
        "overdraft": cast(Overdraft, product.overdraft),
        "created_at": iso(product.created_at),
        "updated_at": iso(product.updated_at),
        "meter_slug": product.meter_slug,
    }


def slug_of(name: str) -> str:
    """The slug a name gives: lower case, runs of other characters as `-` (at most 64)."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:MAX_SLUG].strip("-")
    return base or "meter"


async def _take_slug(
    session: AsyncSession, caller: Caller, wanted: str | None, name: str, product_id: str | None
) -> str:
    """`wanted` if free (else 409), or the first free one of `slug`, `slug-2`, ... from the
    name. The merchant is locked until the transaction ends."""
    await repository.lock_merchant(session, caller.merchant_id)
    base = wanted or slug_of(name)
    taken = await repository.slugs_taken(session, caller.merchant_id, caller.livemode, base)
    if product_id is not None:
        current = await repository.get(session, caller.merchant_id, caller.livemode, product_id)
        if current is not None:
            taken.discard(current.meter_slug)
    if wanted is not None:
        if wanted in taken:
            raise Conflict(f"meter_slug {wanted} is another meter's.", param="meter_slug")
        return wanted
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base[: MAX_SLUG - len(str(n)) - 1]}-{n}"
    return slug


async def create(
    db: Database, caller: Caller, params: ProductCreate, *, tiers: list[TierIn] | None = None
) -> Product:
    """A product (a meter: `tiers` in the current API's form instead of `params.tiers`)."""
    now = utcnow()
    product = Product(
        id=new_id("prd", caller.livemode),
        merchant_id=caller.merchant_id,
        livemode=caller.livemode,
        name=params.name,
        secret=new_secret("ps", caller.livemode),
        rate_type=params.rate_type,
        token_basis=params.token_basis,
        tiers=tiers_to_json(params.tiers if tiers is None else tiers),
        base_cost_payer=params.base_cost_payer,
        service_charge_payer=params.service_charge_payer,
        overdraft=params.overdraft,
        created_at=now,
        updated_at=now,
    )
    check_pricing(product)
    async with db.write() as session:
        product.meter_slug = await _take_slug(session, caller, params.meter_slug, params.name, None)
        await repository.add(session, product)
    return product


def _meter_params(params: MeterCreate) -> ProductCreate:
    """A meter's product: the merchant bears the provider cost and the service charge; the
    customer pays the meter's rates."""
    return ProductCreate(
        name=params.name,
        meter_slug=params.meter_slug,
        rate_type=params.rate_type,
        tiers=[],
        base_cost_payer="merchant",
        service_charge_payer="merchant",
    )


async def create_meter(db: Database, caller: Caller, params: MeterCreate) -> Product:
    return await create(
        db, caller, _meter_params(params), tiers=meter_tiers(params.tier_type, params.tiers)
    )


def render_meter(product: Product) -> RestMeter:
    return {
        "meter_id": product.id,
        "meter_slug": product.meter_slug,
        "name": product.name,
        "rate_type": cast(RateType, product.rate_type),
        "tiers": cast(list[MeterTier], product.tiers),
        "created_at": iso(product.created_at),
        "updated_at": iso(product.updated_at),
        "product_secret": product.secret,
    }


def meter_update(product: Product, params: MeterUpdate) -> ProductUpdate:
    """The product change a meter change is: new tiers keep the meter's tier type."""
    tiers = None
    if params.tiers is not None:
        tier_type = cast(TierType, product.tiers[0]["type"] if product.tiers else "tokens_1m")
        tiers = meter_tiers(tier_type, params.tiers)
    return ProductUpdate(name=params.name, tiers=tiers)


async def retrieve(
    db: Database, caller: Caller, product_id: str, *, param: str = "product_id"
) -> Product:
    async with db.read() as session:
        product = await repository.get(session, caller.merchant_id, caller.livemode, product_id)
    if product is None:
        raise NotFound(f"No {param.removesuffix('_id')} {product_id}.", param=param)
    return product


async def list_page(
    db: Database, caller: Caller, cursor: str | None, limit: int
) -> Sequence[Product]:
    async with db.read() as session:
        return await repository.page(session, caller.merchant_id, caller.livemode, cursor, limit)


async def update(
    db: Database,
    caller: Caller,
    product_id: str,
    params: ProductUpdate | MeterUpdate,
    *,
    param: str = "product_id",
) -> Product:
    async with db.write() as session:
        product = await repository.get(session, caller.merchant_id, caller.livemode, product_id)
        if product is None:
            raise NotFound(f"No {param.removesuffix('_id')} {product_id}.", param=param)
        if isinstance(params, MeterUpdate):
            params = meter_update(product, params)
        if params.meter_slug is not None:
            product.meter_slug = await _take_slug(
                session, caller, params.meter_slug, product.name, product.id
            )
        changes = params.model_dump(exclude_none=True, exclude={"tiers", "meter_slug"})
        for field, value in changes.items():
            setattr(product, field, value)
        if params.tiers is not None:
            product.tiers = tiers_to_json(params.tiers)
        check_pricing(product)  # raising rolls the whole change back
        product.updated_at = utcnow()
    return product


async def delete(
    db: Database, caller: Caller, product_id: str, *, param: str = "product_id"
) -> None:
    """Soft delete: past requests keep their product; the secret stops working at once (and
    its slug is free again)."""
    async with db.write() as session:
        product = await repository.get(session, caller.merchant_id, caller.livemode, product_id)
        if product is None:
            raise NotFound(f"No {param.removesuffix('_id')} {product_id}.", param=param)
        product.deleted_at = utcnow()
