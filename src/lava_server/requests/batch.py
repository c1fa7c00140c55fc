"""Group commit for `POST /v1/requests`.

Reports that arrive while a transaction is being written wait for it and then go together in the
next one: each report stays all-or-nothing (its request row, ledger entries, balance change,
tier position and roll-ups are written together or not at all), but a busy server pays for one
commit, and a handful of statements, per batch instead of per report. Under light load a batch
is one report and nothing waits.

Each report is checked against the state the batch has built so far (balances after the earlier
reports, tier positions after them), so the outcome is the same as processing them one by one in
order. A report that repeats a `request_id` already in the batch, and every report of a batch
whose transaction fails (a concurrent copy of a `request_id` committed by another process, a
deadlock), are processed again one at a time, each in a transaction of its own.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy.exc import DBAPIError, IntegrityError

from lava_server.api.auth import Caller, find_keys, invalid_key
from lava_server.connections import repository as connections
from lava_server.db.engine import Database
from lava_server.db.models import Request
from lava_server.errors import ApiError
from lava_server.model_prices.book import PriceBook
from lava_server.outbox import record_balance_changes
from lava_server.pricing import PricedRequest
from lava_server.products import repository as products
from lava_server.requests import repository, service
from lava_server.requests.schemas import RequestCreate
from lava_server.settings import Settings
from lava_server.timeutil import utcnow
from lava_server.usage import rollups
from lava_server.wallets.credit import debit_changes, open_wallets, record_debits
from lava_server.wallets.ledger import Movement, post_movements

log = logging.getLogger("lava_server")
MAX_BATCH = 64


@dataclass
class _Item:
    key_hash: str  # of the secret key that sent it: looked up in the batch's transaction
    params: RequestCreate
    future: asyncio.Future[service.Created]
    caller: Caller | None = None
    fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        self.fingerprint = self.params.fingerprint()

    @property
    def key(self) -> tuple[str, bool, str]:
        assert self.caller is not None
        return (self.caller.merchant_id, self.caller.livemode, self.params.request_id)


class RequestBatcher:
    """One per server process. `submit` is all a route needs."""

    def __init__(self, db: Database, settings: Settings, prices: PriceBook) -> None:
        self.db = db
        self.settings = settings
        self.prices = prices
        self._pending: list[_Item] = []
        self._draining = False

    async def submit(self, key_hash: str, params: RequestCreate) -> service.Created:
        """Store and charge one report sent with the secret key of hash `key_hash` (checked in
        the same transaction: a key revoked a moment ago is refused)."""
        item = _Item(key_hash, params, asyncio.get_running_loop().create_future())
        self._pending.append(item)
        if not self._draining:
            self._draining = True
            await self._drain()
        return await item.future

    async def _drain(self) -> None:
        """Write batches until none is pending. The caller that starts draining answers its own
        report after the first batch and hands the rest to a task, so no caller waits for more
        than the batch it is in and the one before it."""
        try:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            await self._write(batch)
        finally:
            if self._pending:
                asyncio.get_running_loop().create_task(self._drain())
            else:
                self._draining = False

    async def _write(self, batch: list[_Item]) -> None:
        retry: list[_Item] = []
        try:
            retry = await self._write_together(batch)
        except (IntegrityError, DBAPIError) as error:
            log.info("batch of %d reports failed (%s); writing them one by one", len(batch), error)
            retry = [item for item in batch if not item.future.done()]
        except BaseException as error:
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(error)
            raise
        for item in retry:
            await self._write_alone(item)

    async def _write_alone(self, item: _Item) -> None:
        """One report in its own transaction. If a concurrent copy of its `request_id` commits
        first (the insert then fails on the unique key), answer as for a retry of that one."""
        try:
            again = await self._write_together([item])
            assert not again
        except IntegrityError:
            stored = None
            if item.caller is not None:
                async with self.db.read() as session:
                    stored = await repository.get(session, *item.key)
            if stored is None:  # another unique key failed: a bug, reported as a 500
                item.future.set_exception(RuntimeError("a report failed on a unique key"))
                return
            try:
                item.future.set_result(service.replay(stored, item.fingerprint))
            except ApiError as error:
                item.future.set_exception(error)
        except Exception as error:  # a bug: the caller reports it as a 500
            if not item.future.done():
                item.future.set_exception(error)

    async def _write_together(self, batch: list[_Item]) -> list[_Item]:
        """Write what can go in one transaction; return the reports to redo one by one."""
        outcomes: list[tuple[_Item, service.Created | ApiError]] = []
        retry: list[_Item] = []
        async with self.db.write() as session:
            callers = await find_keys(session, [item.key_hash for item in batch])
            for item in batch:
                item.caller = callers.get(item.key_hash)
                if item.caller is None:
                    outcomes.append((item, invalid_key()))
            batch = [item for item in batch if item.caller is not None]
            secrets = [item.params.connection_secret for item in batch]
            found_connections = await connections.by_secrets(session, secrets)
            found_products = await products.by_secrets(
                session, [item.params.product_secret for item in batch]
            )
            wallet_ids = [c.wallet_id for c in found_connections.values()]
            now = utcnow()
            # Lock the wallets; due period credit expires before anything is spent; each
            # wallet's usage period.
            wallets = await open_wallets(session, wallet_ids, now, lock=True)
            # Read after the wallet locks: a concurrent copy of a report is visible by now.
            existing = await repository.stored_keys(session, [item.key for item in batch])

            def position_of(item: _Item) -> tuple[str, str, datetime] | None:
                connection = found_connections.get(item.params.connection_secret)
                product = found_products.get(item.params.product_secret)
                if connection is None or product is None:
                    return None
                return (connection.id, product.id, wallets[connection.wallet_id].period_start)

            positions = await repository.tier_units_many(
                session, [key for key in map(position_of, batch) if key is not None]
            )
            available = {wallet_id: wallet.available for wallet_id, wallet in wallets.items()}

            seen: set[tuple[str, bool, str]] = set()
            new: list[tuple[_Item, Request, PricedRequest, datetime]] = []
            for item in batch:
                if item.key in seen:
                    retry.append(item)  # after this batch, it is a retry of the one before
                    continue
                seen.add(item.key)
                assert item.caller is not None
                try:
                    if item.key in existing:
                        stored = await repository.get(session, *item.key)
                        assert stored is not None
                        outcomes.append((item, service.replay(stored, item.fingerprint)))
                        continue
                    connection = found_connections.get(item.params.connection_secret)
                    product = found_products.get(item.params.product_secret)
                    position = position_of(item)
                    request, priced = service.prepare(
                        self.settings,
                        self.prices,
                        item.caller,
                        item.params,
                        item.fingerprint,
                        connection=connection,
                        product=product,
                        available=available.get(connection.wallet_id, Decimal(0))
                        if connection
                        else Decimal(0),
                        prior_units=positions.get(position, 0) if position else 0,
                        now=now,
                    )
                except ApiError as error:
                    outcomes.append((item, error))
                    continue
                assert position is not None and request.wallet_id is not None
                available[request.wallet_id] -= priced.total_wallet_cost
                positions[position] = positions.get(position, 0) + priced.units
                new.append((item, request, priced, position[2]))

            if new:
                seqs = await repository.insert_requests(
                    session, [service.columns_of(request) for _, request, _, _ in new]
                )
                movements = []
                debits: dict[str, Decimal] = {}
                for seq, (_, request, priced, _) in zip(seqs, new, strict=True):
                    assert request.wallet_id is not None
                    debits[request.wallet_id] = (
                        debits.get(request.wallet_id, Decimal(0)) + priced.total_wallet_cost
                    )
                    request.seq = seq
                    movements.append(
                        Movement(
                            f"req:{seq}",
                            service.postings_for(request, priced),
                            request.livemode,
                            seq,
                        )
                    )
                await post_movements(session, movements, now)
                await record_debits(session, self.settings, wallets, debits, now)
                await record_balance_changes(session, debit_changes(wallets, debits))
                await repository.add_tier_units(
                    session,
                    [
                        (request.connection_id or "", request.product_id or "", start, priced.units)
                        for _, request, priced, start in new
                    ],
                )
                await rollups.add_requests(session, [request for _, request, _, _ in new])
        for item, request, _, _ in new:
            item.future.set_result(service.Created(request, created=True))
        for item, outcome in outcomes:
            if isinstance(outcome, ApiError):
                item.future.set_exception(outcome)
            else:
                item.future.set_result(outcome)
        return retry
