"""Money of a forward call (`docs/forward-proxy.md`): reserve, then settle or release.

1. `reserve`, one short transaction under the wallet's lock: check the token's secrets, price the
   worst case (`price_upper_bound`: input estimated from the body, output at the body's or the
   model's maximum, at the dearest tier the connection can reach), refuse with 402 when it does
   not fit under `block`, add it to `wallets.held` and store the request `pending` with its
   `hold_amount`. Committed before anything is forwarded, so every other request, in this
   process or another, sees the hold at once: no two in-flight calls can spend the same money.
2. `settle`, one transaction: price the actual usage at the connection's tier position, debit
   the wallet through the ledger with the postings of a merchant-reported request
   (`metering.rows.postings_for`), release the hold, give the request its final values and
   status, add its units to the tier position and (completed requests only) to the roll-ups.
   Idempotent: it only acts on a request that is still `pending`.
3. `release`, one transaction: the hold goes back, nothing is charged, status `error` (the
   provider refused or failed before the client saw a byte, or could not be reached).

The forms of token (see `proxy.credentials`): with a product; without one (the merchant's default
product: no fee, the wallet pays the provider cost); metering only (no connection: recorded for
the merchant's usage, billed to nobody, no ledger entry). The current era's token names a
customer by id or reference and a meter by slug or id, found by the hold's own statement
(`repository.payer_rule`); without a customer, or with `disable_billing`, the merchant pays
(`docs/forward-proxy.md#who-pays`: no wallet charged, the merchant's ledger account bears the
cost).

A call whose actual cost exceeds its hold (a provider that reports more input tokens than the
conservative estimate, which only a body of unusual text can cause) is still charged in full: a
lost debit is worse than a wallet a little below zero, and the warning is logged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Final

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.api.auth import SECRET_KEY_PREFIXES, find_keys, hash_secret_key
from lava_server.connections import repository as connections_repository
from lava_server.db.driver import NeedsSession
from lava_server.db.engine import Database
from lava_server.db.models import Product
from lava_server.errors import (
    ApiError,
    Forbidden,
    InsufficientBalance,
    InvalidCredentials,
    InvalidRequest,
    NotFound,
    Unauthorized,
    WalletFrozen,
)
from lava_server.metering import repository
from lava_server.metering.charge import AlreadyClosed, Charge, charge
from lava_server.metering.group_commit import GroupCommit, Job
from lava_server.metering.repository import WriterConnection, write_transaction
from lava_server.metering.rows import request_row
from lava_server.metering.top_up import AutoTopUp, OutOfCredit
from lava_server.model_prices.book import PRICE_ESTIMATED_KEY, ModelPricing, PriceBook
from lava_server.periods import usage_period
from lava_server.pricing import (
    MAX_AMOUNT,
    CostBound,
    OutOfRange,
    PricedRequest,
    PricingConfig,
    Usage,
    format_money,
    parse_pricing_config,
    price_upper_bound,
)
from lava_server.products import repository as products_repository
from lava_server.products.service import check_pricing
from lava_server.settings import Settings
from lava_server.spend_keys import allowance
from lava_server.spend_keys.allowance import Grant
from lava_server.timeutil import utcnow
from lava_server.wallets.credit import open_wallets
from lava_server.wallets.ledger import lock_wallet

log = logging.getLogger("lava_server.proxy")

ESTIMATED_KEY: Final = "lava_usage_estimated"
OUT_OF_RANGE_KEY: Final = "lava_usage_out_of_range"
"""Metadata key set to "true" on a request whose usage was estimated, not reported."""
FINGERPRINT: Final = "forward"
_SETTLE_ATTEMPTS: Final = 4
_QUICK_FAILURES: Final = (
    sqlite3.Error,
    DBAPIError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
)
SETTLE_LINGER_SECONDS: Final = 0.006
_ZERO: Final = Decimal(0)

# The merchant's default product (a token without product_secret): no fee.
DEFAULT_PRODUCT_CONFIG: Final = parse_pricing_config(
    {"tiers": [{"start": 0, "rate": "0", "type": "tokens_1m"}]}
)
# Metering only: nothing for any wallet; the merchant's own key paid the provider.
METERING_ONLY_CONFIG: Final = parse_pricing_config(
    {
        "tiers": [{"start": 0, "rate": "0", "type": "tokens_1m"}],
        "base_cost_payer": "merchant",
        "service_charge_payer": "merchant",
    }
)
# The merchant pays (a current-era token without a customer, or a customer's call with
# `disable_billing`): no fee, the merchant bears the provider cost and the service charge.
MERCHANT_PAYS_CONFIG: Final = METERING_ONLY_CONFIG


@dataclass(frozen=True, slots=True)
class ForwardToken:
    """The secrets a forward call carries (parsed by `proxy.credentials`).

    `v2` tells the two eras apart (`docs/forward-proxy.md#tokens`): the seed era's token names
    its payer by `connection_secret` and `product_secret`; the current one by `customer_id` (a
    `con_` id or the customer's `reference_id`) and `meter_slug` (a slug or a `prd_` id), and
    without a customer the merchant pays."""

    secret_key: str
    connection_secret: str | None
    product_secret: str | None
    provider_key: str | None
    v2: bool = False
    customer_id: str | None = None
    meter_slug: str | None = None
    disable_billing: bool = False
    spend_key: Grant | None = None  # the call is made with a spend key, not a secret key

    @classmethod
    def of_spend_key(cls, grant: Grant) -> ForwardToken:
        """A spend key's call, as the current era's token of what the key binds: its customer
        and meter, else the merchant (`docs/current-api.md#spend-keys`)."""
        return cls(
            secret_key="",
            connection_secret=None,
            product_secret=None,
            provider_key=None,
            v2=True,
            customer_id=grant.connection_id,
            meter_slug=grant.meter_id,
            spend_key=grant,
        )

    @property
    def metering_only(self) -> bool:
        """Seed era: no connection, nobody billed (the merchant's own key paid the provider)."""
        return not self.v2 and self.connection_secret is None

    @property
    def merchant_pays(self) -> bool:
        """Current era without a customer: merchant-billed (with a meter: meter-only)."""
        return self.v2 and self.customer_id is None

    @property
    def bills_customer(self) -> bool:
        return self.connection_secret is not None or self.customer_id is not None

    @property
    def provider_cost(self) -> bool:
        """Whether the provider's cost is part of the bill: not for a current-era token with the
        merchant's own provider key (BYOK: the provider bills the merchant directly)."""
        return not (self.v2 and self.provider_key is not None)


@dataclass(slots=True)
class Call:
    """What is known of a forward call before it is sent."""

    request_id: str
    provider: str
    provider_key_type: str
    endpoint: str
    model: str | None
    pricing: ModelPricing  # the model's, or as the unknown-model rule says (`billed_price`)
    metadata: dict[str, str]
    worst_case: Usage  # the hold's usage (estimated input, maximum output)
    process_id: str | None = None  # the server process forwarding it (`proxy.abandoned`)
    provider_cost: bool = True  # False: BYOK of a current-era token, no provider cost billed

    def cost(self, pricing: ModelPricing, usage: Usage) -> tuple[Decimal, Decimal]:
        """(input cost, output cost) of `usage` at `pricing`, as billed."""
        if not self.provider_cost:
            return _ZERO, _ZERO
        return pricing.cost(usage)


@dataclass(slots=True)
class Reservation:
    """A reserved call, to settle or release exactly once."""

    call: Call
    merchant_id: str
    livemode: bool
    connection_id: str | None
    product_id: str | None
    wallet_id: str | None
    config: PricingConfig
    hold: Decimal
    created_at: datetime
    period_start: datetime
    seq: int | None = None  # None: metering only, no row until it is settled
    done: bool = field(default=False)
    merchant_ledger: bool = False  # no wallet, and the merchant's account bears the cost
    tiers: bool = True  # False: the call does not move the customer's tier position
    spend_key: str | None = None  # the spend key whose allowance `hold` was also taken from

    def spent(self, priced: PricedRequest) -> Decimal:
        """What the call spent of its payer's money, as a spend key counts it."""
        return priced.total_merchant_cost if self.merchant_ledger else priced.total_wallet_cost


@dataclass(slots=True)
class _ReserveItem:
    token: ForwardToken
    key_hash: str
    call: Call
    worst: Usage
    worst_costs: tuple[Decimal, Decimal]
    now: datetime
    ref: repository.PayerRef  # the payer as the token names it
    quick_tried: bool = False  # the quick hold wrote nothing for it: the ordinary path decides
    secrets: repository.PayerRef | None = None  # the payer by its secrets (the ordinary path)

    @property
    def payer_key(self) -> tuple[str, str, str | None, bool]:
        ref = self.secrets or self.ref
        assert ref.by == "secret"
        return (self.key_hash, ref.connection, ref.product, self.token.spend_key is not None)

    @property
    def product_key(self) -> tuple[str, ...] | None:
        """Where the product of the token is remembered (`ForwardBilling._products`)."""
        if self.ref.product is None:
            return None
        if self.ref.by == "secret":
            return (self.ref.product,)
        return (self.key_hash, self.ref.product)  # a slug means a meter of the key's merchant


@dataclass(slots=True)
class _SettleItem:
    reservation: Reservation
    usage: Usage
    status: str
    metadata: dict[str, str]
    model: str | None
    input_cost: Decimal
    output_cost: Decimal

    @property
    def seq(self) -> int:
        assert self.reservation.seq is not None
        return self.reservation.seq

    @property
    def wallet_id(self) -> str:
        assert self.reservation.wallet_id is not None
        return self.reservation.wallet_id

    def charge(self) -> Charge:
        """What `metering.charge` needs to price and write this settlement."""
        r = self.reservation
        tier_key = None
        if r.product_id is not None and r.connection_id is not None and r.tiers:
            tier_key = (r.connection_id, r.product_id, r.period_start)
        return Charge(
            row=_row(r, self.status, self.usage, None, self.metadata, self.model),
            config=r.config,
            usage=self.usage,
            input_cost=self.input_cost,
            output_cost=self.output_cost,
            tier_key=tier_key,
            seq=r.seq,
            hold=r.hold if r.wallet_id is not None else _ZERO,
            merchant_ledger=r.merchant_ledger,
        )


class _AlreadySettled(Exception):
    pass


class ForwardBilling:
    """One per server process."""

    def __init__(self, db: Database, settings: Settings, prices: PriceBook) -> None:
        self.db = db
        self.settings = settings
        self.prices = prices
        self.service_charge_rate = settings.service_charge_rate
        self._configs: dict[tuple[str, datetime], PricingConfig] = {}
        self._reserve_writer = WriterConnection(db, durable=False)
        # Product secret -> the product version last seen, for one-statement holds.
        self._products: dict[tuple[str, ...], tuple[Product, PricingConfig]] = {}
        # Settlements run on the driver's own connection (`db.driver`): the charge unchanged,
        # without SQLAlchemy's per-statement work.
        self._settle_writer = WriterConnection(db, durable=True, autocommit=not db.is_sqlite)
        # Buys a wallet's auto top-up bundle when a hold does not fit (set by the app).
        self.top_up: AutoTopUp | None = None
        # The quick holds that arrive together share one transaction (`repository.Holds`);
        # under light load a batch is one hold, and on PostgreSQL always (see `_reserve_billed`).
        self._holds = repository.quick_holds(db)
        self._postgres = not db.is_sqlite
        # A hold taken for a call that went away meanwhile is released at once.
        self._quick: GroupCommit[_ReserveItem, Reservation | None] = GroupCommit(
            self._write_quick_holds, name="quick_holds", orphaned=self._release_orphan
        )
        self._reserves: GroupCommit[_ReserveItem, Reservation] = GroupCommit(
            self._write_reserves, name="holds", orphaned=self._release_orphan
        )
        # Settlements linger a little: the client already has its answer, and its next call's
        # hold (which it waits for) then goes first instead of queueing behind this bill.
        self._settles: GroupCommit[_SettleItem, PricedRequest | None] = GroupCommit(
            self._write_settles, linger=SETTLE_LINGER_SECONDS, name="settlements"
        )

    async def aclose(self) -> None:
        # Holds and settlements still being written, and the releases of holds whose callers
        # went away, finish before their connections close: else a hold taken for a call gone
        # at shutdown stayed held until the abandoned-call recovery found it.
        for commits in (self._quick, self._reserves, self._settles):
            await commits.finish()
        await self._holds.close()
        await self._reserve_writer.close()
        await self._settle_writer.close()

    # -- reserve ---------------------------------------------------------------------------------

    async def reserve(self, token: ForwardToken, call: Call) -> Reservation:
        """Check the token, take the hold and store the pending request (one transaction,
        shared with the reservations that arrive meanwhile). Raises 401/403/404 for the token
        and 402 when the worst case does not fit."""
        grant = token.spend_key
        key_hash = grant.key_hash if grant is not None else _key_hash(token.secret_key)
        now = utcnow()
        call.provider_cost = token.provider_cost
        if token.metering_only:
            return await self._metering_only(key_hash, call, now)
        if token.merchant_pays:
            if grant is not None:
                return await self._merchant_pays_with_key(grant, call, now)
            return await self._merchant_pays(key_hash, token, call, now)
        if token.v2:
            assert token.customer_id is not None and token.meter_slug is not None
            ref = repository.customer_ref(token.customer_id, token.meter_slug)
        else:
            assert token.connection_secret is not None
            ref = repository.PayerRef("secret", token.connection_secret, token.product_secret)
        costs = call.cost(call.pricing, call.worst_case)
        item = _ReserveItem(token, key_hash, call, call.worst_case, costs, now, ref)
        if token.disable_billing:
            item.quick_tried = True  # no balance to check: the ordinary path
            return await self._reserves.submit(item)
        try:
            return await self._reserve_billed(item)
        except OutOfCredit as error:
            # Refused for want of credit: buy the auto top-up bundle, then try once more
            # (`metering.top_up`). Only here, off the path of a hold that fits.
            if self.top_up is None:
                raise
            refusal = await self.top_up.refused(error)
            if refusal is not None:
                raise refusal from None
        item.quick_tried = True
        return await self._reserves.submit(item)

    async def _reserve_billed(self, item: _ReserveItem) -> Reservation:
        if not (self._postgres and (self._quick.busy or self._reserves.busy)):
            reservation = await self._quick.submit(item)
            if reservation is not None:
                return reservation
            item.quick_tried = True
        # PostgreSQL under load: the holds go together through the ordinary path, which locks
        # each wallet once for the batch and writes it in multi-row statements, where quick
        # holds would take a round trip each under the wallet's lock (measured: 0.76-0.89x the
        # requests/s at concurrency 64).
        return await self._reserves.submit(item)

    async def _release_orphan(self, reservation: Reservation | None) -> None:
        if reservation is not None:
            log.info("releasing the hold of call %s, gone meanwhile", reservation.call.request_id)
            await self.release(reservation)

    async def _write_reserves(self, batch: list[Job[_ReserveItem, Reservation]]) -> None:
        try:
            await self._reserve_together(batch)
        except DBAPIError as error:
            if len(batch) == 1:
                raise
            # A deadlock with another process's batch, say: each call on its own.
            log.info("a batch of %d holds failed (%s); taking them one by one", len(batch), error)
            for job in batch:
                if not job.future.done():
                    try:
                        await self._reserve_together([job])
                    except Exception as single_error:
                        job.fail(single_error)

    async def _write_quick_holds(self, batch: list[Job[_ReserveItem, Reservation | None]]) -> None:
        """The latency path: the quick holds that arrived together, in one short transaction
        (`repository.Holds`). A job answered None takes the ordinary path, which decides and
        says why (an unknown secret, another merchant's, a changed product, 402): its call
        cannot take the quick path, or its hold did not pass (nothing of it written), or the
        database failed and the batch was not written."""
        todo: list[tuple[Job[_ReserveItem, Reservation | None], Reservation]] = []
        wanted: list[repository.HoldRequest] = []
        for job in batch:
            prepared = self._prepare_quick(job.item)
            if prepared is None:
                job.resolve(None)
            else:
                todo.append((job, prepared[0]))
                wanted.append(prepared[1])
        if not todo:
            return
        try:
            found = await self._holds.hold_many(wanted)
        except _QUICK_FAILURES as error:
            log.info("%d quick holds failed (%s); taking the ordinary path", len(todo), error)
            found = await self._found_after_failure(todo)
        for (job, reservation), held in zip(todo, found, strict=True):
            job.resolve(_held(job.item, reservation, held))

    async def _found_after_failure(
        self, todo: list[tuple[Job[_ReserveItem, Reservation | None], Reservation]]
    ) -> list[repository.QuickHold | None]:
        """The holds a failed batch wrote after all. On SQLite none: the batch was rolled back.
        On PostgreSQL the connection may have failed after the commit: holds taken and pending
        requests that nothing would ever close. They are found and kept."""
        if not self._postgres:
            return [None] * len(todo)
        async with self.db.read() as session:
            found = [
                await repository.find_pending_hold(
                    session, reservation.merchant_id, reservation.livemode, job.item.call.request_id
                )
                for job, reservation in todo
            ]
        if any(held is not None for held in found):
            log.info("a quick hold batch's answer was lost; the holds it took are kept")
        return found

    def _prepare_quick(
        self, item: _ReserveItem
    ) -> tuple[Reservation, repository.HoldRequest] | None:
        """The reservation a quick hold would make, and the hold to ask for; None when the call
        cannot take the quick path."""
        if item.token.disable_billing:
            return None  # no hold and no balance check: the ordinary path's
        product_key = item.product_key
        known = self._products.get(product_key) if product_key is not None else None
        if known is None or len(known[1].tiers) > 1:
            return None
        product, config = known
        bound = self._bound(config, item, prior_units=0)
        reservation = Reservation(
            call=item.call,
            merchant_id=product.merchant_id,
            livemode=product.livemode,
            connection_id=None,
            product_id=product.id,
            wallet_id=None,
            config=config,
            hold=bound.total_wallet_cost,
            created_at=item.now,
            period_start=item.now,
            spend_key=None if item.token.spend_key is None else item.token.spend_key.key_id,
        )
        wanted = repository.HoldRequest(
            key_hash=item.key_hash,
            ref=item.ref,
            product_id=product.id,
            product_updated_at=product.updated_at,
            hold=reservation.hold,
            row=_row(reservation, "pending", None, None),
            spend_key=reservation.spend_key,
            now=item.now,
        )
        return reservation, wanted

    async def _reserve_together(self, batch: list[Job[_ReserveItem, Reservation]]) -> None:
        """Resolve (after the commit) or fail each job of the batch."""
        accepted: list[tuple[Job[_ReserveItem, Reservation], Reservation]] = []
        async with self._reserve_writer.transaction() as session:
            if any(job.item.ref.by != "secret" for job in batch):
                batch = await self._find_secrets(session, batch)
            payers = await self._lock_payers(session, [job.item for job in batch])
            available: dict[str, Decimal] = {}
            held: dict[str, Decimal] = {}
            for job in batch:
                try:
                    reservation = await self._hold(session, job.item, payers, available)
                except ApiError as error:
                    job.fail(error)  # nothing of it was written
                    continue
                if reservation.hold and reservation.wallet_id is not None:
                    wallet_id = reservation.wallet_id
                    held[wallet_id] = held.get(wallet_id, _ZERO) + reservation.hold
                accepted.append((job, reservation))
            for wallet_id in sorted(held):
                await repository.change_held(session, wallet_id, held[wallet_id])
            if accepted:
                seqs = await repository.insert_requests(
                    session,
                    [_row(reservation, "pending", None, None) for _, reservation in accepted],
                )
                for (_, reservation), seq in zip(accepted, seqs, strict=True):
                    reservation.seq = seq
        for job, reservation in accepted:
            job.resolve(reservation)

    async def _lock_payers(
        self, session: AsyncSession, items: list[_ReserveItem]
    ) -> dict[tuple[str, str, str | None, bool], repository.Payer | None]:
        """Lock the batch's wallets, in wallet id order (the order of every money transaction
        of the server, so that two batches never wait on each other in opposite orders)."""
        keys = sorted(
            {item.payer_key for item in items}, key=lambda key: (key[1], key[2] or "", key[0])
        )
        if len({key[1] for key in keys}) > 1:
            wallets = await repository.wallets_of(session, [key[1] for key in keys])
            keys.sort(key=lambda key: (wallets.get(key[1], ""), key[1], key[2] or "", key[0]))
        payers: dict[tuple[str, str, str | None, bool], repository.Payer | None] = {}
        for key in keys:
            payers[key] = await repository.lock_payer(
                session,
                key_hash=key[0],
                ref=repository.PayerRef("secret", key[1], key[2]),
                spend_key=key[3],
            )
        return payers

    async def _find_secrets(
        self, session: AsyncSession, batch: list[Job[_ReserveItem, Reservation]]
    ) -> list[Job[_ReserveItem, Reservation]]:
        """The ordinary path locks payers by their secrets, in wallet order: a current-era
        token's customer and meter are looked up first (one statement each, before any lock).
        Returns the jobs still to reserve; the others failed with the reason."""
        left = []
        for job in batch:
            item = job.item
            if item.ref.by != "secret" and item.secrets is None:
                item.secrets = await repository.payer_secrets(
                    session, item.key_hash, item.ref, spend_key=item.token.spend_key is not None
                )
                if item.secrets is None:
                    try:
                        await _diagnose(session, item.key_hash, item.token)
                        raise Unauthorized("The forward token's payer is not valid.")
                    except ApiError as error:
                        job.fail(error)
                        continue
            left.append(job)
        return left

    async def _hold(
        self,
        session: AsyncSession,
        item: _ReserveItem,
        payers: dict[tuple[str, str, str | None, bool], repository.Payer | None],
        available: dict[str, Decimal],
    ) -> Reservation:
        """Price one call's worst case against its wallet as the batch has left it."""
        payer = payers[item.payer_key]
        if payer is None:
            await _diagnose(session, item.key_hash, item.token)
            raise Unauthorized("The forward token's secrets are not valid.")  # unreachable
        product = payer.product
        config = DEFAULT_PRODUCT_CONFIG if product is None else self._config(product)
        product_key = item.product_key
        if product is not None and product_key is not None:
            if len(self._products) >= 1024:
                self._products.clear()
            self._products[product_key] = (product, config)
        if item.token.disable_billing:
            # Recorded on the customer, charged to nobody's wallet: no hold, no balance check;
            # but only under a meter of the customer's plan.
            if product is not None and not await products_repository.on_customer_plan(
                session, payer.merchant_id, payer.connection_id, product.id
            ):
                raise InvalidRequest(
                    f"The meter {item.token.meter_slug} is not on the customer's plan: a call "
                    "with disable_billing is recorded only under a meter of the customer's plan.",
                    param="meter_slug",
                )
            config = MERCHANT_PAYS_CONFIG
            self._bound(config, item, prior_units=0)  # still within the range of money
            return Reservation(
                call=item.call,
                merchant_id=payer.merchant_id,
                livemode=payer.livemode,
                connection_id=payer.connection_id,
                product_id=None if product is None else product.id,
                wallet_id=payer.wallet_id,
                config=config,
                hold=_ZERO,
                created_at=item.now,
                period_start=item.now,
                tiers=False,
            )
        period_start = usage_period(item.now, payer.cycle_started_at, payer.cycle_ends_at)[0]
        prior_units = 0  # with one tier the position cannot change the worst case
        if product is not None and len(config.tiers) > 1:
            prior_units = await repository.tier_units(
                session, payer.connection_id, product.id, period_start
            )
        bound = self._bound(config, item, prior_units=prior_units)
        hold = bound.total_wallet_cost
        if payer.frozen:
            raise WalletFrozen(
                "The wallet is frozen while a dispute of a payment that funded it is open. "
                "Nothing was forwarded."
            )
        overdraft = "block" if product is None else product.overdraft
        free = available.get(payer.wallet_id, payer.balance - payer.held)
        if free - hold < -MAX_AMOUNT:  # even an overdraft stops at the floor of money
            raise InsufficientBalance(
                f"Insufficient balance: this call may cost up to {format_money(hold)}, which would "
                f"take the wallet below -{format_money(MAX_AMOUNT)}. Nothing was forwarded."
            )
        if overdraft == "block" and free < hold:
            raise OutOfCredit(
                f"Insufficient balance: this call may cost up to {format_money(hold)} "
                f"(input estimated from the body plus {item.worst.output_tokens} output tokens "
                f"at most) but the wallet's available balance is {format_money(free)}. "
                "Nothing was forwarded; ask for fewer max tokens (max_tokens, "
                "max_output_tokens or max_completion_tokens) or top up the wallet.",
                wallet_id=payer.wallet_id,
                needed=hold,
            )
        grant = item.token.spend_key
        if grant is not None:
            # The key's allowance, under the wallet's lock and last: nothing may refuse the call
            # after this write (a refusal writes only the key's event).
            refused = await allowance.take(session, grant, hold, item.now)
            if refused is not None:
                raise refused
        available[payer.wallet_id] = free - hold
        return Reservation(
            call=item.call,
            merchant_id=payer.merchant_id,
            livemode=payer.livemode,
            connection_id=payer.connection_id,
            product_id=None if product is None else product.id,
            wallet_id=payer.wallet_id,
            config=config,
            hold=hold,
            created_at=item.now,
            period_start=period_start,
            spend_key=None if grant is None else grant.key_id,
        )

    async def _merchant_pays_with_key(self, grant: Grant, call: Call, now: datetime) -> Reservation:
        """A spend key that spends the merchant's own account: no wallet, but the key's
        allowance is reserved for the worst case the merchant may bear, and the call is stored
        `pending` in the same transaction, so that its settlement, its release or the sweeper
        of abandoned calls gives back what it did not use."""
        config = MERCHANT_PAYS_CONFIG
        costs = call.cost(call.pricing, call.worst_case)
        item = _ReserveItem(
            ForwardToken.of_spend_key(grant),
            grant.key_hash,
            call,
            call.worst_case,
            costs,
            now,
            repository.PayerRef("secret", "", None),
        )
        hold = self._bound(config, item, prior_units=0).total_merchant_cost
        reservation = Reservation(
            call=call,
            merchant_id=grant.merchant_id,
            livemode=grant.livemode,
            connection_id=None,
            product_id=grant.meter_id,
            wallet_id=None,
            config=config,
            hold=hold,
            created_at=now,
            period_start=now,
            merchant_ledger=True,
            spend_key=grant.key_id,
        )
        async with write_transaction(self.db, durable=False) as session:
            refused = await allowance.take(session, grant, hold, now)
            if refused is None:
                reservation.seq = await repository.insert_request(
                    session, _row(reservation, "pending", None, None)
                )
        if refused is not None:
            raise refused  # after the commit of the key's event, if one was due
        return reservation

    async def _merchant_pays(
        self, key_hash: str, token: ForwardToken, call: Call, now: datetime
    ) -> Reservation:
        """A current-era call without a customer: the merchant pays the provider cost (nothing
        with its own provider key) and the service charge, through its ledger account; no
        wallet, no hold, the row is written when the call ends (`docs/forward-proxy.md`)."""
        product_id = None
        async with self.db.read() as session:
            caller = (await find_keys(session, [key_hash])).get(key_hash)
            if caller is None:
                raise InvalidCredentials(
                    "The forward token's secret_key is not an active secret key.",
                    param="secret_key",
                )
            if token.meter_slug is not None:
                product_id = await products_repository.meter_id(
                    session, caller.merchant_id, caller.livemode, token.meter_slug
                )
                if product_id is None:
                    raise _no_meter(token.meter_slug)
        return Reservation(
            call=call,
            merchant_id=caller.merchant_id,
            livemode=caller.livemode,
            connection_id=None,
            product_id=product_id,
            wallet_id=None,
            config=MERCHANT_PAYS_CONFIG,
            hold=_ZERO,
            created_at=now,
            period_start=now,
            merchant_ledger=True,
        )

    async def _metering_only(self, key_hash: str, call: Call, now: datetime) -> Reservation:
        async with self.db.read() as session:
            caller = (await find_keys(session, [key_hash])).get(key_hash)
        if caller is None:
            raise InvalidCredentials(
                "The forward token's secret_key is not an active secret key.", param="secret_key"
            )
        return Reservation(
            call=call,
            merchant_id=caller.merchant_id,
            livemode=caller.livemode,
            connection_id=None,
            product_id=None,
            wallet_id=None,
            config=METERING_ONLY_CONFIG,
            hold=_ZERO,
            created_at=now,
            period_start=now,
        )

    def _bound(self, config: PricingConfig, item: _ReserveItem, *, prior_units: int) -> CostBound:
        """The hold of a call: its worst case priced (`price_upper_bound`); 400 before anything
        is sent when even that leaves the range of money."""
        try:
            return price_upper_bound(
                config,
                item.worst,
                prior_units=prior_units,
                service_charge_rate=self.service_charge_rate,
                input_cost=item.worst_costs[0],
                output_cost=item.worst_costs[1],
            )
        except OutOfRange as error:
            output = error.field == "output_tokens"
            raise InvalidRequest(
                f"{error.message}. Nothing was forwarded"
                + ("; ask for fewer output tokens." if output else "."),
                param="max_tokens" if output else "body",
            ) from None

    def _in_range(
        self, config: PricingConfig, counts: Usage, input_cost: Decimal, output_cost: Decimal
    ) -> bool:
        """Whether a call's usage can be priced within the range of money at any tier position."""
        try:
            price_upper_bound(
                config,
                counts,
                prior_units=0,
                service_charge_rate=self.service_charge_rate,
                input_cost=input_cost,
                output_cost=output_cost,
            )
        except OutOfRange:
            return False
        return True

    def _config(self, product: Product) -> PricingConfig:
        key = (product.id, product.updated_at)
        config = self._configs.get(key)
        if config is None:
            config = check_pricing(product)
            if len(self._configs) >= 1024:
                self._configs.clear()
            self._configs[key] = config
        return config

    # -- settle / release ------------------------------------------------------------------------

    async def settle(
        self, reservation: Reservation, usage: Usage, *, status: str
    ) -> PricedRequest | None:
        """Charge `usage` and close the reservation (`status` completed, or error for a call
        that broke off after its answer had begun). None if it was closed already."""
        if reservation.done:
            return None
        call = reservation.call
        model = usage.model or call.model
        counts = usage
        pricing = call.pricing
        if model and model != call.model:  # the answer names the model more precisely
            answered = self.prices.lookup(call.provider, model)
            if answered.known:
                pricing = answered
        input_cost, output_cost = call.cost(pricing, usage)
        metadata = call.metadata
        if not self._in_range(reservation.config, counts, input_cost, output_cost):
            # A provider that reports more than one request may cost or count: bill the worst
            # case its hold was priced for (within range), and say so.
            usage = dataclasses.replace(call.worst_case, model=model, estimated=True)
            counts = usage
            pricing = call.pricing
            input_cost, output_cost = call.cost(pricing, usage)
            metadata = {**metadata, OUT_OF_RANGE_KEY: "true"}
            status = "error"
        if usage.estimated:
            metadata = {**metadata, ESTIMATED_KEY: "true"}
        if pricing.source == "estimated":
            metadata = {**metadata, PRICE_ESTIMATED_KEY: "true"}
        item = _SettleItem(
            reservation=reservation,
            usage=usage,
            status=status,
            metadata=metadata,
            model=model,
            input_cost=input_cost,
            output_cost=output_cost,
        )
        if reservation.seq is None or reservation.wallet_id is None:
            priced = await self._settle_alone(item)
        else:
            priced = await self._settles.submit(item)
        if (
            priced is not None
            and reservation.wallet_id is not None
            and priced.total_wallet_cost > reservation.hold
        ):
            log.warning(
                "forward request %s cost %s, more than its hold of %s",
                call.request_id,
                priced.total_wallet_cost,
                reservation.hold,
            )
        return priced

    async def _write_settles(self, batch: list[Job[_SettleItem, PricedRequest | None]]) -> None:
        try:
            alone = await self._settle_together(batch)
        except NeedsSession as error:
            # Something the driver's session does not run (an ORM statement: period credit
            # due): rolled back, settled one by one with a session.
            log.info("settling %d calls with a session (%s)", len(batch), error)
            alone = [job for job in batch if not job.future.done()]
        except DBAPIError as error:
            log.info(
                "a batch of %d settlements failed (%s); settling them one by one", len(batch), error
            )
            alone = [job for job in batch if not job.future.done()]
        for job in alone:
            try:
                job.resolve(await self._settle_alone(job.item))
            except Exception as error:
                job.fail(error)

    async def _settle_together(
        self, batch: list[Job[_SettleItem, PricedRequest | None]]
    ) -> list[Job[_SettleItem, PricedRequest | None]]:
        """Settle the batch in one transaction; return the jobs to settle on their own (their
        wallet has period credit to spend or autopay to check)."""
        alone: list[Job[_SettleItem, PricedRequest | None]] = []
        done: list[tuple[Job[_SettleItem, PricedRequest | None], PricedRequest | None]] = []
        charges: list[tuple[Job[_SettleItem, PricedRequest | None], Charge]] = []
        try:
            async with self._settle_writer.driver_transaction() as session:
                now = utcnow()
                wallet_ids = sorted({job.item.wallet_id for job in batch})
                wallets = await open_wallets(session, wallet_ids, now, lock=True)
                live: list[Job[_SettleItem, PricedRequest | None]] = []
                for job in batch:
                    state = wallets.get(job.item.wallet_id)
                    if state is None or state.needs_session:
                        alone.append(job)
                    else:
                        live.append(job)
                if len(live) > 1:  # (a lone one is checked by `charge`)
                    seqs = [job.item.seq for job in live]
                    pending = await repository.pending_requests(session, seqs)
                else:
                    pending = {job.item.seq for job in live}
                for job in live:
                    if job.item.seq in pending:
                        charges.append((job, job.item.charge()))
                    else:
                        done.append((job, None))  # settled or released already
                await charge(session, self.settings, [c for _, c in charges], wallets, now)
                await _give_back(session, [(job.item.reservation, c) for job, c in charges])
        except AlreadyClosed:
            # The batch's one settlement found its request closed: all rolled back, nothing
            # to write (the other jobs of the batch, if any, are settled on their own).
            done = [(job, None) for job, _ in charges]
            charges = []
        done.extend((job, c.priced) for job, c in charges)
        for job, outcome in done:
            job.item.reservation.done = True
            job.resolve(outcome)
        return alone

    async def _settle_alone(self, item: _SettleItem) -> PricedRequest | None:
        """One settlement in its own transaction (an ORM session when the wallet has period
        credit or autopay), retried on a database error: idempotent, so safe to repeat."""
        reservation = item.reservation
        if reservation.done:
            return None
        core = True
        for attempt in range(_SETTLE_ATTEMPTS):
            try:
                # The lean Core transaction, unless the wallet has period credit to spend or
                # autopay to check: those writers need an ORM session.
                transaction = write_transaction(self.db) if core else self.db.write()
                async with transaction as session:
                    priced = await self._settle_in(session, item, core=core)
            except NeedsSession:
                core = False
                continue
            except _AlreadySettled:
                reservation.done = True
                return None
            except DBAPIError:
                if attempt + 1 == _SETTLE_ATTEMPTS:
                    log.exception("settling forward request %s failed", reservation.call.request_id)
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))
                continue
            reservation.done = True
            return priced
        return None  # not reached

    async def _settle_in(
        self, session: AsyncSession, item: _SettleItem, *, core: bool
    ) -> PricedRequest | None:
        now = utcnow()
        reservation = item.reservation
        wallets = {}
        if reservation.wallet_id is not None:
            await lock_wallet(session, reservation.wallet_id)
            # Due period credit expires before any debit (`wallets.credit`).
            wallets = await open_wallets(session, [reservation.wallet_id], now)
            state = wallets[reservation.wallet_id]
            if core and state.needs_session:
                raise NeedsSession
        settled = item.charge()
        try:
            await charge(session, self.settings, [settled], wallets, now)
        except AlreadyClosed:
            raise _AlreadySettled from None
        await _give_back(session, [(reservation, settled)])
        return settled.priced

    async def release(self, reservation: Reservation) -> None:
        """Close the reservation without charging anything; the request is stored `error`."""
        if reservation.done:
            return
        for attempt in range(_SETTLE_ATTEMPTS):
            try:
                async with write_transaction(self.db) as session:
                    if reservation.seq is None:
                        await repository.insert_request(
                            session, _row(reservation, "error", None, None)
                        )
                    else:
                        # Under the wallet's lock, as every closing of a pending request.
                        if reservation.wallet_id is not None and reservation.hold:
                            await repository.change_held(
                                session, reservation.wallet_id, -reservation.hold
                            )
                        elif reservation.wallet_id is not None:
                            await lock_wallet(session, reservation.wallet_id)
                        if not await repository.finish_request(
                            session, reservation.seq, {"status": "error"}
                        ):
                            raise _AlreadySettled
                        if reservation.spend_key is not None:
                            await allowance.give_back(
                                session,
                                reservation.spend_key,
                                reservation.hold,
                                reservation.created_at,
                                request=True,
                            )
            except _AlreadySettled:
                pass
            except DBAPIError:
                if attempt + 1 == _SETTLE_ATTEMPTS:
                    log.exception(
                        "releasing forward request %s failed", reservation.call.request_id
                    )
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))
                continue
            reservation.done = True
            return


def _held(
    item: _ReserveItem, reservation: Reservation, held: repository.QuickHold | None
) -> Reservation | None:
    """The reservation of a quick hold that was taken (None: nothing was written)."""
    if held is None or held.seq is None:
        return None
    reservation.merchant_id = held.merchant_id
    reservation.livemode = held.livemode
    reservation.connection_id = held.connection_id
    reservation.wallet_id = held.wallet_id
    reservation.period_start = usage_period(item.now, held.cycle_started_at, held.cycle_ends_at)[0]
    reservation.seq = held.seq
    return reservation


async def _give_back(session: AsyncSession, settled: list[tuple[Reservation, Charge]]) -> None:
    """Return to each spend key what its settled calls did not use of what they reserved, in key
    order (after the wallets' locks, as every writer of a key's allowance): one statement per key
    and UTC day of reservation. Every cycle of a limit starts at a UTC midnight, so calls
    reserved on one day belong to the same cycle of each of the key's limits."""
    unused: dict[tuple[str, date], tuple[Decimal, datetime]] = {}
    for reservation, c in settled:
        if reservation.spend_key is not None and c.priced is not None:
            back = reservation.hold - reservation.spent(c.priced)
            at = reservation.created_at
            group = (reservation.spend_key, at.astimezone(timezone.utc).date())
            total, latest = unused.get(group, (_ZERO, at))
            unused[group] = (total + back, max(latest, at))
    for (key_id, _), (back, reserved_at) in sorted(unused.items()):
        await allowance.give_back(session, key_id, back, reserved_at)


def _key_hash(secret_key: str) -> str:
    if not secret_key.startswith(SECRET_KEY_PREFIXES) or len(secret_key) > 200:
        raise InvalidCredentials(
            "The forward token's secret_key is not an active secret key.", param="secret_key"
        )
    return hash_secret_key(secret_key)


async def _diagnose(session: Any, key_hash: str, token: ForwardToken) -> None:
    """Say which secret of the token is wrong. Runs only after the rule (`repository.payer_rule`)
    refused the token, to name the reason in the error; it decides nothing."""
    if token.spend_key is not None:
        raise await allowance.unbound(session, token.spend_key)
    caller = (await find_keys(session, [key_hash])).get(key_hash)
    if caller is None:
        raise InvalidCredentials(
            "The forward token's secret_key is not an active secret key.", param="secret_key"
        )
    if token.v2:
        assert token.customer_id is not None and token.meter_slug is not None
        merchant_id, livemode = caller.merchant_id, caller.livemode
        if not await connections_repository.is_live_customer(
            session, merchant_id, livemode, token.customer_id
        ):
            raise NotFound(
                f"No customer {token.customer_id} (the forward token's customer_id: a customer's "
                "con_ id or reference_id, of the secret key's merchant and mode).",
                param="customer_id",
            )
        if (
            await products_repository.meter_id(session, merchant_id, livemode, token.meter_slug)
            is None
        ):
            raise _no_meter(token.meter_slug)
        return
    assert token.connection_secret is not None
    connection = await repository.find_connection(session, token.connection_secret)
    if connection is None:
        raise Unauthorized(
            "The forward token's connection_secret is not an active connection (unknown or "
            "deleted).",
            param="connection_secret",
        )
    key = (caller.merchant_id, caller.livemode)
    if connection != key:
        raise Forbidden(
            "The forward token's connection_secret belongs to another merchant or mode than its "
            "secret_key.",
            param="connection_secret",
        )
    if token.product_secret is not None:
        product = await repository.find_product(session, token.product_secret)
        if product is None:
            raise NotFound(
                "No product with the forward token's product_secret.", param="product_secret"
            )
        if product != key:
            raise Forbidden(
                "The forward token's product_secret belongs to another merchant or mode than its "
                "secret_key.",
                param="product_secret",
            )


def _no_meter(meter_slug: str) -> NotFound:
    return NotFound(
        f"No meter {meter_slug} (the forward token's meter_slug: a meter's slug or prd_ id, of "
        "the secret key's merchant and mode).",
        param="meter_slug",
    )


def _row(
    reservation: Reservation,
    status: str,
    usage: Usage | None,
    priced: PricedRequest | None,
    metadata: dict[str, str] | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """Every column of the request row (`seq` aside)."""
    call = reservation.call
    return request_row(
        request_id=call.request_id,
        merchant_id=reservation.merchant_id,
        livemode=reservation.livemode,
        connection_id=reservation.connection_id,
        product_id=reservation.product_id,
        wallet_id=reservation.wallet_id,
        status=status,
        provider=call.provider,
        provider_key_type=call.provider_key_type,
        endpoint=call.endpoint,
        model=model or call.model,
        usage=usage,
        config=reservation.config,
        priced=priced,
        hold=reservation.hold,
        metadata=metadata or call.metadata,
        fingerprint=FINGERPRINT,
        created_at=reservation.created_at,
        process_id=call.process_id,
        spend_key_id=reservation.spend_key,
    )
