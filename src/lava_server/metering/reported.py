"""Merchant-reported usage (`POST /v1/requests`): check it, price it, debit it and store it, in
one transaction, exactly once.

Reports go through the group commit (`metering.group_commit`): reports that arrive while a
transaction is being written wait for it and then go together in the next one. Each report stays
all-or-nothing (its request row, ledger entries, balance change, tier position and roll-ups are
written together or not at all, by `metering.charge`), but a busy server pays for one commit,
and a handful of statements, per batch instead of per report. Under light load a batch is one
report and nothing waits.

Each report is checked against the state the batch has built so far (balances after the earlier
reports, tier positions after them), so the outcome is the same as processing them one by one in
order. A report that repeats a `request_id` already in the batch, and every report of a batch
whose transaction fails (a concurrent copy of a `request_id` committed by another process, a
deadlock), are processed again one at a time, each in a transaction of its own.

A caller that goes away (its HTTP connection dropped, its task cancelled) does not take its
report with it: the batch is written by the group commit's own task, so a report handed over is
committed exactly once (or refused), whether or not anyone is still waiting for the answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from sqlalchemy.exc import DBAPIError, IntegrityError

from lava_server.api.auth import Caller, find_keys, invalid_key
from lava_server.connections import repository as connections
from lava_server.connections.repository import ConnectionRef
from lava_server.db.engine import Database
from lava_server.db.models import Request
from lava_server.errors import (
    ApiError,
    Conflict,
    InsufficientBalance,
    NotFound,
    Unauthorized,
)
from lava_server.metering import repository
from lava_server.metering.charge import Charge, charge
from lava_server.metering.group_commit import GroupCommit, Job
from lava_server.metering.rows import request_row
from lava_server.model_prices.book import (
    PRICE_ESTIMATED_KEY,
    ModelPricing,
    PriceBook,
    provider_for_model,
)
from lava_server.pricing import MAX_AMOUNT, PricedRequest, Usage, format_money
from lava_server.products import repository as products
from lava_server.products.repository import ProductRef
from lava_server.settings import Settings
from lava_server.timeutil import utcnow
from lava_server.wallets.credit import open_wallets

log = logging.getLogger("lava_server")
MAX_BATCH = 64
MERCHANT_ENDPOINT = "POST /v1/requests"
ZERO = Decimal(0)


class Report(Protocol):
    """A usage report as the route validated it (`requests.schemas.RequestCreate`)."""

    @property
    def request_id(self) -> str: ...
    @property
    def connection_secret(self) -> str: ...
    @property
    def product_secret(self) -> str: ...
    @property
    def metadata(self) -> dict[str, str] | None: ...
    @property
    def input_tokens(self) -> int: ...
    @property
    def output_tokens(self) -> int: ...
    @property
    def input_characters(self) -> int: ...
    @property
    def output_characters(self) -> int: ...
    @property
    def input_seconds(self) -> int: ...
    @property
    def output_seconds(self) -> int: ...
    @property
    def provider(self) -> str | None: ...
    @property
    def model(self) -> str | None: ...
    def fingerprint(self) -> str: ...


@dataclass(frozen=True)
class Created:
    request: Request
    created: bool  # False: the same report was already stored (answer 200, charge nothing)


@dataclass(slots=True)
class _Item:
    key_hash: str  # of the secret key that sent it: looked up in the batch's transaction
    params: Report
    fingerprint: str
    caller: Caller | None = None

    @property
    def key(self) -> tuple[str, bool, str]:
        assert self.caller is not None
        return (self.caller.merchant_id, self.caller.livemode, self.params.request_id)


_Job = Job[_Item, Created]


class RequestBatcher:
    """One per server process. `submit` is all a route needs."""

    def __init__(self, db: Database, settings: Settings, prices: PriceBook) -> None:
        self.db = db
        self.settings = settings
        self.prices = prices
        self._commits: GroupCommit[_Item, Created] = GroupCommit(self._write, max_batch=MAX_BATCH)

    async def submit(self, key_hash: str, params: Report) -> Created:
        """Store and charge one report sent with the secret key of hash `key_hash` (checked in
        the same transaction: a key revoked a moment ago is refused)."""
        return await self._commits.submit(_Item(key_hash, params, params.fingerprint()))

    async def _write(self, batch: list[_Job]) -> None:
        retry: list[_Job] = []
        try:
            retry = await self._write_together(batch)
        except (IntegrityError, DBAPIError) as error:
            log.info("batch of %d reports failed (%s); writing them one by one", len(batch), error)
            retry = [job for job in batch if not job.future.done()]
        for job in retry:
            await self._write_alone(job)

    async def _write_alone(self, job: _Job) -> None:
        """One report in its own transaction. If a concurrent copy of its `request_id` commits
        first (the insert then fails on the unique key), answer as for a retry of that one."""
        item = job.item
        try:
            again = await self._write_together([job])
            assert not again
        except IntegrityError:
            stored = None
            if item.caller is not None:
                async with self.db.read() as session:
                    stored = await repository.find_request(session, *item.key)
            if stored is None:  # another unique key failed: a bug, reported as a 500
                job.fail(RuntimeError("a report failed on a unique key"))
                return
            try:
                job.resolve(replay(stored, item.fingerprint))
            except ApiError as error:
                job.fail(error)
        except Exception as error:  # a bug: the caller reports it as a 500
            job.fail(error)

    async def _write_together(self, batch: list[_Job]) -> list[_Job]:
        """Write what can go in one transaction; return the reports to redo one by one."""
        outcomes: list[tuple[_Job, Created | ApiError]] = []
        retry: list[_Job] = []
        written: list[tuple[_Job, Charge]] = []
        async with self.db.write() as session:
            callers = await find_keys(session, [job.item.key_hash for job in batch])
            for job in batch:
                job.item.caller = callers.get(job.item.key_hash)
                if job.item.caller is None:
                    outcomes.append((job, invalid_key()))
            batch = [job for job in batch if job.item.caller is not None]
            found_connections = await connections.by_secrets(
                session, [job.item.params.connection_secret for job in batch]
            )
            found_products = await products.by_secrets(
                session, [job.item.params.product_secret for job in batch]
            )
            wallet_ids = [c.wallet_id for c in found_connections.values()]
            now = utcnow()
            # Lock the wallets; due period credit expires before anything is spent; each
            # wallet's usage period.
            wallets = await open_wallets(session, wallet_ids, now, lock=True)
            # Read after the wallet locks: a concurrent copy of a report is visible by now.
            existing = await repository.stored_keys(session, [job.item.key for job in batch])

            seen: set[tuple[str, bool, str]] = set()
            charges: list[tuple[_Job, Charge]] = []
            for job in batch:
                item = job.item
                if item.key in seen:
                    retry.append(job)  # after this batch, it is a retry of the one before
                    continue
                seen.add(item.key)
                assert item.caller is not None
                try:
                    if item.key in existing:
                        stored = await repository.find_request(session, *item.key)
                        assert stored is not None
                        outcomes.append((job, replay(stored, item.fingerprint)))
                        continue
                    connection = found_connections.get(item.params.connection_secret)
                    product = found_products.get(item.params.product_secret)
                    charges.append(
                        (
                            job,
                            prepare(
                                self.settings,
                                self.prices,
                                item.caller,
                                item.params,
                                item.fingerprint,
                                connection=connection,
                                product=product,
                                period_start=wallets[connection.wallet_id].period_start
                                if connection is not None and connection.wallet_id in wallets
                                else now,
                                now=now,
                            ),
                        )
                    )
                except ApiError as error:
                    outcomes.append((job, error))
            done = await charge(session, self.settings, [c for _, c in charges], wallets, now)
            for job, c in charges:
                if c.refused is not None:
                    outcomes.append((job, c.refused))
            written = [(job, c) for job, c in charges if c in done]
        for job, c in written:
            request = Request(**c.row)
            assert c.seq is not None
            request.seq = c.seq
            job.resolve(Created(request, created=True))
        for job, outcome in outcomes:
            if isinstance(outcome, ApiError):
                job.fail(outcome)
            else:
                job.resolve(outcome)
        return retry


def prepare(
    settings: Settings,
    prices: PriceBook,
    caller: Caller,
    params: Report,
    fingerprint: str,
    *,
    connection: ConnectionRef | None,
    product: ProductRef | None,
    period_start: datetime,
    now: datetime,
) -> Charge:
    """Check a new report against its connection and product and say how to charge it (the
    balance is checked by `charge`, against the wallet as the batch has left it)."""
    if (
        connection is None
        or connection.merchant_id != caller.merchant_id
        or connection.livemode != caller.livemode
    ):
        raise Unauthorized(
            "connection_secret is not an active connection of this merchant.",
            param="connection_secret",
        )
    if (
        product is None
        or product.merchant_id != caller.merchant_id
        or product.livemode != caller.livemode
    ):
        raise NotFound("No product with this product_secret.", param="product_secret")
    usage = Usage(
        input_tokens=params.input_tokens,
        output_tokens=params.output_tokens,
        input_characters=params.input_characters,
        output_characters=params.output_characters,
        input_seconds=params.input_seconds,
        output_seconds=params.output_seconds,
        model=params.model,
    )
    pricing = _model_pricing(prices, settings, params)
    input_cost, output_cost = pricing.cost(usage) if pricing else (ZERO, ZERO)
    metadata = params.metadata or {}
    if pricing is not None and pricing.source == "estimated":
        metadata = {**metadata, PRICE_ESTIMATED_KEY: "true"}
    row = request_row(
        request_id=params.request_id,
        merchant_id=caller.merchant_id,
        livemode=caller.livemode,
        connection_id=connection.id,
        product_id=product.id,
        wallet_id=connection.wallet_id,
        status="completed",
        provider=params.provider or "merchant",
        provider_key_type="unmanaged",
        endpoint=MERCHANT_ENDPOINT,
        model=params.model,
        usage=usage,
        config=product.pricing,
        priced=None,
        hold=ZERO,
        metadata=metadata,
        fingerprint=fingerprint,
        created_at=now,
    )
    overdraft = product.overdraft

    def check(priced: PricedRequest, available: Decimal) -> None:
        if available - priced.total_wallet_cost < -MAX_AMOUNT:  # even an overdraft stops there
            raise InsufficientBalance(
                f"This request ({format_money(priced.total_wallet_cost)}) would take the wallet "
                f"below -{format_money(MAX_AMOUNT)}; nothing was charged."
            )
        if overdraft == "block" and available < priced.total_wallet_cost:
            raise InsufficientBalance(
                f"The wallet's available balance ({format_money(available)}) cannot pay this "
                f"request ({format_money(priced.total_wallet_cost)}); nothing was charged."
            )

    return Charge(
        row=row,
        config=product.pricing,
        usage=usage,
        input_cost=input_cost,
        output_cost=output_cost,
        tier_key=(connection.id, product.id, period_start),
        check=check,
    )


def replay(existing: Request, fingerprint: str) -> Created:
    if existing.fingerprint != fingerprint:
        raise Conflict(
            f"request_id {existing.request_id!r} was already reported with different values; "
            "a new report needs a new request_id.",
            param="request_id",
        )
    return Created(existing, created=False)


def _model_pricing(prices: PriceBook, settings: Settings, params: Report) -> ModelPricing | None:
    """The prices of our `provider`/`model` extension, as for a forwarded call, with the same
    unknown-model rule (`LAVA_UNKNOWN_MODEL`; a 400 naming `model` under `refuse`). None for a
    report without `model`: it bills the product's fee and no provider cost (`docs/pricing.md`)."""
    if params.model is None:
        return None
    # Without a provider: the one the price library knows the model at, else "*" entries only.
    provider = params.provider or provider_for_model(params.model) or "*"
    return prices.billed_price(provider, params.model, settings.unknown_model)
