"""Cursor pages: ``{"data": [...], "has_more": bool, "next_cursor": str}``.

Iterating a page walks every item of this page and of all the pages after it, fetching them as
needed; ``iter_pages()`` walks the pages themselves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any, Generic, TypeVar

import pydantic

from ._models import BaseModel

__all__ = ["AsyncCursorPage", "AsyncPaginator", "SyncCursorPage"]

ItemT = TypeVar("ItemT", bound=pydantic.BaseModel)


class _CursorPage(BaseModel, Generic[ItemT]):
    data: list[ItemT]
    has_more: bool = False
    next_cursor: str | None = None

    def has_next_page(self) -> bool:
        """Whether another page follows this one."""
        return self.has_more and bool(self.next_cursor)


class SyncCursorPage(_CursorPage[ItemT], Generic[ItemT]):
    """A page of a list, from a sync client.

    ``for item in page`` yields every item of every page from this one on.
    """

    _fetch_page: Callable[[str], SyncCursorPage[ItemT]] | None = pydantic.PrivateAttr(default=None)

    def get_next_page(self) -> SyncCursorPage[ItemT]:
        """Fetch the page after this one.

        Raises:
            RuntimeError: if this is the last page (see ``has_next_page()``).
        """
        if not self.has_next_page() or self._fetch_page is None or self.next_cursor is None:
            raise RuntimeError("No next page: check has_next_page() first.")
        return self._fetch_page(self.next_cursor)

    def iter_pages(self) -> Iterator[SyncCursorPage[ItemT]]:
        """Yield this page, then each following page, fetching them one at a time."""
        page = self
        while True:
            yield page
            if not page.has_next_page():
                return
            page = page.get_next_page()

    def __iter__(self) -> Iterator[ItemT]:  # type: ignore[override]
        """Yield every item of this page and of the pages after it."""
        for page in self.iter_pages():
            yield from page.data


class AsyncCursorPage(_CursorPage[ItemT], Generic[ItemT]):
    """A page of a list, from an async client.

    ``async for item in page`` yields every item of every page from this one on.
    """

    _fetch_page: Callable[[str], Awaitable[AsyncCursorPage[ItemT]]] | None = pydantic.PrivateAttr(
        default=None
    )

    async def get_next_page(self) -> AsyncCursorPage[ItemT]:
        """Fetch the page after this one.

        Raises:
            RuntimeError: if this is the last page (see ``has_next_page()``).
        """
        if not self.has_next_page() or self._fetch_page is None or self.next_cursor is None:
            raise RuntimeError("No next page: check has_next_page() first.")
        return await self._fetch_page(self.next_cursor)

    async def iter_pages(self) -> AsyncIterator[AsyncCursorPage[ItemT]]:
        """Yield this page, then each following page, fetching them one at a time."""
        page = self
        while True:
            yield page
            if not page.has_next_page():
                return
            page = await page.get_next_page()

    async def __aiter__(self) -> AsyncIterator[ItemT]:
        """Yield every item of this page and of the pages after it."""
        async for page in self.iter_pages():
            for item in page.data:
                yield item


class AsyncPaginator(Generic[ItemT]):
    """What an async ``list()`` returns: await it for the first page, or ``async for`` over it.

    ::

        page = await client.connections.list(limit=50)   # one page
        async for connection in client.connections.list():  # every item of every page
            ...
    """

    def __init__(self, fetch_first_page: Callable[[], Awaitable[AsyncCursorPage[ItemT]]]) -> None:
        self._fetch_first_page = fetch_first_page

    def __await__(self) -> Generator[Any, None, AsyncCursorPage[ItemT]]:
        return self._fetch_first_page().__await__()

    async def __aiter__(self) -> AsyncIterator[ItemT]:
        """Yield every item of every page."""
        page = await self
        async for item in page:
            yield item

    async def iter_pages(self) -> AsyncIterator[AsyncCursorPage[ItemT]]:
        """Yield every page, fetching them one at a time."""
        page = await self
        async for each in page.iter_pages():
            yield each
