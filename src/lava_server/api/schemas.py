"""What the answers of every route share, for their schemas in /openapi.json: the list envelope,
`{"success": true}`, and the error answers a route may give.

Answers are built as plain dicts typed by `TypedDict`s (so mypy checks every key) declared in each
domain's `schemas.py`. FastAPI turns them into the response schemas through pydantic, and checks
the answers of the routes that return them. The routes that write their answers' bytes themselves
(`POST /v1/requests` and `/v1/forward`, the hot paths, and `GET /v1/usage`) only document theirs:
no work is added per call; tests/api/test_openapi.py checks their real answers. Every answer
object is `closed`: a key that its schema does not name fails validation.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import ConfigDict, with_config
from typing_extensions import NotRequired, TypedDict

from lava_server.errors import ErrorEnvelope

closed = with_config(ConfigDict(extra="forbid"))

T = TypeVar("T")


@closed
class Page(TypedDict, Generic[T]):
    """A list, newest first. `next_cursor` (the last item's id) comes with `has_more`."""

    data: list[T]
    has_more: bool
    next_cursor: NotRequired[str]


@closed
class Health(TypedDict):
    """`GET /healthz`: the server is up and its database answers."""

    status: Literal["ok"]


@closed
class Deleted(TypedDict):
    """The answer of a deletion in the current API (`docs/current-api.md`)."""

    id: str
    deleted: Literal[True]


@closed
class Success(TypedDict):
    """The answer of a deletion or a cancellation."""

    success: Literal[True]


_MEANINGS = {
    400: "Invalid request: the message says why, `param` names the field or header.",
    401: "Missing, invalid or revoked key or secret.",
    402: "The wallet cannot pay and the product's overdraft is `block`; nothing was charged.",
    403: "Not allowed with this key (another merchant's, or a live key on a sandbox-only route).",
    404: "No such object; `param` names the field.",
    409: "Conflicts with what is stored (the message says how), or an `Idempotency-Key` reused "
    "with another body.",
    413: "The request body is too large.",
    429: "Rate limit exceeded; retry after `Retry-After` seconds.",
    502: "The provider could not be reached (`upstream_error`).",
    504: "The provider did not answer in time (`upstream_timeout`).",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route or router for these error statuses."""
    return {
        status: {"model": ErrorEnvelope, "description": _MEANINGS[status]} for status in statuses
    }
