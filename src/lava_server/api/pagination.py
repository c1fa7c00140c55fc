"""Cursor pagination (`docs/api.md#pagination`): newest first; `cursor` is the last item's id."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from fastapi import Query

from lava_server.api.schemas import Page
from lava_server.errors import InvalidRequest

Row = TypeVar("Row")
Item = TypeVar("Item")
MAX_LIMIT = 100
DEFAULT_LIMIT = 10


@dataclass(frozen=True)
class PageParams:
    cursor: str | None
    limit: int

    def check_cursor(self, pattern: re.Pattern[str]) -> None:
        if self.cursor is not None and not pattern.fullmatch(self.cursor):
            raise InvalidRequest("cursor is not a valid cursor for this list.", param="cursor")


async def page_params(
    cursor: str | None = Query(None, description="Id of the last item of the previous page."),
    limit: str | None = Query(None, description="Items per page, 1 to 100 (default 10)."),
) -> PageParams:
    """FastAPI dependency: validates `cursor` (non-empty) and `limit` (1..100)."""
    if cursor is not None and not (0 < len(cursor) <= 255):
        raise InvalidRequest("cursor is not a valid cursor for this list.", param="cursor")
    if limit is None:
        return PageParams(cursor, DEFAULT_LIMIT)
    if not re.fullmatch(r"[0-9]{1,4}", limit) or not (1 <= int(limit) <= MAX_LIMIT):
        raise InvalidRequest(f"limit must be an integer from 1 to {MAX_LIMIT}.", param="limit")
    return PageParams(cursor, int(limit))


def page(
    rows: Sequence[Row],
    limit: int,
    render: Callable[[Row], Item],
    cursor_of: Callable[[Row], str],
) -> Page[Item]:
    """The list envelope from up to `limit + 1` rows fetched newest first."""
    has_more = len(rows) > limit
    items = rows[:limit]
    body: Page[Item] = {"data": [render(row) for row in items], "has_more": has_more}
    if has_more:
        body["next_cursor"] = cursor_of(items[-1])
    return body
