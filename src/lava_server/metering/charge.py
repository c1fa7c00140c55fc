"""The charge of metered requests: one function for every door (`docs/architecture.md`).

`charge` runs inside the caller's transaction, after the caller has locked the wallets and opened
them (`wallets.credit.open_wallets`: due period credit expired). For each request, in order, it
prices the usage at the connection's tier position as the earlier requests of the batch left it,
lets the door refuse it (a reported request that the balance cannot pay), then writes the batch:
the request rows (inserted, or a forwarded call's pending row finished), the holds released, the
ledger postings (`rows.postings_for`), period credit spent or autopay queued
(`wallets.credit.record_debits`), the tier positions and the roll-ups of completed requests.

The lock order is the one of every money-moving transaction of the server: wallet rows first
(the caller's), then tier positions, then roll-ups.

Balance changes: once the debits are known, still inside the transaction, `charge` writes them to
the webhooks' outbox (`outbox.record_balance_changes`: one coalesced balance event per wallet and
window, a low-balance event when a threshold is crossed), committed or rolled back with the money.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from lava_server import outbox
from lava_server.errors import ApiError, InvalidRequest, WalletFrozen
from lava_server.metering import repository, rollups, top_up
from lava_server.metering.rows import merchant_postings, postings_for, priced_columns
from lava_server.pricing import (
    OutOfRange,
    PricedRequest,
    PricingConfig,
    Usage,
    price_request,
    units_for,
)
from lava_server.settings import Settings
from lava_server.wallets.credit import WalletState, debit_changes, record_debits
from lava_server.wallets.ledger import Movement, post_movements

ZERO = Decimal(0)

TierKey = tuple[str, str, datetime]  # (connection_id, product_id, period_start)


@dataclass(slots=True)
class Charge:
    """One request to charge. In: its row (every column by attribute name; the money columns
    are filled here), what prices it, and `seq` when it is a pending row to finish. Out:
    `priced` and `seq`, or `refused`."""

    row: dict[str, Any]
    config: PricingConfig
    usage: Usage
    input_cost: Decimal
    output_cost: Decimal
    tier_key: TierKey | None
    seq: int | None = None  # None: a new row to insert
    hold: Decimal = ZERO  # released in the same transaction
    merchant_ledger: bool = False  # no wallet: the merchant's account bears the cost
    check: Callable[[PricedRequest, Decimal], None] | None = None
    """Raises the door's `ApiError` to refuse the request, given its price and the wallet's
    available balance as the batch has left it; nothing of it is then written."""
    priced: PricedRequest | None = None
    refused: ApiError | None = None

    @property
    def wallet_id(self) -> str | None:
        wallet_id: str | None = self.row["wallet_id"]
        return wallet_id


class AlreadyClosed(Exception):
    """The one pending request of a charge was closed meanwhile (settled, released): roll back."""


async def charge(
    session: AsyncSession,
    settings: Settings,
    charges: Sequence[Charge],
    wallets: dict[str, WalletState],
    now: datetime,
) -> list[Charge]:
    """Price and write `charges` (see the module docstring); return the ones written. `wallets`:
    the locked and opened wallets of every charge with a wallet.

    Pending rows to finish (`seq` set) must still be pending: with several, the caller checked
    (`repository.pending_requests`, under the wallets' locks); a lone one is checked here, and
    `AlreadyClosed` is raised (roll back) when it is not."""
    rate = settings.service_charge_rate
    # Tier positions. Without refusals (a forward call's settlement) every charge's units are
    # added: one upsert per position returns where it stood. Otherwise the positions are read
    # first, and the units of the charges written added at the end.
    add_first = all(c.check is None for c in charges)
    positions: dict[TierKey, int] = {}
    if add_first:
        adding: dict[TierKey, int] = {}
        for c in charges:
            if c.tier_key is not None:
                adding[c.tier_key] = adding.get(c.tier_key, 0) + units_for(c.config, c.usage)
        for key in sorted(adding):
            positions[key] = await repository.take_tier_units(session, key, adding[key])
    else:
        keys = sorted({c.tier_key for c in charges if c.tier_key is not None})
        positions = await repository.tier_units_many(session, keys)
    available = {wallet_id: state.available for wallet_id, state in wallets.items()}
    written: list[Charge] = []
    for c in charges:
        prior = positions.get(c.tier_key, 0) if c.tier_key is not None else 0
        wallet_id = c.wallet_id
        try:
            priced = price_request(
                c.config,
                c.usage,
                prior_units=prior,
                service_charge_rate=rate,
                input_cost=c.input_cost,
                output_cost=c.output_cost,
            )
            if c.check is not None:
                state = wallets.get(wallet_id) if wallet_id is not None else None
                if state is not None and state.frozen:
                    raise _frozen()
                c.check(priced, available.get(wallet_id, ZERO) if wallet_id else ZERO)
        except ApiError as error:
            c.refused = error
            continue
        except OutOfRange as error:
            if c.check is None:
                raise
            c.refused = InvalidRequest(f"{error.field}: {error.message}.", param=error.field)
            continue
        c.priced = priced
        if wallet_id is not None:
            available[wallet_id] = (
                available.get(wallet_id, ZERO) + c.hold - priced.total_wallet_cost
            )
        if c.tier_key is not None:
            positions[c.tier_key] = prior + priced.units
        c.row.update(priced_columns(priced))
        written.append(c)
    if not written:
        return written

    finals = [c for c in written if c.seq is not None]
    new = [c for c in written if c.seq is None]
    if len(finals) == 1:
        final = finals[0]
        assert final.seq is not None
        if not await repository.finish_request(session, final.seq, _final_of(final.row)):
            raise AlreadyClosed
    elif finals:
        await repository.finish_requests(
            session, [{"seq": c.seq, **_final_of(c.row)} for c in finals]
        )
    if new:
        seqs = await repository.insert_requests(session, [c.row for c in new])
        for c, seq in zip(new, seqs, strict=True):
            c.seq = seq
    held: dict[str, Decimal] = {}
    debits: dict[str, Decimal] = {}
    movements: list[Movement] = []
    for c in written:
        assert c.seq is not None and c.priced is not None
        wallet_id = c.wallet_id
        if wallet_id is not None:
            if c.hold:
                held[wallet_id] = held.get(wallet_id, ZERO) + c.hold
            debits[wallet_id] = debits.get(wallet_id, ZERO) + c.priced.total_wallet_cost
            movements.append(
                Movement(
                    f"req:{c.seq}",
                    postings_for(wallet_id, c.row["merchant_id"], c.row["provider"], c.priced),
                    c.row["livemode"],
                    c.seq,
                )
            )
        elif c.merchant_ledger:
            postings = merchant_postings(c.row["merchant_id"], c.row["provider"], c.priced)
            movements.append(Movement(f"req:{c.seq}", postings, c.row["livemode"], c.seq))
    for wallet_id in sorted(held):
        await repository.change_held(session, wallet_id, -held[wallet_id])
    if movements:
        await post_movements(session, movements, now)
        await record_debits(session, settings, wallets, debits, now)
        await top_up.queue_due(
            session,
            settings,
            wallets,
            {
                wallet_id: wallets[wallet_id].available + held.get(wallet_id, ZERO) - amount
                for wallet_id, amount in debits.items()
                if amount > 0 and wallets[wallet_id].top_up_floor is not None
            },
            now,
        )
        await outbox.record_balance_changes(session, debit_changes(wallets, debits))
    if not add_first:
        additions = [
            (*c.tier_key, c.priced.units)
            for c in written
            if c.tier_key is not None and c.priced is not None
        ]
        if additions:
            await repository.add_tier_units(session, additions)
    completed = [c.row for c in written if c.row["status"] == "completed"]
    if completed:
        await rollups.add_requests(session, completed)
    return written


def _frozen() -> WalletFrozen:
    return WalletFrozen(
        "The wallet is frozen while a dispute of a payment that funded it is open; nothing was "
        "charged."
    )


_FINAL_NAMES = tuple(
    "request_metadata" if name == "metadata" else name for name in repository.FINAL_COLUMNS
)


def _final_of(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in _FINAL_NAMES}
