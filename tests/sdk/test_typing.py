"""A type checker verifies code that uses the SDK: params, results, pages, overloads, providers."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from mypy import api

SRC = Path(__file__).resolve().parents[2] / "src"

GOOD = """
from decimal import Decimal

from lavapayments import NOT_GIVEN, APIResponse, AsyncLava, Lava, SyncCursorPage
from lavapayments.types import (
    CreateCheckoutSessionParams,
    RestCreditBundle,
    RestCustomer,
    RestPlan,
    RestProduct,
    RequestsListParams,
    RestConnection,
    RestSubscriptionConfig,
    UsageParams,
)

lava = Lava("aks_test_x")
params: CreateCheckoutSessionParams = {"checkout_mode": "onboarding", "origin_url": "https://a"}
token: str = lava.checkout_sessions.create(**params).checkout_session_token
filters: RequestsListParams = {"limit": 5, "metadata_filters": {"user_id": "1"}}
for request in lava.requests.list(**filters):
    cost: Decimal = request.total_request_cost
for page in lava.connections.list().iter_pages():
    first: list[RestConnection] = page.data
usage: UsageParams = {"start": "2025-05-01T00:00:00Z"}
total: Decimal = lava.usage.retrieve(**usage).totals.total_request_cost
configs: list[RestSubscriptionConfig] = lava.subscriptions.list_configs()
url: str = lava.providers.google_openai_compatible
billed: str = lava.generate_forward_token(connection_secret="c", product_secret="p")
metered: str = lava.generate_forward_token(provider_key="k")
raw: object = lava.request("GET", "connections", timeout=5, extra_headers={"X": "y"})
product: RestProduct = lava.products.retrieve("prd_1")
rate: Decimal = product.tiers[0].rate
plans: list[RestPlan] = lava.subscriptions.list_plans().data
lava.subscriptions.update("as_1", auto_top_up_bundle_id=None)
lava.customers.update("con_1", name=None, email=NOT_GIVEN)
raw_customer: APIResponse[RestCustomer] = lava.customers.with_raw_response.retrieve("c")
parsed_customer: RestCustomer = raw_customer.parse()
raw_page: SyncCursorPage[RestProduct] = lava.with_raw_response.products.list().parse()
with lava.products.with_streaming_response.list() as streamed:
    lines: list[str] = list(streamed.iter_lines())
    streamed_page: SyncCursorPage[RestProduct] = streamed.parse()
lava.requests.create(request_id="r", customer_id="con_1", meter_slug="chat", input_tokens=1)
lava.requests.create(request_id="r", connection_secret="c", product_secret="p")
answer: object = lava.gateway("https://api.openai.com/v1/chat/completions", meter_slug="m")


async def main(client: AsyncLava) -> None:
    async for connection in client.connections.list(limit=10):
        balance: Decimal = connection.wallet.balance
    page = await client.connections.list()
    items: list[RestConnection] = page.data
    more = await page.get_next_page()
    async for each in more.iter_pages():
        pass
    config: RestSubscriptionConfig = await client.subscriptions.create_config(
        name="Pro", period_amount=Decimal("25"), rollover_type="full"
    )
    bundle: RestCreditBundle = await client.credit_bundles.retrieve("cb_1")
    raw_plan = await client.subscriptions.with_raw_response.retrieve_plan("sc_1")
    plan: RestPlan = raw_plan.parse()
    raw_list = await client.with_raw_response.customers.list()
    customers: list[RestCustomer] = raw_list.parse().data
    async with client.customers.with_streaming_response.retrieve("c") as stream:
        async for line in stream.iter_lines():
            text: str = line
        customer: RestCustomer = await stream.parse()
    async with client.gateway_stream("https://api.openai.com/v1", body={"stream": True}) as sse:
        async for chunk in sse.iter_bytes():
            data: bytes = chunk
"""

BAD = {
    "wrong literal": 'lava.checkout_sessions.create(checkout_mode="nope", origin_url="x")',
    "missing required": 'lava.checkout_sessions.create(origin_url="x")',
    "wrong type": 'lava.connections.list(limit="5")',
    "half a token": 'lava.generate_forward_token(connection_secret="c")',
    "unknown provider": "lava.providers.not_a_provider",
    "incomplete params": 'bad: CreateCheckoutSessionParams = {"checkout_mode": "topup"}',
    "unknown param": 'lava.requests.list(colour="red")',
    "not awaited": "x: RestConnection = AsyncLava('k').connections.retrieve('c')",
    "raw is not parsed": "y: RestConnection = lava.connections.with_raw_response.retrieve('c')",
    "wrong gateway format": "lava.gateway('https://a', format='cobol')",
    "mixed eras": "lava.requests.create(request_id='r', connection_secret='c', meter_slug='m')",
}


def check(source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, int]:
    path = tmp_path / "sample.py"
    path.write_text(textwrap.dedent(source))
    monkeypatch.setenv("MYPYPATH", str(SRC))
    stdout, _, status = api.run(
        [
            "--strict",
            "--no-incremental",
            "--config-file",
            "",
            "--cache-dir",
            str(tmp_path / "c"),
            str(path),
        ]
    )
    return stdout, status


@pytest.mark.slow
def test_typed_usage_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stdout, status = check(GOOD, tmp_path, monkeypatch)
    assert status == 0, stdout


@pytest.mark.slow
def test_misuse_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    header = (
        "from lavapayments import AsyncLava, Lava\n"
        "from lavapayments.types import CreateCheckoutSessionParams, RestConnection\n"
        "lava = Lava('aks_test_x')\n"
    )
    lines = list(BAD.values())
    stdout, status = check(header + "\n".join(lines) + "\n", tmp_path, monkeypatch)
    assert status == 1
    flagged = {int(n) for n in re.findall(r"sample\.py:(\d+): error", stdout)}
    first = header.count("\n") + 1
    missed = [name for n, name in enumerate(BAD, start=first) if n not in flagged]
    assert not missed, stdout
