"""Models without a price (`LAVA_UNKNOWN_MODEL`), on both doors: forwarded calls (real HTTP to our
server and on to the fake provider) and reported requests (`POST /v1/requests` with `provider` and
`model`); prices added with the real `lava prices add`, picked up by a running server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from lava_server.app import create_app
from lava_server.cli import app as cli_app
from lava_server.db.engine import Database
from lava_server.db.models import LedgerEntry, Request, Wallet
from lava_server.settings import Settings
from lava_server.testing import ServerThread, serve_in_thread
from lava_server.wallets.service import check as ledger_check
from lavapayments.forward_token import encode_forward_token
from tests.conftest import MerchantKey
from tests.e2e.servers import lava_cli
from tests.metering.helpers import make_connection, make_product
from tests.proxy.billing_checks import expected_price
from tests.proxy.conftest import Billed, make_billed

UNKNOWN = "gpt-from-the-future"
OPENAI = "https://api.openai.com/v1/chat/completions"
DEEPINFRA = "https://api.deepinfra.com/v1/openai/chat/completions"
SAMBANOVA = "https://api.sambanova.ai/v1/chat/completions"
LLAMA = "meta-llama/Llama-3.3-70B-Instruct"


def chat(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "Hi there"}], "max_tokens": 50}


async def forward(billed: Billed, url: str, body: dict[str, Any], token: str | None = None):
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(
            billed.forward_url(url),
            json=body,
            headers={"Authorization": f"Bearer {token or billed.token}"},
        )


def with_provider_key(billed: Billed) -> str:
    """The billed token, with the merchant's own key for providers the operator has none for."""
    return encode_forward_token(
        secret_key=billed.merchant.secret_key,
        connection_secret=billed.connection["connection_secret"],
        product_secret=billed.product["product_secret"],
        provider_key="sk-merchant-own",
    )


async def stored_rows(db: Database) -> tuple[int, int, Decimal]:
    """Request rows, ledger entries, and the money held in all wallets."""
    async with db.read() as session:
        requests = await session.scalar(select(func.count()).select_from(Request))
        entries = await session.scalar(select(func.count()).select_from(LedgerEntry))
        held = await session.scalar(select(func.coalesce(func.sum(Wallet.held), 0)))
    return int(requests or 0), int(entries or 0), Decimal(held or 0)


def assert_refused(response: httpx.Response, model: str, provider: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_request", "model")
    assert repr(model) in error["message"] and "lava prices add" in error["message"]
    assert provider in error["message"]


@contextmanager
def serving(proxy_settings: Settings, **changes: Any) -> Iterator[ServerThread]:
    app = create_app(proxy_settings.model_copy(update=changes))
    with serve_in_thread(app, shutdown_timeout=5) as server:
        yield server


# --------------------------------------------------------------------------- forwarded calls


async def test_refuse_sends_holds_and_stores_nothing(billed, fake, db):
    before = await stored_rows(db)
    response = await forward(billed, OPENAI, chat(UNKNOWN))
    assert_refused(response, UNKNOWN, "openai")
    assert "lava prices add openai gpt-from-the-future --input-mtok" in response.text
    assert fake.requests == []
    assert await stored_rows(db) == before == (0, before[1], Decimal(0))
    assert await billed.requests() == []
    assert await billed.balance() == Decimal(10)
    # A call that names no model is refused the same way; a known model goes through.
    response = await forward(billed, OPENAI, {"messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == 400 and "names no model" in response.json()["error"]["message"]
    assert fake.requests == []
    assert (await forward(billed, OPENAI, chat("gpt-4o-mini"))).status_code == 200
    assert (await ledger_check(db)).problems == []


async def test_refuse_leaves_unbilled_calls_alone(billed, fake, db):
    """Calls no wallet pays for are not held to the rule: a metering-only token (the merchant's
    own key pays the provider) and a call that is not metered (a model list)."""
    metering_only = encode_forward_token(
        secret_key=billed.merchant.secret_key,
        connection_secret=None,
        product_secret=None,
        provider_key="sk-x",
    )
    response = await forward(billed, OPENAI, chat(UNKNOWN), token=metering_only)
    assert response.status_code == 200, response.text
    stored = await billed.request(response.headers["x-lava-request-id"])
    assert stored["status"] == "completed"
    assert stored["model_usage"]["total_cost"] == "0.0000000000"
    async with httpx.AsyncClient(timeout=30) as http:
        listed = await http.get(
            billed.forward_url("https://api.openai.com/v1/models"),
            headers={"Authorization": f"Bearer {billed.token}"},
        )
    assert listed.status_code == 200
    assert len(fake.requests) == 2


async def test_estimate_prices_like_the_dearest_model_and_marks(
    proxy_settings, upstream_env, merchant, fake, db
):
    with serving(proxy_settings, unknown_model="estimate") as server:
        billed = await make_billed(server.url, merchant)
        response = await forward(billed, OPENAI, chat(UNKNOWN))
        assert response.status_code == 200, response.text
        stored = await billed.request(response.headers["x-lava-request-id"])
    usage = stored["model_usage"]
    # OpenAI's dearest model by output price per million tokens is o1-pro ($150 in, $600 out).
    want = expected_price(
        billed.product,
        "openai",
        "o1-pro",
        input_tokens=usage["input_tokens"],
        output_tokens=usage["output_tokens"],
    )
    assert Decimal(want["total_cost"]) > 0
    assert (usage["input_cost"], usage["output_cost"]) == (want["input_cost"], want["output_cost"])
    assert stored["total_wallet_cost"] == want["total_wallet_cost"]
    assert stored["metadata"] == {"lava_price_estimated": "true"}
    assert stored["model"] == UNKNOWN
    assert len(fake.requests) == 1
    assert (await ledger_check(db)).problems == []


async def test_free_bills_no_provider_cost(proxy_settings, upstream_env, merchant, fake, db):
    with serving(proxy_settings, unknown_model="free") as server:
        billed = await make_billed(server.url, merchant)
        response = await forward(billed, OPENAI, chat(UNKNOWN))
        assert response.status_code == 200, response.text
        stored = await billed.request(response.headers["x-lava-request-id"])
    assert stored["model_usage"]["total_cost"] == "0.0000000000"
    assert Decimal(stored["fee"]["amount"]) > 0  # the product's fee is still billed
    assert stored["metadata"] == {}
    assert (await ledger_check(db)).problems == []


async def test_the_four_seed_providers_without_prices(billed, fake, db):
    """SambaNova's models are priced from the price library; DeepInfra, Kluster and Chutes have
    no prices there, so their models are refused until the operator adds prices."""
    token = with_provider_key(billed)
    response = await forward(billed, SAMBANOVA, chat("Meta-Llama-3.3-70B-Instruct"), token=token)
    assert response.status_code == 200, response.text
    stored = await billed.request(response.headers["x-lava-request-id"])
    usage = stored["model_usage"]
    want = expected_price(
        billed.product,
        "sambanova",
        "Meta-Llama-3.3-70B-Instruct",
        input_tokens=usage["input_tokens"],
        output_tokens=usage["output_tokens"],
    )
    assert Decimal(usage["output_cost"]) == Decimal(usage["output_tokens"]) * Decimal("1.2") / 10**6
    assert usage["total_cost"] == want["total_cost"]
    for url, provider in [
        (DEEPINFRA, "deepinfra"),
        ("https://api.kluster.ai/v1/chat/completions", "kluster"),
        ("https://llm.chutes.ai/v1/chat/completions", "chutes"),
    ]:
        assert_refused(await forward(billed, url, chat(LLAMA), token=token), LLAMA, provider)
    assert len(fake.requests) == 1


# ---------------------------------------------------------------------- reported requests


@asynccontextmanager
async def api(settings: Settings, db: Database, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=changes), db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lava.test") as http:
        yield http


async def payer(http: httpx.AsyncClient, merchant: MerchantKey) -> dict[str, Any]:
    product = await make_product(http, merchant.headers)
    connection = await make_connection(http, merchant.headers)
    return {
        "connection_secret": connection["connection_secret"],
        "product_secret": product["product_secret"],
    }


async def report(
    http: httpx.AsyncClient, merchant: MerchantKey, secrets: dict[str, Any], **fields: Any
) -> httpx.Response:
    body = {
        "request_id": "r1",
        **secrets,
        "input_tokens": 1000,
        "output_tokens": 500,
        **fields,
    }
    return await http.post("/v1/requests", json=body, headers=merchant.headers)


async def test_reported_unknown_model_refused(settings, db, merchant):
    async with api(settings, db) as http:
        secrets = await payer(http, merchant)
        before = await stored_rows(db)
        response = await report(http, merchant, secrets, provider="openai", model=UNKNOWN)
        assert_refused(response, UNKNOWN, "openai")
        # Without `provider`, the model is looked up by name alone: still unknown.
        response = await report(http, merchant, secrets, model=UNKNOWN)
        assert_refused(response, UNKNOWN, "provider")
        assert await stored_rows(db) == before
        listed = await http.get("/v1/requests", headers=merchant.headers)
        assert listed.json()["data"] == []
        # A report without `model` bills the product's fee alone, as before.
        assert (await report(http, merchant, secrets, request_id="r2")).status_code == 201


async def test_reported_unknown_model_estimated_or_free(settings, db, merchant):
    async with api(settings, db, unknown_model="estimate") as http:
        secrets = await payer(http, merchant)
        estimated = (await report(http, merchant, secrets, provider="openai", model=UNKNOWN)).json()
    want = expected_price(
        {"tiers": [{"start": 0, "rate": "2", "type": "tokens_1m"}]},
        "openai",
        "o1-pro",
        input_tokens=1000,
        output_tokens=500,
    )
    assert estimated["model_usage"]["total_cost"] == want["total_cost"]
    assert estimated["total_wallet_cost"] == want["total_wallet_cost"]
    assert estimated["metadata"] == {"lava_price_estimated": "true"}
    async with api(settings, db, unknown_model="free") as http:
        free = (
            await report(http, merchant, secrets, request_id="r2", provider="openai", model=UNKNOWN)
        ).json()
    assert free["model_usage"]["total_cost"] == "0.0000000000"
    assert free["metadata"] == {}
    assert (await ledger_check(db)).problems == []


# ------------------------------------------------------------------------- lava prices add


async def cli(*args: str) -> str:
    done = await asyncio.to_thread(lava_cli, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
async def test_a_price_added_from_the_shell_is_used_by_a_running_server(
    proxy_settings, upstream_env, merchant, fake, db, database_url
):
    url = ["--database-url", database_url]
    with serving(proxy_settings, model_prices_refresh_seconds=0.2) as server:
        billed = await make_billed(server.url, merchant)
        token = with_provider_key(billed)
        assert_refused(
            await forward(billed, DEEPINFRA, chat(LLAMA), token=token), LLAMA, "deepinfra"
        )

        await cli("prices", "add", "deepinfra", LLAMA, "--input-mtok", "0.23", "--output-mtok",
                  "0.40", "--context-window", "131072", *url)  # fmt: skip
        deadline = time.monotonic() + 10
        while (
            response := await forward(billed, DEEPINFRA, chat(LLAMA), token=token)
        ).status_code == 400:
            assert time.monotonic() < deadline, "the server did not pick the price up"
            await asyncio.sleep(0.1)
        assert response.status_code == 200, response.text
        stored = await billed.request(response.headers["x-lava-request-id"])
        usage = stored["model_usage"]
        input_cost = Decimal(usage["input_tokens"]) * Decimal("0.23") / 10**6
        output_cost = Decimal(usage["output_tokens"]) * Decimal("0.40") / 10**6
        assert Decimal(usage["input_cost"]) == input_cost.quantize(Decimal("1e-10"))
        assert Decimal(usage["output_cost"]) == output_cost.quantize(Decimal("1e-10"))
        assert stored["metadata"] == {}

        # The same price prices a reported request of that model.
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            secrets = await payer(http, merchant)
            reported = await report(http, merchant, secrets, provider="deepinfra", model=LLAMA)
        assert reported.status_code == 201, reported.text
        assert reported.json()["model_usage"]["total_cost"] == "0.0004300000"  # 230 + 200 micro$

        listed = json.loads(await cli("prices", "list", "--provider", "deepinfra", "--json", *url))
        assert listed == [
            {
                "provider": "deepinfra",
                "model": LLAMA.lower(),
                "source": "database",
                "prices": {"input_mtok": "0.23", "output_mtok": "0.40"},
                "tiers": [],
                "context_window": 131072,
                "max_output_tokens": None,
            }
        ]
        library = json.loads(await cli("prices", "list", "--model", "gpt-4o-mini", "--json", *url))
        assert {"provider": "openai", "model": "gpt-4o-mini", "source": "genai-prices"}.items() <= {
            key: value
            for row in library
            if row["model"] == "gpt-4o-mini"
            for key, value in row.items()
        }.items()

        await cli("prices", "remove", "deepinfra", LLAMA, *url)
        deadline = time.monotonic() + 10
        while (
            response := await forward(billed, DEEPINFRA, chat(LLAMA), token=token)
        ).status_code == 200:
            assert time.monotonic() < deadline, "the server did not drop the price"
            await asyncio.sleep(0.1)
        assert_refused(response, LLAMA, "deepinfra")
    assert (await ledger_check(db)).problems == []


def test_prices_add_refuses_bad_prices(database_url):
    url = ["--database-url", database_url]
    runner = CliRunner()
    for args, message in [
        (["deepinfra", "m", "--input-mtok", "abc"], "'abc' is not a decimal number"),
        (["deepinfra", "m", "--input-mtok", "-1"], "from 0 to 10000"),
        (["deepinfra", "m", "--output-mtok", "20000"], "from 0 to 10000"),
        (["deepinfra", "m", "--input-mtok", "0.00000000001"], "at most 10 decimal places"),
        (["deepinfra", "m"], "give at least one price"),
        (["deepinfre", "m", "--input-mtok", "1"], "Unknown provider 'deepinfre'"),
        (["deepinfra", " ", "--input-mtok", "1"], "1 to 255 printable characters"),
    ]:
        done = runner.invoke(cli_app, ["prices", "add", *args, *url])
        assert done.exit_code == 1, (args, done.output)
        assert message in " ".join(done.output.split()), (args, done.output)
    listed = runner.invoke(cli_app, ["prices", "list", "--provider", "deepinfra", "--json", *url])
    assert json.loads(listed.stdout) == []


async def test_a_transcription_is_held_to_the_model_of_its_upload(billed, fake, db):
    """A transcription names its model in a multipart field: read before forwarding."""

    async def upload(model: str) -> httpx.Response:
        async with httpx.AsyncClient(timeout=30) as http:
            return await http.post(
                billed.forward_url("https://api.openai.com/v1/audio/transcriptions"),
                files={"file": ("a.mp3", b"\0" * 1000, "audio/mpeg")},
                data={"model": model},
                headers={"Authorization": f"Bearer {billed.token}"},
            )

    assert_refused(await upload("whisper-from-the-future"), "whisper-from-the-future", "openai")
    assert fake.requests == []
    sent = await upload("whisper-1")
    assert len(fake.requests) == 1
    stored = await billed.request(sent.headers["x-lava-request-id"])
    assert stored["model"] == "whisper-1"
