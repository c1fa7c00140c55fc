"""Small shared types: the ``NOT_GIVEN`` sentinel and per-request options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

import httpx

Timeout: TypeAlias = float | httpx.Timeout | None
"""Seconds (or an ``httpx.Timeout``); ``None`` disables the timeout."""

QueryValue: TypeAlias = str | int | float | bool | None
"""A query-string value; ``None`` values are left out of the URL."""

Query: TypeAlias = Mapping[str, QueryValue]
Headers: TypeAlias = Mapping[str, str]
Body: TypeAlias = Mapping[str, object]


class NotGiven:
    """Marks an argument that was not passed, where ``None`` has a meaning of its own.

    ``timeout=None`` disables the timeout, while ``timeout=NOT_GIVEN`` (the default) keeps the
    client's timeout. In an update, ``None`` sends JSON ``null`` (clear the field) while
    ``NOT_GIVEN`` (the default) leaves the field out (keep it):
    ``lava.customers.update(id, name=None)`` clears the name and changes nothing else.
    """

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = NotGiven()


@dataclass(frozen=True)
class RequestOptions:
    """Everything needed to build one HTTP request (the same for every retry of it)."""

    method: str
    path: str
    query: Mapping[str, QueryValue] = field(default_factory=dict)
    json_data: object | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: Timeout | NotGiven = NOT_GIVEN
    idempotency_key: str | None = None


def build_options(
    method: str,
    path: str,
    *,
    query: Query | None = None,
    body: Body | None = None,
    timeout: Timeout | NotGiven = NOT_GIVEN,
    extra_headers: Headers | None = None,
    extra_query: Query | None = None,
    extra_body: Body | None = None,
    idempotency_key: str | None = None,
    keep_null: bool = False,
) -> RequestOptions:
    """Merge a method's own arguments with the caller's per-call options.

    ``NOT_GIVEN`` values are always left out. ``None`` values are dropped from the query and
    the body (the API treats an absent field as "not given"); ``extra_*`` entries win over the
    method's own. With ``keep_null``, ``None`` in the body is sent as JSON ``null`` (an
    update's "clear this field"): such a method defaults its clearable arguments to
    ``NOT_GIVEN`` so that leaving one out sends nothing.
    """
    merged_query = {
        k: v
        for k, v in {**(query or {}), **(extra_query or {})}.items()
        if v is not None and not isinstance(v, NotGiven)
    }
    json_data: dict[str, object] | None = None
    if body is not None or extra_body is not None:
        json_data = {
            k: v
            for k, v in {**(body or {}), **(extra_body or {})}.items()
            if not isinstance(v, NotGiven) and (keep_null or v is not None)
        }
    return RequestOptions(
        method=method,
        path=path,
        query=merged_query,
        json_data=json_data,
        headers=dict(extra_headers or {}),
        timeout=timeout,
        idempotency_key=idempotency_key,
    )
