"""Cursor pages: item-by-item iteration across pages, iter_pages(), and the next-page requests."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from lavapayments import AsyncCursorPage, AsyncLava, AsyncPaginator, Lava, SyncCursorPage
from lavapayments.types import RestConnection

from . import payloads

IDS = [f"con_{n}" for n in range(7)]


class Pager:
    """Serves IDS in pages of ``limit``, with cursors, recording every request."""

    def __init__(
        self, ids: list[str] = IDS, make: Any = None, id_field: str = "connection_id"
    ) -> None:
        self.ids = ids
        self.make = make or payloads.connection
        self.id_field = id_field
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        limit = int(request.url.params.get("limit", "3"))
        cursor = request.url.params.get("cursor")
        start = self.ids.index(cursor) + 1 if cursor else 0
        chunk = self.ids[start : start + limit]
        more = start + limit < len(self.ids)
        data = [self.make(**{self.id_field: i}) for i in chunk]
        return httpx.Response(200, json=payloads.page(data, chunk[-1] if more else None))


def sync_client(handler: Pager) -> Lava:
    return Lava(
        "aks_test_p",
        base_url="http://lava.test/v1/",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )


def async_client(handler: Pager) -> AsyncLava:
    return AsyncLava(
        "aks_test_p",
        base_url="http://lava.test/v1/",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )


def test_sync_iteration_walks_every_page() -> None:
    pager = Pager()
    page = sync_client(pager).connections.list(
        limit=3, reference_id="r", extra_headers={"X-Trace": "t"}
    )
    assert isinstance(page, SyncCursorPage)
    assert [c.connection_id for c in page.data] == IDS[:3]
    assert len(pager.requests) == 1  # nothing fetched before it is needed

    assert [c.connection_id for c in page] == IDS
    assert all(isinstance(c, RestConnection) for c in page.data)
    assert [r.url.params.get("cursor") for r in pager.requests] == [None, "con_2", "con_5"]
    for request in pager.requests:  # the other arguments and options carry over
        assert request.url.params["limit"] == "3"
        assert request.url.params["reference_id"] == "r"
        assert request.headers["x-trace"] == "t"


def test_sync_iter_pages_and_next_page() -> None:
    page = sync_client(Pager()).connections.list(limit=3)
    pages = list(page.iter_pages())
    assert [[c.connection_id for c in p.data] for p in pages] == [IDS[:3], IDS[3:6], IDS[6:]]
    assert [p.has_more for p in pages] == [True, True, False]
    assert [p.next_cursor for p in pages] == ["con_2", "con_5", None]

    assert page.has_next_page()
    assert [c.connection_id for c in page.get_next_page().data] == IDS[3:6]
    last = pages[-1]
    assert not last.has_next_page()
    with pytest.raises(RuntimeError):
        last.get_next_page()


def test_has_more_without_a_cursor_stops() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [payloads.connection()], "has_more": True})

    page = Lava(
        "aks_test_p",
        base_url="http://lava.test/v1/",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    ).connections.list()
    assert not page.has_next_page()
    assert len(list(page)) == 1


def test_single_empty_page() -> None:
    page = sync_client(Pager([])).connections.list()
    assert page.data == [] and list(page) == [] and len(list(page.iter_pages())) == 1


def test_page_dumps_to_the_wire_shape() -> None:
    page = sync_client(Pager()).connections.list(limit=1)
    dumped = page.model_dump(mode="json")
    assert set(dumped) == {"data", "has_more", "next_cursor"}
    assert dumped["data"][0]["wallet"]["balance"] == "12.5000000000"


async def test_async_iteration_walks_every_page() -> None:
    pager = Pager()
    client = async_client(pager)

    paginator = client.connections.list(limit=3)
    assert isinstance(paginator, AsyncPaginator)
    assert [c.connection_id async for c in paginator] == IDS

    page = await client.connections.list(limit=3)
    assert isinstance(page, AsyncCursorPage)
    assert [c.connection_id for c in page.data] == IDS[:3]
    assert [c.connection_id async for c in page] == IDS
    assert [r.url.params.get("cursor") for r in pager.requests[-3:]] == [None, "con_2", "con_5"]


async def test_async_iter_pages_and_next_page() -> None:
    client = async_client(Pager())
    pages = [p async for p in client.connections.list(limit=3).iter_pages()]
    assert [len(p.data) for p in pages] == [3, 3, 1]

    page = await client.connections.list(limit=3)
    assert [len(p.data) async for p in page.iter_pages()] == [3, 3, 1]
    following = await page.get_next_page()
    assert [c.connection_id for c in following.data] == IDS[3:6]
    with pytest.raises(RuntimeError):
        await pages[-1].get_next_page()


LISTS = [
    ("checkout_sessions", payloads.checkout_session, "checkout_session_id"),
    ("connections", payloads.connection, "connection_id"),
    ("requests", payloads.request, "request_id"),
]


@pytest.mark.parametrize(("resource", "make", "id_field"), LISTS)
async def test_every_list_method_pages_on_both_clients(
    resource: str, make: Any, id_field: str
) -> None:
    pager = Pager(make=make, id_field=id_field)
    sync_items = list(getattr(sync_client(pager), resource).list(limit=2))
    async_items = [i async for i in getattr(async_client(pager), resource).list(limit=2)]
    assert [getattr(i, id_field) for i in sync_items] == IDS
    assert [getattr(i, id_field) for i in async_items] == IDS
    assert len(pager.requests) == 8  # four pages each
