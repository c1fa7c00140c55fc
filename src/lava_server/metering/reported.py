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
from typing import Protocol, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.api.auth import Caller, find_keys, invalid_key
from lava_server.connections import repository as connections
from lava_server.connections.repository import ConnectionRef
from lava_server.connections.service import is_reference
from lava_server.db.driver import NeedsSession
from lava_server.db.engine import Database
from lava_server.db.models import Request
from lava_server.errors import (
    ApiError,
    Conflict,
    InsufficientBalance,
    InvalidRequest,
    NotFound,
    Unauthorized,
)
from lava_server.metering import repository
from lava_server.metering.charge import Charge, charge
from lava_server.metering.group_commit import GroupCommit, Job
from lava_server.metering.repository import WriterConnection
from lava_server.metering.rows import request_row
from lava_server.metering.top_up import AutoTopUp, OutOfCredit
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
_Ref = TypeVar("_Ref", ConnectionRef, ProductRef)
MAX_BATCH = 64
MERCHANT_ENDPOINT = "POST /v1/requests"
ZERO = Decimal(0)


class Report(Protocol):
    """A usage report as the route validated it (`requests.schemas.RequestCreate`)."""

    @property
    def request_id(self) -> str: ...
    @property
    def connection_secret(self) -> str | None: ...
    @property
    def product_secret(self) -> str | None: ...
    @property
    def customer(self) -> str | None: ...
    @property
    def customer_id(self) -> str | None: ...
    @property
    def meter(self) -> str | None: ...
    @property
    def meter_id(self) -> str | None: ...
    @property
    def meter_slug(self) -> str | None: ...
    @property
    def seed_secrets(self) -> tuple[str, str] | None: ...
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
    def fingerprint(self, connection_secret: str, product_secret: str) -> str: ...


@dataclass(frozen=True)
class Created:
    request: Request
    created: bool  # False: the same report was already stored (answer 200, charge nothing)


@dataclass(slots=True)
class _Item:
    key_hash: str  # of the secret key that sent it: looked up in the batch's transaction
    params: Report
    caller: Caller | None = None
    fingerprint: str | None = None  # once its connection and product are known
    unresolved: ApiError | None = None  # why they are not

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
        self._commits: GroupCommit[_Item, Created] = GroupCommit(
            self._write, max_batch=MAX_BATCH, name="reports"
        )
        # Buys a wallet's auto top-up bundle when a report does not fit (set by the app).
        self.top_up: AutoTopUp | None = None
        # Batches are written on the driver's own connection (`db.driver`), unless they need
        # an ORM session (`NeedsSession`): then with one.
        self._writer = WriterConnection(db, durable=True, autocommit=not db.is_sqlite)

    async def aclose(self) -> None:
        await self._commits.finish()  # the reports being written, before their connection closes
        await self._writer.close()

    async def submit(self, key_hash: str, params: Report) -> Created:
        """Store and charge one report sent with the secret key of hash `key_hash` (checked in
        the same transaction: a key revoked a moment ago is refused). Refused for want of
        credit, it buys the auto top-up bundle and is tried once more (`metering.top_up`)."""
        try:
            return await self._commits.submit(_Item(key_hash, params))
        except OutOfCredit as error:
            if self.top_up is None:
                raise
            refusal = await self.top_up.refused(error)
            if refusal is not None:
                raise refusal from None
        return await self._commits.submit(_Item(key_hash, params))

    async def _write(self, batch: list[_Job]) -> None:
        retry: list[_Job] = []
        try:
            retry = await self._write_lean_or_not(batch)
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
            again = await self._write_lean_or_not([job])
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
                job.resolve(replay(stored, item))
            except ApiError as error:
                job.fail(error)
        except Exception as error:  # a bug: the caller reports it as a 500
            job.fail(error)

    async def _write_lean_or_not(self, batch: list[_Job]) -> list[_Job]:
        """`_write_together` on the driver's connection; again with an ORM session if the batch
        needs one (a repeated report, a wallet with period credit or autopay)."""
        try:
            async with self._writer.driver_transaction() as session:
                written, outcomes, retry = await self._write_together(session, batch, lean=True)
        except NeedsSession:
            async with self.db.write() as session:
                written, outcomes, retry = await self._write_together(session, batch, lean=False)
        # Committed: the answers.
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

    async def _write_together(
        self, session: AsyncSession, batch: list[_Job], *, lean: bool
    ) -> tuple[list[tuple[_Job, Charge]], list[tuple[_Job, Created | ApiError]], list[_Job]]:
        """Write what can go in one transaction (nothing is answered here: the caller answers
        once it is committed). Returns the charges written, the other answers, and the reports
        to redo one by one. `lean`: on a driver's session, which raises `NeedsSession` (roll
        back, do it again with an ORM session) for what it cannot do."""
        outcomes: list[tuple[_Job, Created | ApiError]] = []
        retry: list[_Job] = []
        written: list[tuple[_Job, Charge]] = []
        callers = await find_keys(session, [job.item.key_hash for job in batch])
        for job in batch:
            job.item.caller = callers.get(job.item.key_hash)
            if job.item.caller is None:
                outcomes.append((job, invalid_key()))
        batch = [job for job in batch if job.item.caller is not None]
        found = await _Found.read(session, batch)
        for job in batch:
            job.item.unresolved = None  # a report written again is resolved again
            try:
                found.resolve(job.item)
            except ApiError as error:
                job.item.unresolved = error
        wallet_ids = [c.wallet_id for c, _ in found.resolved.values()]
        now = utcnow()
        # Lock the wallets; due period credit expires before anything is spent; each
        # wallet's usage period.
        wallets = await open_wallets(session, wallet_ids, now, lock=True)
        if lean and any(
            state.needs_session or state.top_up_floor is not None for state in wallets.values()
        ):
            # Period credit to spend, autopay or an auto top-up to queue: ORM objects.
            raise NeedsSession("a wallet with period credit, autopay or auto top-up")
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
                    outcomes.append((job, replay(stored, item)))
                    continue
                if item.unresolved is not None:
                    raise item.unresolved
                connection, product = found.resolved[id(item)]
                assert item.fingerprint is not None
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
                            if connection.wallet_id in wallets
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
        return written, outcomes, retry


@dataclass
class _Found:
    """The connections and products a batch names, read in a few statements whichever names
    each report uses (`docs/current-api.md#requests-and-usage`), and what each report resolved
    to (by `id` of its item)."""

    by_secret: dict[str, ConnectionRef]
    by_id: dict[str, ConnectionRef]
    by_reference: dict[tuple[str, bool, str], ConnectionRef]
    products_by_secret: dict[str, ProductRef]
    products_by_id: dict[str, ProductRef]
    products_by_slug: dict[tuple[str, bool, str], ProductRef]
    resolved: dict[int, tuple[ConnectionRef, ProductRef]]

    @classmethod
    async def read(cls, session: AsyncSession, batch: list[_Job]) -> _Found:
        reports = [job.item.params for job in batch]
        merchants = sorted({job.item.caller.merchant_id for job in batch if job.item.caller})
        customers = [r.customer for r in _named(reports, "customer")]
        meters = [r.meter for r in _named(reports, "meter")]
        slugs = [r.meter_slug for r in reports if r.meter_slug is not None]
        return cls(
            by_secret=await connections.by_secrets(
                session, [r.connection_secret for r in reports if r.connection_secret]
            ),
            by_id=await connections.by_ids(
                session, [c for c in customers if c is not None and not is_reference(c)]
            ),
            by_reference=await connections.by_references(
                session, merchants, [c for c in customers if c is not None and is_reference(c)]
            ),
            products_by_secret=await products.by_secrets(
                session, [r.product_secret for r in reports if r.product_secret]
            ),
            # A slug names a meter by its slug, else by its id.
            products_by_id=await products.by_ids(
                session, [m for m in [*meters, *slugs] if m is not None]
            ),
            products_by_slug=await products.by_slugs(session, merchants, slugs),
            resolved={},
        )

    def resolve(self, item: _Item) -> None:
        """The report's connection and product, checked to be the caller's, and its
        fingerprint; an `ApiError` when a name finds nothing or two names disagree."""
        caller, params = item.caller, item.params
        assert caller is not None
        mine = (caller.merchant_id, caller.livemode)
        customers: list[tuple[str, ConnectionRef]] = []
        if params.connection_secret is not None:
            connection = self.by_secret.get(params.connection_secret)
            if connection is None or (connection.merchant_id, connection.livemode) != mine:
                raise Unauthorized(
                    "connection_secret is not an active connection of this merchant.",
                    param="connection_secret",
                )
            customers.append(("connection_secret", connection))
        customer = params.customer
        if customer is not None:
            name = "customer_id" if params.customer_id is not None else "connection_id"
            connection = (
                self.by_reference.get((*mine, customer))
                if is_reference(customer)
                else self.by_id.get(customer)
            )
            if connection is None or (connection.merchant_id, connection.livemode) != mine:
                raise NotFound(f"No customer {customer}.", param=name)
            customers.append((name, connection))
        meters: list[tuple[str, ProductRef]] = []
        if params.product_secret is not None:
            product = self.products_by_secret.get(params.product_secret)
            if product is None or (product.merchant_id, product.livemode) != mine:
                raise NotFound("No product with this product_secret.", param="product_secret")
            meters.append(("product_secret", product))
        if params.meter_slug is not None:
            product = self.products_by_slug.get((*mine, params.meter_slug))
            if product is None:
                product = self.products_by_id.get(params.meter_slug)
            if product is None or (product.merchant_id, product.livemode) != mine:
                raise NotFound(f"No meter {params.meter_slug}.", param="meter_slug")
            meters.append(("meter_slug", product))
        meter = params.meter
        if meter is not None:
            name = "meter_id" if params.meter_id is not None else "product_id"
            product = self.products_by_id.get(meter)
            if product is None or (product.merchant_id, product.livemode) != mine:
                raise NotFound(f"No meter {meter}.", param=name)
            meters.append((name, product))
        connection = _same("customer", customers)
        product = _same("meter", meters)
        item.fingerprint = params.fingerprint(connection.secret, product.secret)
        self.resolved[id(item)] = (connection, product)


def _named(reports: list[Report], attribute: str) -> list[Report]:
    """The reports whose pair of names agrees (the others fail in `_Found.resolve`)."""
    named = []
    for report in reports:
        try:
            getattr(report, attribute)
        except ApiError:
            continue
        named.append(report)
    return named


def _same(what: str, found: list[tuple[str, _Ref]]) -> _Ref:
    """The one object that every name given names; a 400 naming two that disagree."""
    (first_name, first), *others = found
    for name, other in others:
        if other.id != first.id:
            raise InvalidRequest(
                f"{first_name} and {name} name different {what}s ({first.id}, {other.id}).",
                param=name,
            )
    return first


def prepare(
    settings: Settings,
    prices: PriceBook,
    caller: Caller,
    params: Report,
    fingerprint: str,
    *,
    connection: ConnectionRef,
    product: ProductRef,
    period_start: datetime,
    now: datetime,
) -> Charge:
    """Say how to charge a new report whose connection and product are the caller's (the
    balance is checked by `charge`, against the wallet as the batch has left it)."""
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
    wallet_id = connection.wallet_id

    def check(priced: PricedRequest, available: Decimal) -> None:
        if available - priced.total_wallet_cost < -MAX_AMOUNT:  # even an overdraft stops there
            raise InsufficientBalance(
                f"This request ({format_money(priced.total_wallet_cost)}) would take the wallet "
                f"below -{format_money(MAX_AMOUNT)}; nothing was charged."
            )
        if overdraft == "block" and available < priced.total_wallet_cost:
            raise OutOfCredit(
                f"The wallet's available balance ({format_money(available)}) cannot pay this "
                f"request ({format_money(priced.total_wallet_cost)}); nothing was charged.",
                wallet_id=wallet_id,
                needed=priced.total_wallet_cost,
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


def replay(existing: Request, item: _Item) -> Created:
    """The stored answer to a report sent again. A seed-era report is compared by its own
    secrets, so that its retry is answered even after its connection or product was deleted; a
    report naming them otherwise must find them."""
    fingerprint = item.fingerprint
    secrets = item.params.seed_secrets
    if fingerprint is None and secrets is not None:
        fingerprint = item.params.fingerprint(*secrets)
    if fingerprint is None:
        assert item.unresolved is not None
        raise item.unresolved
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
