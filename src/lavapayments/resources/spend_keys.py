"""Spend keys (the Node SDK 11.2.0's ``spendKeys``): capped ``lava_sk_`` keys that spend one
wallet, made, listed, changed, revoked and rotated by the merchant."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Literal, TypedDict, TypeVar

from .._resource import AsyncAPIResource, SyncAPIResource, path_segment
from .._response import (
    async_to_raw_response_wrapper,
    async_to_streamed_response_wrapper,
    to_raw_response_wrapper,
    to_streamed_response_wrapper,
)
from .._types import NOT_GIVEN, Body, Headers, NotGiven, Query, Timeout, build_options
from ..pagination import AsyncPaginator, SyncCursorPage
from ..types.shared import SuccessResponse
from ..types.spend_key import LimitCycle, RestSpendKey, RestSpendKeyCreated

__all__ = [
    "AsyncSpendKeys",
    "RateLimitParam",
    "RequestLimitParam",
    "SpendKeys",
    "SpendLimitParam",
]

Status = Literal["active", "paused"]
RequestShape = Literal["openai", "anthropic"]
T = TypeVar("T")


class SpendLimitParam(TypedDict):
    """At most ``amount`` USD (a ``Decimal`` or a decimal string) a ``cycle``."""

    amount: Decimal | str
    cycle: LimitCycle


class RequestLimitParam(TypedDict):
    count: int
    cycle: LimitCycle


class _RateLimitRequired(TypedDict):
    rpm: int


class RateLimitParam(_RateLimitRequired, total=False):
    """``burst`` calls at once (left out or ``None``: ``rpm``), refilled at ``rpm`` a minute."""

    burst: int | None


def _names(names: Sequence[str] | None) -> list[str] | None:
    if isinstance(names, str):
        raise TypeError("an allowlist is a sequence of names, not one string")
    return None if names is None else list(names)


def _spend_limit(limit: SpendLimitParam | None) -> dict[str, object] | None:
    if limit is None:
        return None
    amount = limit["amount"]
    return {
        "amount": format(amount, "f") if isinstance(amount, Decimal) else amount,
        "cycle": limit["cycle"],
    }


def _plain(limit: RequestLimitParam | RateLimitParam | None) -> dict[str, object] | None:
    return None if limit is None else dict(limit)


def _moment(value: datetime | str | None) -> str | None:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        return value.isoformat()
    return value


def _given(value: T | NotGiven | None, convert: Callable[[T | None], object]) -> object:
    return value if isinstance(value, NotGiven) else convert(value)


class SpendKeys(SyncAPIResource):
    """Spend keys: ``create``, ``list``, ``retrieve``, ``update``, ``revoke``, ``rotate``."""

    @cached_property
    def with_raw_response(self) -> SpendKeysWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return SpendKeysWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> SpendKeysWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return SpendKeysWithStreamingResponse(self)

    def create(
        self,
        *,
        name: str,
        status: Status | None = None,
        request_shape: RequestShape | None = None,
        allowed_models: Sequence[str] | None = None,
        allowed_providers: Sequence[str] | None = None,
        spend_limit: SpendLimitParam | None = None,
        request_limit: RequestLimitParam | None = None,
        rate_limit: RateLimitParam | None = None,
        expires_at: datetime | str | None = None,
        customer_id: str | None = None,
        meter_slug: str | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestSpendKeyCreated:
        """Create a spend key (``POST spend_keys``); its raw ``key`` is shown only now.
        ``customer_id`` (an id or ``reference_id``) with ``meter_slug`` binds it to the
        customer's wallet and that meter's pricing; without them it spends the merchant's own."""
        fields = {
            "name": name,
            "status": status,
            "request_shape": request_shape,
            "allowed_models": _names(allowed_models),
            "allowed_providers": _names(allowed_providers),
            "spend_limit": _spend_limit(spend_limit),
            "request_limit": _plain(request_limit),
            "rate_limit": _plain(rate_limit),
            "expires_at": _moment(expires_at),
            "customer_id": customer_id,
            "meter_slug": meter_slug,
        }
        return self._client._request(
            build_options(
                "POST",
                "spend_keys",
                body=fields,
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestSpendKeyCreated,
        )

    def list(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SyncCursorPage[RestSpendKey]:
        """List the spend keys not revoked, newest first (``GET spend_keys``); iterate for
        every page."""
        return self._client._request_page(
            build_options(
                "GET",
                "spend_keys",
                query={"cursor": cursor, "limit": limit},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestSpendKey,
        )

    def retrieve(
        self,
        spend_key_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestSpendKey:
        """Retrieve a spend key (``GET spend_keys/{id}``)."""
        return self._client._request(
            build_options(
                "GET",
                f"spend_keys/{path_segment(spend_key_id, 'spend_key_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestSpendKey,
        )

    def update(
        self,
        spend_key_id: str,
        *,
        name: str | NotGiven = NOT_GIVEN,
        status: Status | NotGiven = NOT_GIVEN,
        request_shape: RequestShape | NotGiven = NOT_GIVEN,
        allowed_models: Sequence[str] | NotGiven | None = NOT_GIVEN,
        allowed_providers: Sequence[str] | NotGiven | None = NOT_GIVEN,
        spend_limit: SpendLimitParam | NotGiven | None = NOT_GIVEN,
        request_limit: RequestLimitParam | NotGiven | None = NOT_GIVEN,
        rate_limit: RateLimitParam | NotGiven | None = NOT_GIVEN,
        expires_at: datetime | str | NotGiven | None = NOT_GIVEN,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestSpendKey:
        """Update a spend key (``PUT spend_keys/{id}``, partial): arguments left out stay,
        ``None`` clears (an allowlist back to all, a limit off, no expiry)."""
        fields: dict[str, object] = {
            "name": name,
            "status": status,
            "request_shape": request_shape,
            "allowed_models": _given(allowed_models, _names),
            "allowed_providers": _given(allowed_providers, _names),
            "spend_limit": _given(spend_limit, _spend_limit),
            "request_limit": _given(request_limit, _plain),
            "rate_limit": _given(rate_limit, _plain),
            "expires_at": expires_at if isinstance(expires_at, NotGiven) else _moment(expires_at),
        }
        return self._client._request(
            build_options(
                "PUT",
                f"spend_keys/{path_segment(spend_key_id, 'spend_key_id')}",
                body={k: v for k, v in fields.items() if not isinstance(v, NotGiven)},
                extra_body=extra_body,
                keep_null=True,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestSpendKey,
        )

    def revoke(
        self,
        spend_key_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SuccessResponse:
        """Revoke a spend key (``DELETE spend_keys/{id}``): it stops working at once."""
        return self._client._request(
            build_options(
                "DELETE",
                f"spend_keys/{path_segment(spend_key_id, 'spend_key_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            SuccessResponse,
        )

    def rotate(
        self,
        spend_key_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestSpendKeyCreated:
        """Rotate a spend key (``POST spend_keys/{id}/rotate``): a new raw ``key``, shown only
        now, with the same settings and usage; the old key stops working at once."""
        return self._client._request(
            build_options(
                "POST",
                f"spend_keys/{path_segment(spend_key_id, 'spend_key_id')}/rotate",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestSpendKeyCreated,
        )


class AsyncSpendKeys(AsyncAPIResource):
    """Spend keys: ``create``, ``list``, ``retrieve``, ``update``, ``revoke``, ``rotate``."""

    @cached_property
    def with_raw_response(self) -> AsyncSpendKeysWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return AsyncSpendKeysWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> AsyncSpendKeysWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return AsyncSpendKeysWithStreamingResponse(self)

    async def create(
        self,
        *,
        name: str,
        status: Status | None = None,
        request_shape: RequestShape | None = None,
        allowed_models: Sequence[str] | None = None,
        allowed_providers: Sequence[str] | None = None,
        spend_limit: SpendLimitParam | None = None,
        request_limit: RequestLimitParam | None = None,
        rate_limit: RateLimitParam | None = None,
        expires_at: datetime | str | None = None,
        customer_id: str | None = None,
        meter_slug: str | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestSpendKeyCreated:
        """Create a spend key (``POST spend_keys``); its raw ``key`` is shown only now.
        ``customer_id`` (an id or ``reference_id``) with ``meter_slug`` binds it to the
        customer's wallet and that meter's pricing; without them it spends the merchant's own."""
        fields = {
            "name": name,
            "status": status,
            "request_shape": request_shape,
            "allowed_models": _names(allowed_models),
            "allowed_providers": _names(allowed_providers),
            "spend_limit": _spend_limit(spend_limit),
            "request_limit": _plain(request_limit),
            "rate_limit": _plain(rate_limit),
            "expires_at": _moment(expires_at),
            "customer_id": customer_id,
            "meter_slug": meter_slug,
        }
        return await self._client._request(
            build_options(
                "POST",
                "spend_keys",
                body=fields,
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestSpendKeyCreated,
        )

    def list(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> AsyncPaginator[RestSpendKey]:
        """List the spend keys not revoked, newest first (``GET spend_keys``); iterate for
        every page."""
        return self._client._request_page(
            build_options(
                "GET",
                "spend_keys",
                query={"cursor": cursor, "limit": limit},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestSpendKey,
        )

    async def retrieve(
        self,
        spend_key_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestSpendKey:
        """Retrieve a spend key (``GET spend_keys/{id}``)."""
        return await self._client._request(
            build_options(
                "GET",
                f"spend_keys/{path_segment(spend_key_id, 'spend_key_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestSpendKey,
        )

    async def update(
        self,
        spend_key_id: str,
        *,
        name: str | NotGiven = NOT_GIVEN,
        status: Status | NotGiven = NOT_GIVEN,
        request_shape: RequestShape | NotGiven = NOT_GIVEN,
        allowed_models: Sequence[str] | NotGiven | None = NOT_GIVEN,
        allowed_providers: Sequence[str] | NotGiven | None = NOT_GIVEN,
        spend_limit: SpendLimitParam | NotGiven | None = NOT_GIVEN,
        request_limit: RequestLimitParam | NotGiven | None = NOT_GIVEN,
        rate_limit: RateLimitParam | NotGiven | None = NOT_GIVEN,
        expires_at: datetime | str | NotGiven | None = NOT_GIVEN,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestSpendKey:
        """Update a spend key (``PUT spend_keys/{id}``, partial): arguments left out stay,
        ``None`` clears (an allowlist back to all, a limit off, no expiry)."""
        fields: dict[str, object] = {
            "name": name,
            "status": status,
            "request_shape": request_shape,
            "allowed_models": _given(allowed_models, _names),
            "allowed_providers": _given(allowed_providers, _names),
            "spend_limit": _given(spend_limit, _spend_limit),
            "request_limit": _given(request_limit, _plain),
            "rate_limit": _given(rate_limit, _plain),
            "expires_at": expires_at if isinstance(expires_at, NotGiven) else _moment(expires_at),
        }
        return await self._client._request(
            build_options(
                "PUT",
                f"spend_keys/{path_segment(spend_key_id, 'spend_key_id')}",
                body={k: v for k, v in fields.items() if not isinstance(v, NotGiven)},
                extra_body=extra_body,
                keep_null=True,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestSpendKey,
        )

    async def revoke(
        self,
        spend_key_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SuccessResponse:
        """Revoke a spend key (``DELETE spend_keys/{id}``): it stops working at once."""
        return await self._client._request(
            build_options(
                "DELETE",
                f"spend_keys/{path_segment(spend_key_id, 'spend_key_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            SuccessResponse,
        )

    async def rotate(
        self,
        spend_key_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestSpendKeyCreated:
        """Rotate a spend key (``POST spend_keys/{id}/rotate``): a new raw ``key``, shown only
        now, with the same settings and usage; the old key stops working at once."""
        return await self._client._request(
            build_options(
                "POST",
                f"spend_keys/{path_segment(spend_key_id, 'spend_key_id')}/rotate",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestSpendKeyCreated,
        )


class SpendKeysWithRawResponse:
    """The methods of ``SpendKeys``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: SpendKeys) -> None:
        self.create = to_raw_response_wrapper(resource.create)
        self.list = to_raw_response_wrapper(resource.list)
        self.retrieve = to_raw_response_wrapper(resource.retrieve)
        self.update = to_raw_response_wrapper(resource.update)
        self.revoke = to_raw_response_wrapper(resource.revoke)
        self.rotate = to_raw_response_wrapper(resource.rotate)


class SpendKeysWithStreamingResponse:
    """The methods of ``SpendKeys``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: SpendKeys) -> None:
        self.create = to_streamed_response_wrapper(resource.create)
        self.list = to_streamed_response_wrapper(resource.list)
        self.retrieve = to_streamed_response_wrapper(resource.retrieve)
        self.update = to_streamed_response_wrapper(resource.update)
        self.revoke = to_streamed_response_wrapper(resource.revoke)
        self.rotate = to_streamed_response_wrapper(resource.rotate)


class AsyncSpendKeysWithRawResponse:
    """The methods of ``AsyncSpendKeys``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: AsyncSpendKeys) -> None:
        self.create = async_to_raw_response_wrapper(resource.create)
        self.list = async_to_raw_response_wrapper(resource.list)
        self.retrieve = async_to_raw_response_wrapper(resource.retrieve)
        self.update = async_to_raw_response_wrapper(resource.update)
        self.revoke = async_to_raw_response_wrapper(resource.revoke)
        self.rotate = async_to_raw_response_wrapper(resource.rotate)


class AsyncSpendKeysWithStreamingResponse:
    """The methods of ``AsyncSpendKeys``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: AsyncSpendKeys) -> None:
        self.create = async_to_streamed_response_wrapper(resource.create)
        self.list = async_to_streamed_response_wrapper(resource.list)
        self.retrieve = async_to_streamed_response_wrapper(resource.retrieve)
        self.update = async_to_streamed_response_wrapper(resource.update)
        self.revoke = async_to_streamed_response_wrapper(resource.revoke)
        self.rotate = async_to_streamed_response_wrapper(resource.rotate)
