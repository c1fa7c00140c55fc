"""``with_raw_response`` and ``with_streaming_response``, as in the openai SDK: on every resource
and on the client, sync and async, against our own server over real HTTP (SQLite and
PostgreSQL); and, through a transport that hands out the body chunk by chunk, that a streamed
answer's body is not read before the caller reads it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from lavapayments import (
    APIResponse,
    AsyncLava,
    AsyncStreamingAPIResponse,
    Lava,
    NotFoundError,
    StreamingAPIResponse,
)
from lavapayments.types import RestCustomer, RestProduct

from .conftest import call, collect
from .live import base_url, lava

__all__ = ["base_url", "lava"]

TIERS = [{"start": 0, "rate": "1", "type": "requests"}]


async def test_raw_response_headers_status_and_parse(lava) -> None:
    raw = await call(lava.customers.with_raw_response.create(reference_id="raw-1"))
    assert isinstance(raw, APIResponse)
    assert raw.status_code in (200, 201)
    assert raw.headers["content-type"].startswith("application/json")
    assert raw.request_id and raw.request_id == raw.headers["x-lava-request-id"]
    assert raw.method == "POST" and str(raw.url).endswith("/v1/customers")
    assert "X-Lava-Response-Mode" not in raw.http_request.headers  # the marker is never sent
    customer = raw.parse()
    assert isinstance(customer, RestCustomer) and customer.reference_id == "raw-1"
    assert raw.parse() is customer  # parsed once
    assert raw.json()["customer_id"] == customer.customer_id

    # The same through the client, and for a product (every resource has both views).
    product_raw = await call(
        lava.with_raw_response.products.create(name="Raw", tiers=TIERS, idempotency_key="k-raw")
    )
    assert product_raw.http_request.headers["idempotency-key"] == "k-raw"
    product = product_raw.parse()
    assert isinstance(product, RestProduct)

    # A page parsed from a raw answer still walks the following pages.
    await call(lava.customers.create(reference_id="raw-2"))
    page_raw = await call(lava.customers.with_raw_response.list(limit=1))
    assert page_raw.http_request.url.params["limit"] == "1"
    page = page_raw.parse()
    assert len(page.data) == 1
    assert [c.reference_id for c in await collect(page)] == ["raw-2", "raw-1"]

    answer = await call(lava.with_raw_response.request("GET", f"products/{product.product_id}"))
    assert answer.parse()["product_id"] == product.product_id

    with pytest.raises(NotFoundError):  # error statuses raise, as from the plain methods
        await call(lava.customers.with_raw_response.retrieve("con_test_nope"))


async def test_streaming_response(lava) -> None:
    made = await call(lava.products.create(name="Streamed", tiers=TIERS))
    if isinstance(lava, AsyncLava):
        async with lava.products.with_streaming_response.retrieve(made.product_id) as response:
            assert isinstance(response, AsyncStreamingAPIResponse)
            assert response.status_code == 200 and response.request_id
            body = b"".join([chunk async for chunk in response.iter_bytes()])
        assert response.is_closed
        async with lava.with_streaming_response.products.list() as response:
            lines = [line async for line in response.iter_lines()]
        async with lava.products.with_streaming_response.retrieve(made.product_id) as response:
            parsed = await response.parse()
        with pytest.raises(NotFoundError):
            async with lava.products.with_streaming_response.retrieve("prd_test_nope"):
                pass
    else:
        with lava.products.with_streaming_response.retrieve(made.product_id) as response:
            assert isinstance(response, StreamingAPIResponse)
            assert response.status_code == 200 and response.request_id
            body = b"".join(response.iter_bytes())
        assert response.is_closed
        with lava.with_streaming_response.products.list() as response:
            lines = list(response.iter_lines())
        with lava.products.with_streaming_response.retrieve(made.product_id) as response:
            parsed = response.parse()
        with (
            pytest.raises(NotFoundError),
            lava.products.with_streaming_response.retrieve("prd_test_nope"),
        ):
            pass
    assert json.loads(body)["product_id"] == made.product_id
    assert json.loads("\n".join(lines))["data"][0]["product_id"] == made.product_id
    assert parsed == made


class _Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body handed out one chunk at a time, recording how many chunks were taken."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks, self.taken = chunks, 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.taken += 1
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.taken += 1
            yield chunk


async def test_a_streamed_body_is_read_only_as_the_caller_reads_it(make_client) -> None:
    stream = _Chunks([b'{"data": [],\n', b'"has_more": false}\n'])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"x-lava-request-id": "req_1"}, stream=stream)

    client = make_client(handler)
    if isinstance(client, Lava):
        with client.connections.with_streaming_response.list() as response:
            assert stream.taken == 0 and response.request_id == "req_1"
            lines = response.iter_lines()
            assert next(lines) == '{"data": [],'
            assert stream.taken == 1
            assert list(lines) == ['"has_more": false}']
    else:
        async with client.connections.with_streaming_response.list() as response:
            assert stream.taken == 0 and response.request_id == "req_1"
            lines = response.iter_lines()
            assert await lines.__anext__() == '{"data": [],'
            assert stream.taken == 1
            assert [line async for line in lines] == ['"has_more": false}']
    assert stream.taken == 2
