"""The transactional outbox of webhook events (`docs/webhooks.md`).

A service that changes something a merchant hears about calls `record(session, ...)` in the
transaction of the change: the outbox row commits with the change or not at all. The webhooks
package's worker later turns each row into an event (its `data` rendered then, unless the caller
gave it) and one delivery per subscribed endpoint.

Debits are many and hot: `record_balance_changes` writes at most one row per wallet per
`LAVA_WEBHOOK_BALANCE_COALESCE_S` window (one INSERT ... ON CONFLICT DO NOTHING for the batch),
due when the window ends, so its event reports the balance after all of the window's debits.
A balance falling below the low-balance threshold writes a `customer.wallet.low_balance` row,
once per crossing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.outbox import repository
from lava_server.pricing import format_money
from lava_server.settings import Settings
from lava_server.timeutil import utcnow

# Event types (the current names); `LEGACY_NAMES` maps those that have an older name.
CHECKOUT_COMPLETED = "checkout.completed"
CUSTOMER_CREATED = "customer.created"
CUSTOMER_DELETED = "customer.deleted"
BALANCE_UPDATED = "customer.wallet.balance.updated"
LOW_BALANCE = "customer.wallet.low_balance"
AUTOPAY_SUCCEEDED = "autopay.succeeded"
AUTOPAY_FAILED = "autopay.failed"
AUTO_TOP_UP_SUCCEEDED = "auto_top_up.succeeded"
AUTO_TOP_UP_FAILED = "auto_top_up.failed"
SUBSCRIPTION_CREATED = "subscription.created"
SUBSCRIPTION_RENEWED = "subscription.renewed"
SUBSCRIPTION_CANCELLED = "subscription.cancelled"
SUBSCRIPTION_PAYMENT_FAILED = "subscription.payment_failed"
ENDPOINT_DISABLED = "webhook_endpoint.disabled"
SPEND_KEY_LIMIT_REACHED = "spend_key.limit_reached"
PING = "ping"

LEGACY_NAMES: Mapping[str, str] = {
    CUSTOMER_CREATED: "connection.created",
    CUSTOMER_DELETED: "connection.deleted",
    BALANCE_UPDATED: "connection.wallet.balance.updated",
    LOW_BALANCE: "connection.wallet.low_balance",
}
EVENT_TYPES: tuple[str, ...] = (
    CHECKOUT_COMPLETED,
    CUSTOMER_CREATED,
    CUSTOMER_DELETED,
    BALANCE_UPDATED,
    LOW_BALANCE,
    AUTOPAY_SUCCEEDED,
    AUTOPAY_FAILED,
    AUTO_TOP_UP_SUCCEEDED,
    AUTO_TOP_UP_FAILED,
    SUBSCRIPTION_CREATED,
    SUBSCRIPTION_RENEWED,
    SUBSCRIPTION_CANCELLED,
    SUBSCRIPTION_PAYMENT_FAILED,
    ENDPOINT_DISABLED,
    SPEND_KEY_LIMIT_REACHED,
)
# Every name an endpoint may subscribe to (either family).
KNOWN_NAMES: frozenset[str] = frozenset(EVENT_TYPES) | frozenset(LEGACY_NAMES.values())


@dataclass
class _Config:
    coalesce_seconds: float = 60.0
    low_balance: Decimal = Decimal("1.00")
    grace_seconds: float = 2.0  # a debit that commits a little after its window still counts


_config = _Config()


def configure(settings: Settings) -> None:
    """Take the coalescing window and the low-balance threshold from the settings (each
    process does it at start-up)."""
    _config.coalesce_seconds = settings.webhook_balance_coalesce_s
    _config.low_balance = settings.webhook_low_balance_threshold
    _config.grace_seconds = min(2.0, settings.webhook_balance_coalesce_s)


def livemode_of(object_id: str) -> bool:
    """Sandbox ids carry `_test_` after their prefix (`ids.new_id`)."""
    return "_test_" not in object_id


async def record(
    session: AsyncSession,
    event_type: str,
    *,
    object_id: str,
    livemode: bool,
    merchant_id: str | None = None,
    wallet_id: str | None = None,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Write one change to report, in the caller's transaction. Without `merchant_id` the
    event goes to every merchant connected to `wallet_id`; without `data` the object is
    rendered when the event is made (a connection: `object_id` or the wallet's connections)."""
    now = now or utcnow()
    await repository.add(
        session,
        [
            {
                "type": event_type,
                "livemode": livemode,
                "merchant_id": merchant_id,
                "wallet_id": wallet_id,
                "object_id": object_id,
                "data": data,
                "coalesce_key": None,
                "created_at": now,
                "due_at": now,
            }
        ],
    )


# In a wallet row's `data`: the balance to show (as of the change, not of the rendering).
BALANCE_KEY = "_balance"


async def balance_snapshot(session: AsyncSession, wallet_id: str) -> dict[str, Any]:
    """`{BALANCE_KEY: ...}`: the wallet's balance as `GET` shows it, now, in this transaction."""
    balance = await repository.available_balance(session, wallet_id)
    return {} if balance is None else {BALANCE_KEY: format_money(balance)}


async def record_credit(session: AsyncSession, wallet_id: str, now: datetime | None = None) -> None:
    """A credit to a wallet (top-up, grant, refund, bundle): its balance event, not coalesced,
    showing the balance right after the credit."""
    await record(
        session,
        BALANCE_UPDATED,
        object_id=wallet_id,
        wallet_id=wallet_id,
        livemode=livemode_of(wallet_id),
        data=await balance_snapshot(session, wallet_id),
        now=now,
    )


async def record_balance_changes(
    session: AsyncSession, changes: Iterable[tuple[str, Decimal, Decimal]]
) -> None:
    """Debits, in the transaction that makes them: `(wallet id, balance before, balance after)`
    per wallet. One coalesced balance row per wallet and window (one statement for all), and a
    low-balance row for each wallet whose balance crossed below the threshold."""
    now = utcnow()
    window = _config.coalesce_seconds
    index = math.floor(now.timestamp() / window)
    due = datetime.fromtimestamp((index + 1) * window, now.tzinfo) + timedelta(
        seconds=_config.grace_seconds
    )
    coalesced: list[dict[str, Any]] = []
    crossings: list[dict[str, Any]] = []
    threshold = _config.low_balance
    for wallet_id, before, after in changes:
        if before == after:
            continue
        livemode = livemode_of(wallet_id)
        coalesced.append(
            {
                "type": BALANCE_UPDATED,
                "livemode": livemode,
                "merchant_id": None,
                "wallet_id": wallet_id,
                "object_id": wallet_id,
                "data": None,
                "coalesce_key": f"bal:{wallet_id}:{window:g}:{index}",
                "created_at": now,
                "due_at": due,
            }
        )
        if before >= threshold > after:
            crossings.append(
                {
                    "type": LOW_BALANCE,
                    "livemode": livemode,
                    "merchant_id": None,
                    "wallet_id": wallet_id,
                    "object_id": wallet_id,
                    "data": None,
                    "coalesce_key": None,
                    "created_at": now,
                    "due_at": now,
                }
            )
            crossings[-1]["data"] = {BALANCE_KEY: format_money(after)}
    await repository.add_coalesced(session, coalesced)
    await repository.add(session, crossings)
