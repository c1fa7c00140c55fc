"""Property tests: any sequence of renewals, usage, top-ups and cancellation keeps the ledger
clean, and period credit behaves like a simple model of it — in particular, with rollover
`none`, credit past its period's end can never be spent, whether or not the worker came by."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select

from lava_server.db.models import CreditGrant
from lava_server.errors import InsufficientBalance
from lava_server.periods import cycle_period, cycle_start
from lava_server.settings import Settings
from lava_server.wallets.service import check as ledger_check
from lava_server.wallets.service import fund
from lava_server.worker.runner import run_once
from tests.checkout.helpers import billing_of
from tests.subscriptions.helpers import spend, subscribe, wallet_row

_phones = itertools.count(1000)


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Every example subscribes a new customer from the same test client: more codes than one
    client address may ask for in an hour (`LAVA_CODE_SENDS_PER_CLIENT_PER_HOUR`, 20), which
    the examples' clocks, moved about, could otherwise put in one hour."""
    return Settings(database_url=database_url, code_sends_per_client_per_hour=1000)


PERIOD_AMOUNT = Decimal(20)
STARTS = [
    datetime(2027, 1, 31, 10, tzinfo=timezone.utc),
    datetime(2028, 1, 30, 23, 59, tzinfo=timezone.utc),
    datetime(2027, 3, 31, 0, 0, tzinfo=timezone.utc),
    datetime(2027, 8, 15, 6, 30, tzinfo=timezone.utc),
]

cents = st.integers(min_value=1, max_value=4000).map(lambda c: Decimal(c) / 100)
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("advance"),
            st.integers(min_value=0, max_value=45),
            st.integers(min_value=0, max_value=23),
        ),
        # To just before, at or just after the end of the current period: where it matters.
        st.tuples(st.just("to_period_end"), st.sampled_from([-1, 0, 1])),
        st.tuples(st.just("usage"), cents),
        st.tuples(st.just("topup"), cents),
        st.tuples(st.just("worker")),
        st.tuples(st.just("cancel")),
    ),
    min_size=1,
    max_size=25,
)


@dataclass
class Grant:
    remaining: Decimal
    expires_at: datetime | None


@dataclass
class Model:
    """What the wallet should hold, expiring credit exactly on time."""

    started_at: datetime
    rollover: str
    purchased: Decimal = Decimal(0)
    grants: list[Grant] = field(default_factory=list)
    active: bool = True
    period_end: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.period_end = cycle_start(self.started_at, 1)
        self.grant(self.period_end)

    def grant(self, period_end: datetime) -> None:
        self.grants.append(Grant(PERIOD_AMOUNT, period_end if self.rollover == "none" else None))

    def expire(self, now: datetime) -> None:
        for grant in self.grants:
            if grant.expires_at is not None and grant.expires_at <= now:
                grant.remaining = Decimal(0)

    def available(self, now: datetime) -> Decimal:
        self.expire(now)
        return self.purchased + self.credit

    @property
    def credit(self) -> Decimal:
        return sum((g.remaining for g in self.grants), Decimal(0))

    def spend(self, amount: Decimal) -> None:
        order = sorted(
            (g for g in self.grants if g.remaining > 0),
            key=lambda g: (g.expires_at is None, g.expires_at or self.started_at),
        )
        for grant in order:
            used = min(grant.remaining, amount)
            grant.remaining -= used
            amount -= used
        self.purchased -= amount

    def renew(self, now: datetime) -> None:
        if self.active and self.period_end <= now:
            _, _, end = cycle_period(self.started_at, now)
            self.period_end = end
            self.grant(end)

    def cancel(self) -> None:
        if self.active:
            self.active = False
            for grant in self.grants:
                if grant.expires_at is None or grant.expires_at > self.period_end:
                    grant.expires_at = self.period_end


@hypothesis_settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@example(
    start=STARTS[0],
    rollover="none",
    steps=[("topup", Decimal(5)), ("to_period_end", 0), ("usage", Decimal(6))],
)
@given(
    start=st.sampled_from(STARTS),
    rollover=st.sampled_from(["none", "full"]),
    steps=operations,
)
async def test_any_sequence_keeps_the_ledger_clean_and_credit_honest(
    client, merchant, db, clock, start, rollover, steps
):
    billing = billing_of(client)
    clock.now = start
    phone = f"+1415555{next(_phones):04d}"
    sub = await subscribe(client, merchant.headers, amount="20", rollover=rollover, phone=phone)
    wallet_id = sub["wallet_id"]
    model = Model(start, rollover)
    now = start
    for step in steps:
        kind = step[0]
        if kind == "advance":
            now += timedelta(days=step[1], hours=step[2])
        elif kind == "to_period_end":
            now = max(now, model.period_end + timedelta(seconds=step[1]))
        elif kind == "usage":
            amount = step[1]
            allowed = model.available(now) >= amount
            try:
                await spend(db, billing.settings, wallet_id, amount, now)
                spent = True
            except InsufficientBalance:
                spent = False
            assert spent == allowed, (step, now, model)
            if spent:
                model.spend(amount)
        elif kind == "topup":
            await fund(db, wallet_id, step[1], livemode=False, source="test")
            model.purchased += step[1]
        elif kind == "worker":
            await run_once(billing, now)
            model.renew(now)
            model.expire(now)
        else:
            clock.now = now
            response = await client.delete(
                f"/v1/active-subscriptions/{sub['active_subscription_id']}",
                headers=merchant.headers,
            )
            assert response.status_code == 200
            model.cancel()
            model.expire(now)

        # The stored wallet, with what is due to expire taken out, is the model's wallet.
        wallet = await wallet_row(db, wallet_id)
        async with db.read() as session:
            rows = list(
                (
                    await session.execute(
                        select(CreditGrant).where(CreditGrant.wallet_id == wallet_id)
                    )
                ).scalars()
            )
        assert wallet.period_credit == sum((g.remaining for g in rows), Decimal(0))
        assert 0 <= wallet.period_credit <= max(wallet.balance, Decimal(0))
        due = sum(
            (g.remaining for g in rows if g.expires_at is not None and g.expires_at <= now),
            Decimal(0),
        )
        assert wallet.balance - due == model.available(now), (step, now, model)
        assert wallet.period_credit - due == model.credit, (step, now, model)
        if rollover == "none" and model.active:
            assert all(g.expires_at is not None for g in rows)
    report = await ledger_check(db)
    assert report.problems == []
