from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from lava_server.api.auth import Caller
from lava_server.db.engine import Database
from lava_server.db.models import Product
from lava_server.errors import InvalidRequest, NotFound
from lava_server.ids import new_id, new_secret
from lava_server.pricing import PricingConfig, PricingConfigError, parse_pricing_config
from lava_server.products import repository
from lava_server.products.schemas import (
    Overdraft,
    Payer,
    ProductCreate,
    ProductUpdate,
    RateType,
    RestProduct,
    Tier,
    TokenBasis,
    tiers_to_json,
)
from lava_server.timeutil import iso, utcnow


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
    }


async def create(db: Database, caller: Caller, params: ProductCreate) -> Product:
    now = utcnow()
    product = Product(
        id=new_id("prd", caller.livemode),
        merchant_id=caller.merchant_id,
        livemode=caller.livemode,
        name=params.name,
        secret=new_secret("ps", caller.livemode),
        rate_type=params.rate_type,
        token_basis=params.token_basis,
        tiers=tiers_to_json(params.tiers),
        base_cost_payer=params.base_cost_payer,
        service_charge_payer=params.service_charge_payer,
        overdraft=params.overdraft,
        created_at=now,
        updated_at=now,
    )
    check_pricing(product)
    async with db.write() as session:
        await repository.add(session, product)
    return product


async def retrieve(db: Database, caller: Caller, product_id: str) -> Product:
    async with db.read() as session:
        product = await repository.get(session, caller.merchant_id, caller.livemode, product_id)
    if product is None:
        raise NotFound(f"No product {product_id}.", param="product_id")
    return product


async def list_page(
    db: Database, caller: Caller, cursor: str | None, limit: int
) -> Sequence[Product]:
    async with db.read() as session:
        return await repository.page(session, caller.merchant_id, caller.livemode, cursor, limit)


async def update(db: Database, caller: Caller, product_id: str, params: ProductUpdate) -> Product:
    async with db.write() as session:
        product = await repository.get(session, caller.merchant_id, caller.livemode, product_id)
        if product is None:
            raise NotFound(f"No product {product_id}.", param="product_id")
        changes = params.model_dump(exclude_none=True, exclude={"tiers"})
        for field, value in changes.items():
            setattr(product, field, value)
        if params.tiers is not None:
            product.tiers = tiers_to_json(params.tiers)
        check_pricing(product)  # raising rolls the whole change back
        product.updated_at = utcnow()
    return product


async def delete(db: Database, caller: Caller, product_id: str) -> None:
    """Soft delete: past requests keep their product; the secret stops working at once."""
    async with db.write() as session:
        product = await repository.get(session, caller.merchant_id, caller.livemode, product_id)
        if product is None:
            raise NotFound(f"No product {product_id}.", param="product_id")
        product.deleted_at = utcnow()
