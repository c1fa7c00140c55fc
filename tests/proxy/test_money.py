"""Money of forwarded calls (`docs/forward-proxy.md`): holds, 402 before forwarding, no charge for
what the provider refused or never answered, partial bills for what broke off, exactly-once
settlement."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import httpx
import openai
import pytest

from lava_server.app import create_app
from lava_server.merchants import service as merchants
from lava_server.metering.forward import Call, ForwardBilling
from lava_server.metering.repository import PostgresHolds, SqliteHolds
from lava_server.model_prices.book import PriceBook
from lava_server.proxy.credentials import decode_token
from lava_server.proxy.usage import make_usage
from lava_server.testing import serve_in_thread
from lava_server.testing.fake_provider import MIDSTREAM_AFTER_CHUNKS, count_tokens
from lava_server.wallets.service import check as ledger_check
from lavapayments.forward_token import encode_forward_token
from tests.e2e.servers import free_port
from tests.metering.helpers import make_connection, make_product
from tests.proxy.billing_checks import expected_price
from tests.proxy.conftest import Billed, make_billed

GPT = "gpt-4o-mini"
PROMPT = "Hello there, how are you today?"
OPENAI_BASE = "https://api.openai.com/v1"


def chat(prompt: str = PROMPT, **fields: object) -> dict[str, object]:
    return {"model": GPT, "messages": [{"role": "user", "content": prompt}], **fields}


async def post_chat(billed: Billed, body: dict[str, object], **kwargs: object) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(
            billed.forward_url(OPENAI_BASE + "/chat/completions"),
            json=body,
            headers={"Authorization": f"Bearer {billed.token}"},
            **kwargs,
        )


async def assert_clean(billed: Billed, db, balance: Decimal) -> None:
    assert await billed.balance() == balance
    assert (await ledger_check(db)).problems == []


async def test_402_before_forwarding_when_the_worst_case_does_not_fit(lava, merchant, fake, db):
    billed = await make_billed(lava.url, merchant, balance="0.001")
    # No max_tokens: the hold covers the model's ceiling (16,384 tokens of gpt-4o-mini).
    response = await post_chat(billed, chat())
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "insufficient_balance"
    assert "max" in error["message"] and "0.0010000000" in error["message"]
    assert fake.requests == []
    assert await billed.requests() == []
    # The same call asking for fewer tokens fits.
    response = await post_chat(billed, chat(max_tokens=100))
    assert response.status_code == 200, response.text
    stored = await billed.request(response.headers["x-lava-request-id"])
    await assert_clean(billed, db, Decimal("0.001") - Decimal(stored["total_wallet_cost"]))


async def test_concurrent_calls_see_each_others_holds(lava, merchant, fake, db):
    """One call's worst case fits the wallet, two do not: while the first is in flight the
    second is refused, though the wallet's balance has not been debited yet."""
    billed = await make_billed(lava.url, merchant, balance="0.004")
    slow_body = chat(PROMPT + " fake-slow-1500ms", max_tokens=1000)
    slow = asyncio.create_task(post_chat(billed, slow_body))
    deadline = time.monotonic() + 5
    while not fake.requests and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert len(fake.requests) == 1
    pending = await billed.requests(settled=False)
    assert [r["status"] for r in pending] == ["pending"]
    assert await billed.balance() < Decimal("0.004")  # the hold is out of the spendable balance
    second = await post_chat(billed, chat(max_tokens=1000))
    assert second.status_code == 402
    first = await slow
    assert first.status_code == 200
    stored = await billed.request(first.headers["x-lava-request-id"])
    assert stored["status"] == "completed"
    assert len(fake.requests) == 1
    await assert_clean(billed, db, Decimal("0.004") - Decimal(stored["total_wallet_cost"]))


@pytest.mark.parametrize("status", [400, 429, 500, 529])
async def test_provider_errors_pass_through_uncharged(billed, fake, db, status):
    response = await post_chat(billed, chat(f"fake-error-{status}", max_tokens=50))
    assert response.status_code == status
    assert response.json()["error"]["type"]  # the provider's own error body
    assert response.headers["x-request-id"].startswith("req_")
    stored = await billed.request(response.headers["x-lava-request-id"])
    assert stored["status"] == "error"
    assert stored["total_wallet_cost"] == "0.0000000000"
    await assert_clean(billed, db, Decimal(10))


async def test_unreachable_provider_is_502_uncharged(
    proxy_settings, upstream_env, merchant, monkeypatch, db
):
    monkeypatch.setenv("LAVA_UPSTREAM_OPENAI", f"http://127.0.0.1:{free_port()}")
    with serve_in_thread(create_app(proxy_settings)) as server:
        billed = await make_billed(server.url, merchant)
        response = await post_chat(billed, chat(max_tokens=50))
        assert response.status_code == 502
        assert response.json()["error"]["code"] == "upstream_error"
        stored = await billed.request(response.headers["x-lava-request-id"])
        assert stored["status"] == "error"
        await assert_clean(billed, db, Decimal(10))


async def test_no_answer_in_time_is_504_uncharged(billed, fake, db):
    started = time.monotonic()
    response = await post_chat(billed, chat("fake-slow-5000ms", max_tokens=50))
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert time.monotonic() - started < 4.5  # the first-byte timeout of the test server: 3 s
    stored = await billed.request(response.headers["x-lava-request-id"])
    assert stored["status"] == "error"
    await assert_clean(billed, db, Decimal(10))


async def broken_off(billed: Billed, request_id: str, db) -> dict[str, object]:
    """A call that broke off: status error, billed at least its input, and the books balance."""
    stored = await billed.request(request_id)
    assert stored["status"] == "error"
    usage = stored["model_usage"]
    assert usage["input_tokens"] >= count_tokens(PROMPT)
    assert Decimal(usage["input_cost"]) > 0
    assert Decimal(stored["total_wallet_cost"]) > 0
    await assert_clean(billed, db, Decimal(10) - Decimal(stored["total_wallet_cost"]))
    return stored


@pytest.mark.parametrize("stream", [True, False])
async def test_provider_drop_midstream_is_billed_partially(billed, fake, db, stream):
    async with httpx.AsyncClient(timeout=30) as http:
        request = http.build_request(
            "POST",
            billed.forward_url(OPENAI_BASE + "/chat/completions"),
            json=chat(PROMPT + " fake-drop-midstream", stream=stream, max_tokens=100),
            headers={"Authorization": f"Bearer {billed.token}"},
        )
        response = await http.send(request, stream=True)
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            await response.aread()  # the client sees the drop too
        request_id = response.headers["x-lava-request-id"]
    stored = await broken_off(billed, request_id, db)
    if stream:
        usage = stored["model_usage"]
        assert usage["output_tokens"] >= MIDSTREAM_AFTER_CHUNKS - 2  # what was relayed
        assert stored["metadata"] == {"lava_usage_estimated": "true"}


async def test_provider_going_idle_midstream_is_billed_partially(billed, fake, db):
    with openai.OpenAI(
        base_url=billed.forward_url(OPENAI_BASE), api_key=billed.token, max_retries=0
    ) as client:
        raw = client.chat.completions.with_raw_response.create(
            **chat(PROMPT + " fake-hang-midstream", max_tokens=100), stream=True
        )
        with pytest.raises(openai.APIError):
            list(raw.parse())
    await broken_off(billed, raw.headers["x-lava-request-id"], db)


async def test_in_stream_error_is_billed_with_status_error(billed, fake, db):
    response = await post_chat(billed, chat(PROMPT + " fake-error-midstream", stream=True))
    assert response.status_code == 200
    assert b'"error"' in response.content
    await broken_off(billed, response.headers["x-lava-request-id"], db)


async def test_client_disconnect_midstream_is_billed_partially(billed, fake, db):
    async with httpx.AsyncClient(timeout=30) as http:
        request = http.build_request(
            "POST",
            billed.forward_url(OPENAI_BASE + "/chat/completions"),
            json=chat(PROMPT + " fake-hang-midstream", stream=True, max_tokens=100),
            headers={"Authorization": f"Bearer {billed.token}"},
        )
        response = await http.send(request, stream=True)
        request_id = response.headers["x-lava-request-id"]
        async for _ in response.aiter_raw():
            break
        await response.aclose()
        left = time.monotonic()
    while (await billed.request(request_id, settled=False))["status"] == "pending":
        assert time.monotonic() - left < 0.9, "settled by the idle timeout, not the disconnect"
        await asyncio.sleep(0.02)
    await broken_off(billed, request_id, db)


async def test_settlement_is_idempotent(billed, db, proxy_settings):
    """Settling or releasing a call twice charges it once."""
    prices = PriceBook()
    billing = ForwardBilling(db, proxy_settings, prices)
    worst = make_usage(input_tokens=10, output_tokens=100, estimated=True)
    pricing = prices.lookup("openai", GPT)
    call = Call(
        "req-idem", "openai", "managed", "POST /v1/chat/completions", GPT, pricing, {}, worst
    )
    try:
        reservation = await billing.reserve(decode_token(billed.token), call)
    finally:
        await billing.aclose()
    assert reservation.hold > 0
    usage = make_usage(input_tokens=10, output_tokens=20, model=GPT)
    first = await billing.settle(reservation, usage, status="completed")
    assert first is not None
    reservation.done = False  # as if the outcome of the first settlement had been lost
    assert await billing.settle(reservation, usage, status="completed") is None
    reservation.done = False
    await billing.release(reservation)
    await billing.aclose()
    want = expected_price(billed.product, "openai", GPT, input_tokens=10, output_tokens=20)
    assert format(first.total_wallet_cost, "f") == want["total_wallet_cost"]
    stored = await billed.request("req-idem")
    assert stored["status"] == "completed"
    await assert_clean(billed, db, Decimal(10) - first.total_wallet_cost)


async def test_concurrent_calls_are_batched_and_billed_once(lava, merchant, fake, db):
    """40 calls at once, some streamed, against a wallet that pays for only some: holds and
    settlements go through group commit; each answered call is billed once, the others are
    neither forwarded nor stored, and nothing stays held."""
    billed = await make_billed(
        lava.url,
        merchant,
        balance="0.5",
        tiers=[{"start": 0, "rate": "1000", "type": "tokens_1m"}],
    )
    async with httpx.AsyncClient(
        timeout=30, limits=httpx.Limits(max_connections=40, max_keepalive_connections=40)
    ) as http:

        async def one(index: int) -> httpx.Response:
            body = chat(f"call {index} fake-tokens-50", max_tokens=50, stream=index % 2 == 1)
            return await http.post(
                billed.forward_url(OPENAI_BASE + "/chat/completions"),
                json=body,
                headers={"Authorization": f"Bearer {billed.token}"},
            )

        responses = await asyncio.gather(*(one(i) for i in range(40)))
    statuses = sorted(r.status_code for r in responses)
    answered = [r for r in responses if r.status_code == 200]
    assert set(statuses) == {200, 402} and answered, statuses
    assert len(fake.requests) == len(answered)
    charged = Decimal(0)
    for response in answered:
        stored = await billed.request(response.headers["x-lava-request-id"])
        assert stored["status"] == "completed"
        assert stored["model_usage"]["output_tokens"] == 50
        charged += Decimal(stored["total_wallet_cost"])
    assert len(await billed.requests()) == len(answered)
    await assert_clean(billed, db, Decimal("0.5") - charged)
    assert await billed.balance() >= 0


async def test_a_changed_or_deleted_product_is_seen_at_once(billed, fake, db):
    """Holds of a product seen before take a one-statement path on PostgreSQL; a product
    changed or deleted since must still be priced, or refused, as it is now."""
    first = await post_chat(billed, chat(max_tokens=20))
    assert first.status_code == 200
    async with billed.api() as api:
        changed = await api.put(
            f"products/{billed.product['product_id']}",
            json={"tiers": [{"start": 0, "rate": "5", "type": "tokens_1m"}], "overdraft": "allow"},
        )
        assert changed.status_code == 200, changed.text
    second = await post_chat(billed, chat(max_tokens=20))
    assert second.status_code == 200
    stored = await billed.request(second.headers["x-lava-request-id"])
    assert stored["fee"]["breakdown"][0]["tier"]["rate"] == "5"
    async with billed.api() as api:
        assert (await api.delete(f"products/{billed.product['product_id']}")).status_code == 200
    third = await post_chat(billed, chat(max_tokens=20))
    assert third.status_code == 404
    assert third.json()["error"]["param"] == "product_secret"
    assert len(fake.requests) == 2
    earlier = await billed.request(first.headers["x-lava-request-id"])
    charged = Decimal(earlier["total_wallet_cost"]) + Decimal(stored["total_wallet_cost"])
    await assert_clean(billed, db, Decimal(10) - charged)


async def test_the_quick_hold_refuses_what_the_ordinary_path_refuses(billed, fake, db, monkeypatch):
    """Once a product is known, a lone hold takes the quick path (one statement on PostgreSQL,
    plain sqlite3 on SQLite). It must store what the ordinary path stores, and write nothing
    (leaving the ordinary path to say why) for every call the ordinary path refuses."""
    ordinary = 0
    reserve_together = ForwardBilling._reserve_together

    async def counted(self, batch):
        nonlocal ordinary
        ordinary += 1
        await reserve_together(self, batch)

    monkeypatch.setattr(ForwardBilling, "_reserve_together", counted)
    quick = 0
    holds = SqliteHolds if db.is_sqlite else PostgresHolds
    original = holds.hold_many

    async def counting(self, batch):
        nonlocal quick
        quick += len(batch)
        return await original(self, batch)

    monkeypatch.setattr(holds, "hold_many", counting)
    first = await post_chat(billed, chat(max_tokens=20))
    assert first.status_code == 200 and ordinary == 1
    second = await post_chat(billed, chat(max_tokens=20))
    assert second.status_code == 200, second.text
    assert ordinary == 1  # the quick path
    stored = [await billed.request(r.headers["x-lava-request-id"]) for r in (first, second)]
    for request in stored:
        assert request["status"] == "completed"
        assert request["connection_id"] == billed.connection["connection_id"]
        assert request["product_id"] == billed.product["product_id"]
    charged = sum(Decimal(r["total_wallet_cost"]) for r in stored)
    await assert_clean(billed, db, Decimal(10) - charged)

    async def refused(headers: dict[str, str], body: dict[str, object]) -> httpx.Response:
        before, quick_before = ordinary, quick
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(
                billed.forward_url(OPENAI_BASE + "/chat/completions"), json=body, headers=headers
            )
        assert ordinary == before + 1  # the quick path wrote nothing and handed over
        assert quick == quick_before + 1  # tried once, not again by the group commit
        return response

    token = {"Authorization": f"Bearer {billed.token}"}
    # Worst case over the balance: 402 (ten million tokens at $2 per million, plus the model).
    response = await refused(token, chat(max_tokens=10_000_000))
    assert response.status_code == 402, response.text
    assert response.json()["error"]["code"] == "insufficient_balance"
    # Another merchant's secret key with this connection and product: 403.
    other = await merchants.create_merchant(db, "Other", livemode=False)
    stranger = encode_forward_token(
        secret_key=other.secret_key,
        connection_secret=billed.connection["connection_secret"],
        product_secret=billed.product["product_secret"],
    )
    response = await refused({"Authorization": f"Bearer {stranger}"}, chat(max_tokens=20))
    assert response.status_code == 403, response.text
    assert response.json()["error"]["param"] == "connection_secret"
    # A deleted connection: 401.
    async with billed.api() as api:
        deleted = await api.delete(f"connections/{billed.connection['connection_id']}")
        assert deleted.status_code == 200, deleted.text
    response = await refused(token, chat(max_tokens=20))
    assert response.status_code == 401, response.text
    assert response.json()["error"]["param"] == "connection_secret"
    assert len(fake.requests) == 2
    assert len(await billed.requests()) == 2
    assert (await ledger_check(db)).problems == []


async def test_the_quick_hold_lets_an_overdraft_product_go_below_zero(lava, merchant, fake, db):
    billed = await make_billed(lava.url, merchant, balance="0.00001", overdraft="allow")
    stored = []
    for _ in range(3):  # the first takes the ordinary path, the others the quick one
        response = await post_chat(billed, chat(max_tokens=20))
        assert response.status_code == 200, response.text
        stored.append(await billed.request(response.headers["x-lava-request-id"]))
    assert len(await billed.requests()) == 3
    assert [r["status"] for r in stored] == ["completed"] * 3
    charged = sum(Decimal(r["total_wallet_cost"]) for r in stored)
    await assert_clean(billed, db, Decimal("0.00001") - charged)
    assert await billed.balance() < 0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("committed", [True, False])
async def test_a_quick_hold_whose_answer_is_lost_is_kept_or_retaken(
    billed, fake, db, monkeypatch, committed
):
    """The connection of a quick hold fails after the statement was sent. If PostgreSQL had
    committed it, the hold and pending request it wrote are found and used (not taken twice,
    not left held for ever); if not, the ordinary path takes the hold. Either way: one request,
    billed once, nothing left held."""
    first = await post_chat(billed, chat(max_tokens=20))  # the product is known from now on
    assert first.status_code == 200
    hold_many = PostgresHolds.hold_many
    failures = []

    async def lost(self, batch):
        if not failures:
            failures.extend(wanted.row["request_id"] for wanted in batch)
            if committed:
                await hold_many(self, batch)
            raise ConnectionResetError("connection lost")
        return await hold_many(self, batch)

    monkeypatch.setattr(PostgresHolds, "hold_many", lost)
    second = await post_chat(billed, chat(max_tokens=20))
    assert second.status_code == 200, second.text
    assert failures == [second.headers["x-lava-request-id"]]
    stored = [await billed.request(r.headers["x-lava-request-id"]) for r in (first, second)]
    assert [r["status"] for r in stored] == ["completed", "completed"]
    assert len(await billed.requests()) == 2
    charged = sum(Decimal(r["total_wallet_cost"]) for r in stored)
    await assert_clean(billed, db, Decimal(10) - charged)  # the balance: nothing still held


async def test_ledger_check_compares_what_is_held_with_the_calls_in_flight(billed, fake, db):
    """`lava ledger check` also checks that each wallet holds exactly what its pending calls
    hold: clean while a call is in flight, a `held` problem when the two disagree."""
    from sqlalchemy import update

    from lava_server.db.models import Wallet

    slow = asyncio.create_task(post_chat(billed, chat(PROMPT + " fake-slow-1500ms", max_tokens=50)))
    deadline = time.monotonic() + 5
    while not fake.requests and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    [pending] = await billed.requests(settled=False)
    assert pending["status"] == "pending"
    assert await billed.balance() < Decimal(10)
    assert (await ledger_check(db)).problems == []  # the hold matches the call in flight
    async with db.write() as session:
        await session.execute(update(Wallet).values(held=Wallet.held + Decimal("0.5")))
    [problem] = (await ledger_check(db)).problems
    assert problem.kind == "held"
    assert problem.found - problem.expected == Decimal("0.5")
    assert "held" in problem.describe()
    async with db.write() as session:
        await session.execute(update(Wallet).values(held=Wallet.held - Decimal("0.5")))
    assert (await slow).status_code == 200
    await asyncio.sleep(0.1)
    stored = await billed.request(pending["request_id"])
    await assert_clean(billed, db, Decimal(10) - Decimal(stored["total_wallet_cost"]))


async def test_a_worst_case_past_the_range_of_money_is_400_before_forwarding(
    lava, merchant, fake, db
):
    """$100,000,000 per million tokens: a million tokens would cost more than one request may."""
    billed = await make_billed(
        lava.url,
        merchant,
        balance="100000000",
        overdraft="allow",
        tiers=[{"start": 0, "rate": "100000000", "type": "tokens_1m"}],
    )
    response = await post_chat(billed, chat(max_tokens=1_000_000))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "max_tokens"
    assert "100000000.0000000000" in error["message"]
    assert fake.requests == []
    assert await billed.requests() == []
    await assert_clean(billed, db, Decimal("100000000"))


async def test_a_provider_claiming_usage_past_the_range_is_billed_its_hold(billed, fake, db):
    """A provider whose usage block claims 10^21 output tokens (more than any request may count
    or cost): the call is billed the worst case its hold was priced for, and marked."""
    response = await post_chat(
        billed, chat(PROMPT + " fake-claim-1000000000000000000000", max_tokens=50)
    )
    assert response.status_code == 200, response.text
    stored = await billed.request(response.headers["x-lava-request-id"])
    assert stored["status"] == "error"
    assert stored["metadata"]["lava_usage_out_of_range"] == "true"
    assert stored["model_usage"]["output_tokens"] == 50
    await assert_clean(billed, db, Decimal(10) - Decimal(stored["total_wallet_cost"]))


async def test_a_subscribed_wallet_pays_forward_calls_from_its_period_credit(
    lava, merchant, fake, db
):
    """Its usage period is the subscription's cycle, read back on the quick hold's own
    connection (SQLite answered its timestamps as text there: the second call was a 500)."""
    from tests.subscriptions.helpers import subscribe

    async with httpx.AsyncClient(base_url=lava.url, timeout=30) as http:
        subscription = await subscribe(http, merchant.headers, amount="20")
        product = await make_product(http, merchant.headers)
        connection = (
            await http.get(
                f"/v1/connections/{subscription['connection_id']}", headers=merchant.headers
            )
        ).json()
    token = encode_forward_token(
        secret_key=merchant.secret_key,
        connection_secret=connection["connection_secret"],
        product_secret=product["product_secret"],
    )
    billed = Billed(merchant, product, connection, token, lava.url)
    costs = Decimal(0)
    for _ in range(3):
        response = await post_chat(billed, chat(max_tokens=50))
        assert response.status_code == 200, response.text
        stored = await billed.request(response.headers["x-lava-request-id"])
        assert stored["status"] == "completed"
        costs += Decimal(stored["total_wallet_cost"])
    await assert_clean(billed, db, Decimal(20) - costs)


class _Gate:
    """Counts SQLite's quick-hold batches (PostgreSQL takes its quick holds one at a time);
    the first waits a moment before it is written, so that the calls arriving meanwhile go
    together in the next one, however the scheduler interleaves them on a busy machine."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sizes: list[int] = []
        self.holds: list[Decimal] = []
        self.armed = False
        self.batch: list[object] = []  # the batch being written
        original = SqliteHolds.hold_many
        gate = self

        async def hold_many(self, batch):
            gate.sizes.append(len(batch))
            gate.batch = list(batch)
            gate.holds += [wanted.hold for wanted in batch]
            if gate.armed:
                gate.armed = False
                await asyncio.sleep(0.3)
            return await original(self, batch)

        monkeypatch.setattr(SqliteHolds, "hold_many", hold_many)


async def _settled(billed: Billed, responses: list[httpx.Response]) -> list[dict[str, object]]:
    return [await billed.request(r.headers["x-lava-request-id"]) for r in responses]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_quick_holds_arriving_together_share_a_transaction(billed, fake, db, monkeypatch):
    """SQLite: the quick holds that arrive together are taken in one transaction (one commit);
    each is billed once, as on its own. (On PostgreSQL holds arriving together take the
    ordinary path's batch.)"""
    first = await post_chat(billed, chat(max_tokens=20))  # the ordinary path learns the product
    assert first.status_code == 200
    gate = _Gate(monkeypatch)
    gate.armed = True
    calls = 8
    responses = await asyncio.gather(
        *(post_chat(billed, chat(max_tokens=20)) for _ in range(calls))
    )
    assert [r.status_code for r in responses] == [200] * calls
    assert sum(gate.sizes) == calls  # every hold took the quick path...
    assert max(gate.sizes) > 1  # ...and some of them together
    stored = await _settled(billed, [first, *responses])
    assert [r["status"] for r in stored] == ["completed"] * (calls + 1)
    assert len(await billed.requests()) == calls + 1
    charged = sum(Decimal(str(r["total_wallet_cost"])) for r in stored)
    await assert_clean(billed, db, Decimal(10) - charged)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_quick_holds_of_one_batch_see_each_others_holds(
    lava, merchant, fake, db, monkeypatch
):
    """Six calls at once on a wallet whose balance covers two worst cases: whichever batches
    they fall in, two are forwarded and four are refused (402), never more spent than held."""
    billed = await make_billed(lava.url, merchant)
    gate = _Gate(monkeypatch)
    warm = await post_chat(billed, chat(max_tokens=1000))  # the ordinary path
    probe = await post_chat(billed, chat(max_tokens=1000))  # a quick hold: its worst case
    assert warm.status_code == probe.status_code == 200
    [worst] = gate.holds
    balance = (worst * 5 / 2).quantize(Decimal("0.0000000001"))
    async with httpx.AsyncClient(base_url=lava.url, timeout=30) as http:
        connection = await make_connection(http, merchant.headers, balance=str(balance))
    token = encode_forward_token(
        secret_key=merchant.secret_key,
        connection_secret=connection["connection_secret"],
        product_secret=billed.product["product_secret"],
    )
    tight = Billed(merchant, billed.product, connection, token, lava.url)
    gate.sizes.clear()
    gate.armed = True
    # Slow answers: no hold is settled (and given back) before every call has been decided.
    slow = chat(PROMPT + " fake-slow-1500ms", max_tokens=1000)
    responses = await asyncio.gather(*(post_chat(tight, slow) for _ in range(6)))
    assert sorted(r.status_code for r in responses) == [200, 200, 402, 402, 402, 402]
    assert sum(gate.sizes) == 6  # each tried the quick hold first
    forwarded = [r for r in responses if r.status_code == 200]
    stored = await _settled(tight, forwarded)
    assert [r["status"] for r in stored] == ["completed"] * 2
    assert len(await tight.requests()) == 4  # the merchant's: these two, the warm-up and probe
    charged = sum(Decimal(str(r["total_wallet_cost"])) for r in stored)
    await assert_clean(tight, db, balance - charged)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_failing_quick_hold_batch_is_rolled_back_whole(billed, fake, db, monkeypatch):
    """A database error in the middle of a batch of quick holds rolls back the holds already
    taken in it; every call of the batch then takes the ordinary path, once: each billed once,
    nothing left held."""
    import sqlite3

    first = await post_chat(billed, chat(max_tokens=20))
    assert first.status_code == 200
    gate = _Gate(monkeypatch)
    take = SqliteHolds._take
    failed: list[int] = []  # the size of the batch that failed

    def failing(self, connection, wanted, insert):
        # The second hold of the first batch of several fails, the first having been taken.
        if not failed and gate.sizes[-1] > 1 and wanted is gate.batch[1]:
            failed.append(gate.sizes[-1])
            raise sqlite3.OperationalError("disk I/O error")
        return take(self, connection, wanted, insert)

    monkeypatch.setattr(SqliteHolds, "_take", failing)
    ordinary = 0
    reserve_together = ForwardBilling._reserve_together

    async def counted(self, batch):
        nonlocal ordinary
        ordinary += len(batch)
        await reserve_together(self, batch)

    monkeypatch.setattr(ForwardBilling, "_reserve_together", counted)
    gate.armed = True
    calls = 6
    responses = await asyncio.gather(
        *(post_chat(billed, chat(max_tokens=20)) for _ in range(calls))
    )
    assert [r.status_code for r in responses] == [200] * calls
    # The batch that failed went to the ordinary path whole, the hold it had taken included.
    assert failed and ordinary == failed[0]
    stored = await _settled(billed, [first, *responses])
    assert [r["status"] for r in stored] == ["completed"] * (calls + 1)
    assert len(await billed.requests()) == calls + 1
    charged = sum(Decimal(str(r["total_wallet_cost"])) for r in stored)
    await assert_clean(billed, db, Decimal(10) - charged)
