from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import overload

from .._resource import AsyncAPIResource, SyncAPIResource, encode_metadata_filters, path_segment
from .._response import (
    async_to_raw_response_wrapper,
    async_to_streamed_response_wrapper,
    to_raw_response_wrapper,
    to_streamed_response_wrapper,
)
from .._types import NOT_GIVEN, Body, Headers, NotGiven, Query, Timeout, build_options
from ..pagination import AsyncPaginator, SyncCursorPage
from ..types.params import MetadataFilters
from ..types.request import RestRequest

__all__ = ["AsyncRequests", "Requests"]


class Requests(SyncAPIResource):
    """Metered requests: forwarded provider calls and usage you report yourself."""

    @cached_property
    def with_raw_response(self) -> RequestsWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return RequestsWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> RequestsWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return RequestsWithStreamingResponse(self)

    def list(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        connection_id: str | None = None,
        product_id: str | None = None,
        metadata_filters: MetadataFilters | None = None,
        customer_id: str | None = None,
        meter_id: str | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SyncCursorPage[RestRequest]:
        """List requests, newest first (``GET requests``).

        Args:
            customer_id, meter_id: the current API's names of ``connection_id`` and
                ``product_id`` (the same ids).
            metadata_filters: metadata pairs every returned request holds, e.g.
                ``{"user_id": "123"}`` (sent as a JSON array of pairs).

        Iterate the returned page to walk every request of every page.
        """
        return self._client._request_page(
            build_options(
                "GET",
                "requests",
                query={
                    "cursor": cursor,
                    "limit": limit,
                    "connection_id": connection_id,
                    "product_id": product_id,
                    "customer_id": customer_id,
                    "meter_id": meter_id,
                    "metadata_filters": encode_metadata_filters(metadata_filters),
                },
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestRequest,
        )

    @overload
    def create(
        self,
        *,
        request_id: str,
        connection_secret: str,
        product_secret: str,
        customer_id: None = None,
        meter_slug: None = None,
        metadata: Mapping[str, str] | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        input_characters: int | None = None,
        output_characters: int | None = None,
        input_seconds: int | None = None,
        output_seconds: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
        idempotency_key: str | None = None,
    ) -> RestRequest: ...

    @overload
    def create(
        self,
        *,
        request_id: str,
        customer_id: str,
        meter_slug: str,
        connection_secret: None = None,
        product_secret: None = None,
        metadata: Mapping[str, str] | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        input_characters: int | None = None,
        output_characters: int | None = None,
        input_seconds: int | None = None,
        output_seconds: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
        idempotency_key: str | None = None,
    ) -> RestRequest: ...

    def create(
        self,
        *,
        request_id: str,
        connection_secret: str | None = None,
        product_secret: str | None = None,
        customer_id: str | None = None,
        meter_slug: str | None = None,
        metadata: Mapping[str, str] | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        input_characters: int | None = None,
        output_characters: int | None = None,
        input_seconds: int | None = None,
        output_seconds: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
        idempotency_key: str | None = None,
    ) -> RestRequest:
        """Report usage you metered yourself and charge it (``POST requests``).

        Idempotent on ``request_id``: sending the same request again returns the stored one and
        charges nothing.

        Args:
            request_id: your id for this usage (1..255 characters).
            connection_secret: the customer's connection secret.
            product_secret: the secret of the product that prices it.
            customer_id, meter_slug: the current API's way to name them instead (the customer
                is the connection, the meter the product).
            metadata: string pairs stored on the request (filter on them later).
            input_tokens, output_tokens, input_characters, output_characters, input_seconds,
                output_seconds: usage counts (>= 0); an absent count is 0.
        """
        return self._client._request(
            build_options(
                "POST",
                "requests",
                body={
                    "request_id": request_id,
                    "connection_secret": connection_secret,
                    "product_secret": product_secret,
                    "customer_id": customer_id,
                    "meter_slug": meter_slug,
                    "metadata": metadata,
                    "input_tokens": input_tokens,
                    "output_tokens": output_tokens,
                    "input_characters": input_characters,
                    "output_characters": output_characters,
                    "input_seconds": input_seconds,
                    "output_seconds": output_seconds,
                },
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                extra_body=extra_body,
                idempotency_key=idempotency_key,
            ),
            RestRequest,
        )

    def retrieve(
        self,
        request_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestRequest:
        """Retrieve a request by its ``request_id`` (``GET requests/{id}``)."""
        return self._client._request(
            build_options(
                "GET",
                f"requests/{path_segment(request_id, 'request_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestRequest,
        )


class AsyncRequests(AsyncAPIResource):
    """Metered requests: forwarded provider calls and usage you report yourself."""

    @cached_property
    def with_raw_response(self) -> AsyncRequestsWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return AsyncRequestsWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> AsyncRequestsWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return AsyncRequestsWithStreamingResponse(self)

    def list(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        connection_id: str | None = None,
        product_id: str | None = None,
        metadata_filters: MetadataFilters | None = None,
        customer_id: str | None = None,
        meter_id: str | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> AsyncPaginator[RestRequest]:
        """List requests, newest first (``GET requests``).

        Args:
            customer_id, meter_id: the current API's names of ``connection_id`` and
                ``product_id`` (the same ids).
            metadata_filters: metadata pairs every returned request holds, e.g.
                ``{"user_id": "123"}`` (sent as a JSON array of pairs).

        Await the result for the first page, or ``async for`` over it to walk every request of
        every page.
        """
        return self._client._request_page(
            build_options(
                "GET",
                "requests",
                query={
                    "cursor": cursor,
                    "limit": limit,
                    "connection_id": connection_id,
                    "product_id": product_id,
                    "customer_id": customer_id,
                    "meter_id": meter_id,
                    "metadata_filters": encode_metadata_filters(metadata_filters),
                },
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestRequest,
        )

    @overload
    async def create(
        self,
        *,
        request_id: str,
        connection_secret: str,
        product_secret: str,
        customer_id: None = None,
        meter_slug: None = None,
        metadata: Mapping[str, str] | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        input_characters: int | None = None,
        output_characters: int | None = None,
        input_seconds: int | None = None,
        output_seconds: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
        idempotency_key: str | None = None,
    ) -> RestRequest: ...

    @overload
    async def create(
        self,
        *,
        request_id: str,
        customer_id: str,
        meter_slug: str,
        connection_secret: None = None,
        product_secret: None = None,
        metadata: Mapping[str, str] | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        input_characters: int | None = None,
        output_characters: int | None = None,
        input_seconds: int | None = None,
        output_seconds: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
        idempotency_key: str | None = None,
    ) -> RestRequest: ...

    async def create(
        self,
        *,
        request_id: str,
        connection_secret: str | None = None,
        product_secret: str | None = None,
        customer_id: str | None = None,
        meter_slug: str | None = None,
        metadata: Mapping[str, str] | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        input_characters: int | None = None,
        output_characters: int | None = None,
        input_seconds: int | None = None,
        output_seconds: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
        idempotency_key: str | None = None,
    ) -> RestRequest:
        """Report usage you metered yourself and charge it (``POST requests``).

        Idempotent on ``request_id``: sending the same request again returns the stored one and
        charges nothing.

        Args:
            request_id: your id for this usage (1..255 characters).
            connection_secret: the customer's connection secret.
            product_secret: the secret of the product that prices it.
            customer_id, meter_slug: the current API's way to name them instead (the customer
                is the connection, the meter the product).
            metadata: string pairs stored on the request (filter on them later).
            input_tokens, output_tokens, input_characters, output_characters, input_seconds,
                output_seconds: usage counts (>= 0); an absent count is 0.
        """
        return await self._client._request(
            build_options(
                "POST",
                "requests",
                body={
                    "request_id": request_id,
                    "connection_secret": connection_secret,
                    "product_secret": product_secret,
                    "customer_id": customer_id,
                    "meter_slug": meter_slug,
                    "metadata": metadata,
                    "input_tokens": input_tokens,
                    "output_tokens": output_tokens,
                    "input_characters": input_characters,
                    "output_characters": output_characters,
                    "input_seconds": input_seconds,
                    "output_seconds": output_seconds,
                },
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                extra_body=extra_body,
                idempotency_key=idempotency_key,
            ),
            RestRequest,
        )

    async def retrieve(
        self,
        request_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestRequest:
        """Retrieve a request by its ``request_id`` (``GET requests/{id}``)."""
        return await self._client._request(
            build_options(
                "GET",
                f"requests/{path_segment(request_id, 'request_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestRequest,
        )


# -- with_raw_response / with_streaming_response --------------------------------------------------


class RequestsWithRawResponse:
    """The methods of ``Requests``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: Requests) -> None:
        self.list = to_raw_response_wrapper(resource.list)
        self.create = to_raw_response_wrapper(resource.create)
        self.retrieve = to_raw_response_wrapper(resource.retrieve)


class RequestsWithStreamingResponse:
    """The methods of ``Requests``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: Requests) -> None:
        self.list = to_streamed_response_wrapper(resource.list)
        self.create = to_streamed_response_wrapper(resource.create)
        self.retrieve = to_streamed_response_wrapper(resource.retrieve)


class AsyncRequestsWithRawResponse:
    """The methods of ``AsyncRequests``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: AsyncRequests) -> None:
        self.list = async_to_raw_response_wrapper(resource.list)
        self.create = async_to_raw_response_wrapper(resource.create)
        self.retrieve = async_to_raw_response_wrapper(resource.retrieve)


class AsyncRequestsWithStreamingResponse:
    """The methods of ``AsyncRequests``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: AsyncRequests) -> None:
        self.list = async_to_streamed_response_wrapper(resource.list)
        self.create = async_to_streamed_response_wrapper(resource.create)
        self.retrieve = async_to_streamed_response_wrapper(resource.retrieve)
