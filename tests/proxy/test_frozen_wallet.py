"""A frozen wallet (a dispute of a payment that funded it is open: `wallets.operations`) takes
no forward call: 402 `wallet_frozen`, nothing sent, nothing held, on the quick hold's path and the
ordinary one, on SQLite and PostgreSQL; thawed, calls go through again. (The dispute itself, from
Stripe's webhook, is tested in tests/checkout/test_stripe_checkout.py.)"""

from __future__ import annotations

from sqlalchemy import select

from lava_server.db.models import Connection, Wallet
from lava_server.timeutil import utcnow
from lava_server.wallets import repository as wallets
from lava_server.wallets.service import check as ledger_check
from tests.proxy.test_token_v2 import Shop


async def wallet_of(db, shop: Shop) -> Wallet:
    async with db.read() as session:
        query = (
            select(Wallet)
            .join(Connection, Connection.wallet_id == Wallet.id)
            .where(Connection.id == shop.customer["connection_id"])
        )
        return (await session.execute(query)).scalar_one()


async def freeze(db, wallet_id: str, frozen: bool) -> None:
    async with db.write() as session:
        await wallets.set_frozen(session, wallet_id, utcnow() if frozen else None)


async def test_a_frozen_wallet_takes_no_forward_call(lava, merchant, fake, db):
    shop = await Shop(lava.url, merchant).setup()
    token = shop.token(
        customer_id=shop.customer["connection_id"], meter_slug=shop.meter["meter_slug"]
    )
    ok = await shop.call(token)  # learns the meter: the next holds take the quick path
    await shop.stored(ok)
    wallet = await wallet_of(db, shop)
    await freeze(db, wallet.id, True)
    sent = len(fake.requests)
    for _ in range(2):  # the quick hold refuses; the ordinary path says why
        refused = await shop.call(token)
        assert refused.status_code == 402, refused.text
        assert refused.json()["error"]["code"] == "wallet_frozen"
    assert len(fake.requests) == sent
    frozen = await wallet_of(db, shop)
    assert (frozen.balance, frozen.held) == (wallet.balance, 0)
    await freeze(db, wallet.id, False)
    again = await shop.call(token)
    assert again.status_code == 200, again.text
    await shop.stored(again)
    assert (await ledger_check(db)).problems == []
