from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.engine import one_of
from lava_server.db.models import ActiveSubscription, Merchant, PlanMeter, Product, table_of
from lava_server.pricing import PricingConfig, parse_pricing_config


async def add(session: AsyncSession, product: Product) -> None:
    session.add(product)


async def get(
    session: AsyncSession, merchant_id: str, livemode: bool, product_id: str
) -> Product | None:
    return (
        await session.execute(
            select(Product).where(
                Product.id == product_id,
                Product.merchant_id == merchant_id,
                Product.livemode == livemode,
                Product.not_deleted(),
            )
        )
    ).scalar_one_or_none()


async def page(
    session: AsyncSession, merchant_id: str, livemode: bool, cursor: str | None, limit: int
) -> Sequence[Product]:
    query = select(Product).where(
        Product.merchant_id == merchant_id,
        Product.livemode == livemode,
        Product.not_deleted(),
    )
    if cursor is not None:
        query = query.where(Product.id < cursor)
    query = query.order_by(Product.id.desc()).limit(limit + 1)
    return (await session.execute(query)).scalars().all()


@dataclass(frozen=True)
class ProductRef:
    """What metering needs of a product, its pricing parsed once per version."""

    id: str
    merchant_id: str
    livemode: bool
    overdraft: str
    pricing: PricingConfig
    secret: str


_PRICING_CACHE: dict[tuple[str, datetime], PricingConfig] = {}
_PRICING_CACHE_SIZE = 4096


def pricing_of(product_id: str, updated_at: datetime, fields: dict[str, Any]) -> PricingConfig:
    """The product's `PricingConfig`, cached per (product, last update)."""
    key = (product_id, updated_at)
    config = _PRICING_CACHE.get(key)
    if config is None:
        config = parse_pricing_config(fields)
        if len(_PRICING_CACHE) >= _PRICING_CACHE_SIZE:
            _PRICING_CACHE.clear()
        _PRICING_CACHE[key] = config
    return config


async def _refs(session: AsyncSession, *where: Any) -> list[tuple[Any, ProductRef]]:
    """Live products as (row, `ProductRef`), the row giving their secret and slug."""
    t = table_of(Product)
    rows = await session.execute(
        select(
            t.c.secret,
            t.c.meter_slug,
            t.c.id,
            t.c.merchant_id,
            t.c.livemode,
            t.c.overdraft,
            t.c.updated_at,
            t.c.rate_type,
            t.c.token_basis,
            t.c.tiers,
            t.c.base_cost_payer,
            t.c.service_charge_payer,
        ).where(*where, Product.not_deleted())
    )
    found = []
    for row in rows:
        fields = {
            "rate_type": row.rate_type,
            "token_basis": row.token_basis,
            "tiers": row.tiers,
            "base_cost_payer": row.base_cost_payer,
            "service_charge_payer": row.service_charge_payer,
        }
        ref = ProductRef(
            row.id,
            row.merchant_id,
            row.livemode,
            row.overdraft,
            pricing_of(row.id, row.updated_at, fields),
            row.secret,
        )
        found.append((row, ref))
    return found


async def by_secrets(session: AsyncSession, secrets: Sequence[str]) -> dict[str, ProductRef]:
    """Active products by secret (any merchant: the caller checks ownership)."""
    if not secrets:
        return {}
    dialect = session.get_bind().dialect.name
    rows = await _refs(session, one_of(table_of(Product).c.secret, secrets, dialect))
    return {row.secret: ref for row, ref in rows}


async def by_ids(session: AsyncSession, ids: Sequence[str]) -> dict[str, ProductRef]:
    """Active products by id (any merchant: the caller checks ownership)."""
    if not ids:
        return {}
    dialect = session.get_bind().dialect.name
    rows = await _refs(session, one_of(table_of(Product).c.id, ids, dialect))
    return {ref.id: ref for _, ref in rows}


async def by_slugs(
    session: AsyncSession, merchant_ids: Sequence[str], slugs: Sequence[str]
) -> dict[tuple[str, bool, str], ProductRef]:
    """Active products by (merchant, mode, `meter_slug`)."""
    if not slugs:
        return {}
    t = table_of(Product)
    rows = await _refs(session, t.c.meter_slug.in_(slugs), t.c.merchant_id.in_(merchant_ids))
    return {(ref.merchant_id, ref.livemode, row.meter_slug): ref for row, ref in rows}


async def lock_merchant(session: AsyncSession, merchant_id: str) -> None:
    """Serialises a merchant's slug choices, so that two creations never pick the same."""
    await session.execute(select(Merchant.id).where(Merchant.id == merchant_id).with_for_update())


async def slugs_taken(
    session: AsyncSession, merchant_id: str, livemode: bool, prefix: str
) -> set[str]:
    """The slugs of the merchant's live products of this mode that start with `prefix`."""
    rows = await session.execute(
        select(Product.meter_slug).where(
            Product.merchant_id == merchant_id,
            Product.livemode == livemode,
            Product.meter_slug.startswith(prefix, autoescape=True),
            Product.not_deleted(),
        )
    )
    return {row[0] for row in rows}


async def meter_id(
    session: AsyncSession, merchant_id: str, livemode: bool, meter_slug: str
) -> str | None:
    """The id of the merchant's live meter (product) with this `meter_slug`, else with this
    `prd_` id: how a forward token's `meter_slug` names a meter."""
    for column in (Product.meter_slug, Product.id):
        found = (
            await session.execute(
                select(Product.id).where(
                    column == meter_slug,
                    Product.merchant_id == merchant_id,
                    Product.livemode == livemode,
                    Product.deleted_at.is_(None),
                )
            )
        ).scalar_one_or_none()
        if found is not None:
            return str(found)
    return None


async def on_customer_plan(
    session: AsyncSession, merchant_id: str, connection_id: str, meter_id: str
) -> bool:
    """Whether the plan of the customer's running subscription with the merchant covers the
    meter (`plan_covers_meter`); a customer without one is on the Free plan, which covers every
    meter (`docs/current-api.md#plans`)."""
    plan_id = (
        await session.execute(
            select(ActiveSubscription.subscription_config_id).where(
                ActiveSubscription.connection_id == connection_id,
                ActiveSubscription.merchant_id == merchant_id,
                ActiveSubscription.status == "active",
            )
        )
    ).scalar_one_or_none()
    return plan_id is None or await plan_covers_meter(session, plan_id, meter_id)


async def plan_covers_meter(session: AsyncSession, plan_id: str, meter_id: str) -> bool:
    """A plan covers a meter it links, or every meter when it links none."""
    rows = (
        await session.execute(select(PlanMeter.meter_id).where(PlanMeter.plan_id == plan_id))
    ).scalars()
    linked = set(rows)
    return not linked or meter_id in linked
