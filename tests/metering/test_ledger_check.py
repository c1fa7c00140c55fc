"""`lava ledger check` on a database that is being charged (`wallets.service.check`): it reads
one snapshot, so the balances, the ledger sums and the holds it compares are of one moment
(PostgreSQL's default READ COMMITTED takes a new snapshot per statement: a debit committed
between two of them looked like a wallet whose balance disagrees with its ledger)."""

from __future__ import annotations

from lava_server.wallets import repository as wallets_repository
from lava_server.wallets.service import check as ledger_check
from tests.metering.helpers import balance_of, make_connection, make_product, report


async def test_a_debit_committed_while_the_check_reads_does_not_confuse_it(
    client, merchant, db, monkeypatch
):
    headers = merchant.headers
    product = await make_product(client, headers)
    connection = await make_connection(client, headers, balance="10")
    sums_of = wallets_repository.ledger_sums_by_wallet
    charged = []

    async def sums_then_a_debit(session):
        sums = await sums_of(session)
        # Another request is charged and committed after the check read the ledger and before
        # it reads the balances.
        response = await report(
            client, headers, connection, product, f"req-{len(charged)}", input_tokens=1000
        )
        assert response.status_code in (200, 201), response.text
        charged.append(response.json()["request_id"])
        return sums

    monkeypatch.setattr(wallets_repository, "ledger_sums_by_wallet", sums_then_a_debit)
    assert (await ledger_check(db)).problems == []
    assert charged
    assert await balance_of(client, headers, connection["connection_id"]) < 10
    monkeypatch.setattr(wallets_repository, "ledger_sums_by_wallet", sums_of)
    assert (await ledger_check(db)).problems == []
