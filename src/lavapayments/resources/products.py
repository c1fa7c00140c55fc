"""Pricing products (our extension of the API, ``/v1/products``; see docs/api.md)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import cached_property
from typing import TypedDict

from .._resource import AsyncAPIResource, SyncAPIResource, path_segment
from .._response import (
    async_to_raw_response_wrapper,
    async_to_streamed_response_wrapper,
    to_raw_response_wrapper,
    to_streamed_response_wrapper,
)
from .._types import NOT_GIVEN, Body, Headers, NotGiven, Query, Timeout, build_options
from ..pagination import AsyncPaginator, SyncCursorPage
from ..types.product import Overdraft, Payer, RateType, RestProduct, TierType, TokenBasis
from ..types.shared import SuccessResponse

__all__ = ["AsyncProducts", "ProductTierParam", "Products"]


class ProductTierParam(TypedDict):
    """A tier of a product: from ``start`` units on, ``rate`` per unit of ``type``."""

    start: int
    rate: str | Decimal
    type: TierType


def _tiers(tiers: Sequence[ProductTierParam]) -> list[dict[str, object]]:
    """Tiers as the API takes them: ``rate`` as a decimal string (a ``Decimal`` exactly)."""
    return [
        {
            "start": t["start"],
            "rate": format(t["rate"], "f") if isinstance(t["rate"], Decimal) else t["rate"],
            "type": t["type"],
        }
        for t in tiers
    ]


def _path(product_id: str) -> str:
    return "products/" + path_segment(product_id, "product_id")


class Products(SyncAPIResource):
    """Pricing products (our extension; a product is also a meter, with the same id)."""

    @cached_property
    def with_raw_response(self) -> ProductsWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return ProductsWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> ProductsWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return ProductsWithStreamingResponse(self)

    def create(
        self,
        *,
        name: str,
        tiers: Sequence[ProductTierParam],
        meter_slug: str | None = None,
        rate_type: RateType | None = None,
        token_basis: TokenBasis | None = None,
        base_cost_payer: Payer | None = None,
        service_charge_payer: Payer | None = None,
        overdraft: Overdraft | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestProduct:
        """Create a product (``POST products``); its ``product_secret`` goes in forward tokens
        and ``requests.create``. Arguments left out take the server's defaults."""
        return self._client._request(
            build_options(
                "POST",
                "products",
                body={
                    "name": name,
                    "meter_slug": meter_slug,
                    "rate_type": rate_type,
                    "token_basis": token_basis,
                    "tiers": _tiers(tiers),
                    "base_cost_payer": base_cost_payer,
                    "service_charge_payer": service_charge_payer,
                    "overdraft": overdraft,
                },
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestProduct,
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
    ) -> SyncCursorPage[RestProduct]:
        """List products, newest first (``GET products``); iterate for every page."""
        return self._client._request_page(
            build_options(
                "GET",
                "products",
                query={"cursor": cursor, "limit": limit},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestProduct,
        )

    def retrieve(
        self,
        product_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestProduct:
        """Retrieve a product (``GET products/{id}``)."""
        return self._client._request(
            build_options(
                "GET",
                _path(product_id),
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestProduct,
        )

    def update(
        self,
        product_id: str,
        *,
        name: str | None = None,
        tiers: Sequence[ProductTierParam] | None = None,
        meter_slug: str | None = None,
        rate_type: RateType | None = None,
        token_basis: TokenBasis | None = None,
        base_cost_payer: Payer | None = None,
        service_charge_payer: Payer | None = None,
        overdraft: Overdraft | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestProduct:
        """Update a product (``PUT products/{id}``): only the arguments given change (none of
        a product's fields can be cleared, so ``None`` means "leave as it is")."""
        return self._client._request(
            build_options(
                "PUT",
                _path(product_id),
                body={
                    "name": name,
                    "meter_slug": meter_slug,
                    "rate_type": rate_type,
                    "token_basis": token_basis,
                    "tiers": None if tiers is None else _tiers(tiers),
                    "base_cost_payer": base_cost_payer,
                    "service_charge_payer": service_charge_payer,
                    "overdraft": overdraft,
                },
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestProduct,
        )

    def delete(
        self,
        product_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SuccessResponse:
        """Delete a product (``DELETE products/{id}``); past requests keep their records."""
        return self._client._request(
            build_options(
                "DELETE",
                _path(product_id),
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            SuccessResponse,
        )


class AsyncProducts(AsyncAPIResource):
    """Pricing products (our extension; a product is also a meter, with the same id)."""

    @cached_property
    def with_raw_response(self) -> AsyncProductsWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return AsyncProductsWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> AsyncProductsWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return AsyncProductsWithStreamingResponse(self)

    async def create(
        self,
        *,
        name: str,
        tiers: Sequence[ProductTierParam],
        meter_slug: str | None = None,
        rate_type: RateType | None = None,
        token_basis: TokenBasis | None = None,
        base_cost_payer: Payer | None = None,
        service_charge_payer: Payer | None = None,
        overdraft: Overdraft | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestProduct:
        """Create a product (``POST products``); its ``product_secret`` goes in forward tokens
        and ``requests.create``. Arguments left out take the server's defaults."""
        return await self._client._request(
            build_options(
                "POST",
                "products",
                body={
                    "name": name,
                    "meter_slug": meter_slug,
                    "rate_type": rate_type,
                    "token_basis": token_basis,
                    "tiers": _tiers(tiers),
                    "base_cost_payer": base_cost_payer,
                    "service_charge_payer": service_charge_payer,
                    "overdraft": overdraft,
                },
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestProduct,
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
    ) -> AsyncPaginator[RestProduct]:
        """List products, newest first (``GET products``); iterate for every page."""
        return self._client._request_page(
            build_options(
                "GET",
                "products",
                query={"cursor": cursor, "limit": limit},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestProduct,
        )

    async def retrieve(
        self,
        product_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestProduct:
        """Retrieve a product (``GET products/{id}``)."""
        return await self._client._request(
            build_options(
                "GET",
                _path(product_id),
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestProduct,
        )

    async def update(
        self,
        product_id: str,
        *,
        name: str | None = None,
        tiers: Sequence[ProductTierParam] | None = None,
        meter_slug: str | None = None,
        rate_type: RateType | None = None,
        token_basis: TokenBasis | None = None,
        base_cost_payer: Payer | None = None,
        service_charge_payer: Payer | None = None,
        overdraft: Overdraft | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestProduct:
        """Update a product (``PUT products/{id}``): only the arguments given change (none of
        a product's fields can be cleared, so ``None`` means "leave as it is")."""
        return await self._client._request(
            build_options(
                "PUT",
                _path(product_id),
                body={
                    "name": name,
                    "meter_slug": meter_slug,
                    "rate_type": rate_type,
                    "token_basis": token_basis,
                    "tiers": None if tiers is None else _tiers(tiers),
                    "base_cost_payer": base_cost_payer,
                    "service_charge_payer": service_charge_payer,
                    "overdraft": overdraft,
                },
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestProduct,
        )

    async def delete(
        self,
        product_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SuccessResponse:
        """Delete a product (``DELETE products/{id}``); past requests keep their records."""
        return await self._client._request(
            build_options(
                "DELETE",
                _path(product_id),
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            SuccessResponse,
        )


# -- with_raw_response / with_streaming_response --------------------------------------------------


class ProductsWithRawResponse:
    """The methods of ``Products``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: Products) -> None:
        self.create = to_raw_response_wrapper(resource.create)
        self.list = to_raw_response_wrapper(resource.list)
        self.retrieve = to_raw_response_wrapper(resource.retrieve)
        self.update = to_raw_response_wrapper(resource.update)
        self.delete = to_raw_response_wrapper(resource.delete)


class ProductsWithStreamingResponse:
    """The methods of ``Products``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: Products) -> None:
        self.create = to_streamed_response_wrapper(resource.create)
        self.list = to_streamed_response_wrapper(resource.list)
        self.retrieve = to_streamed_response_wrapper(resource.retrieve)
        self.update = to_streamed_response_wrapper(resource.update)
        self.delete = to_streamed_response_wrapper(resource.delete)


class AsyncProductsWithRawResponse:
    """The methods of ``AsyncProducts``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: AsyncProducts) -> None:
        self.create = async_to_raw_response_wrapper(resource.create)
        self.list = async_to_raw_response_wrapper(resource.list)
        self.retrieve = async_to_raw_response_wrapper(resource.retrieve)
        self.update = async_to_raw_response_wrapper(resource.update)
        self.delete = async_to_raw_response_wrapper(resource.delete)


class AsyncProductsWithStreamingResponse:
    """The methods of ``AsyncProducts``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: AsyncProducts) -> None:
        self.create = async_to_streamed_response_wrapper(resource.create)
        self.list = async_to_streamed_response_wrapper(resource.list)
        self.retrieve = async_to_streamed_response_wrapper(resource.retrieve)
        self.update = async_to_streamed_response_wrapper(resource.update)
        self.delete = async_to_streamed_response_wrapper(resource.delete)
