from __future__ import annotations

from datetime import datetime
from functools import cached_property

from .._resource import AsyncAPIResource, SyncAPIResource, encode_metadata_filters, encode_timestamp
from .._response import (
    async_to_raw_response_wrapper,
    async_to_streamed_response_wrapper,
    to_raw_response_wrapper,
    to_streamed_response_wrapper,
)
from .._types import NOT_GIVEN, Headers, NotGiven, Query, Timeout, build_options
from ..types.params import MetadataFilters
from ..types.usage import RestUsage

__all__ = ["AsyncUsage", "Usage"]


class Usage(SyncAPIResource):
    """Usage statistics, one item per day."""

    @cached_property
    def with_raw_response(self) -> UsageWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return UsageWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> UsageWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return UsageWithStreamingResponse(self)

    def retrieve(
        self,
        *,
        start: str | datetime,
        end: str | datetime | None = None,
        connection_id: str | None = None,
        product_id: str | None = None,
        metadata_filters: MetadataFilters | None = None,
        customer_id: str | None = None,
        meter_id: str | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestUsage:
        """Retrieve daily usage from ``start`` to ``end`` (``GET usage``).

        Args:
            start: the first day, ISO 8601 text or a ``datetime``; its UTC offset sets the time
                zone of the daily buckets.
            end: the last moment included (default: now).
            customer_id, meter_id: the current API's names of ``connection_id`` and
                ``product_id`` (the same ids).
            metadata_filters: metadata pairs every counted request holds.
        """
        return self._client._request(
            build_options(
                "GET",
                "usage",
                query={
                    "start": encode_timestamp(start),
                    "end": encode_timestamp(end),
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
            RestUsage,
        )


class AsyncUsage(AsyncAPIResource):
    """Usage statistics, one item per day."""

    @cached_property
    def with_raw_response(self) -> AsyncUsageWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return AsyncUsageWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> AsyncUsageWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return AsyncUsageWithStreamingResponse(self)

    async def retrieve(
        self,
        *,
        start: str | datetime,
        end: str | datetime | None = None,
        connection_id: str | None = None,
        product_id: str | None = None,
        metadata_filters: MetadataFilters | None = None,
        customer_id: str | None = None,
        meter_id: str | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestUsage:
        """Retrieve daily usage from ``start`` to ``end`` (``GET usage``).

        Args:
            start: the first day, ISO 8601 text or a ``datetime``; its UTC offset sets the time
                zone of the daily buckets.
            end: the last moment included (default: now).
            customer_id, meter_id: the current API's names of ``connection_id`` and
                ``product_id`` (the same ids).
            metadata_filters: metadata pairs every counted request holds.
        """
        return await self._client._request(
            build_options(
                "GET",
                "usage",
                query={
                    "start": encode_timestamp(start),
                    "end": encode_timestamp(end),
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
            RestUsage,
        )


# -- with_raw_response / with_streaming_response --------------------------------------------------


class UsageWithRawResponse:
    """The methods of ``Usage``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: Usage) -> None:
        self.retrieve = to_raw_response_wrapper(resource.retrieve)


class UsageWithStreamingResponse:
    """The methods of ``Usage``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: Usage) -> None:
        self.retrieve = to_streamed_response_wrapper(resource.retrieve)


class AsyncUsageWithRawResponse:
    """The methods of ``AsyncUsage``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: AsyncUsage) -> None:
        self.retrieve = async_to_raw_response_wrapper(resource.retrieve)


class AsyncUsageWithStreamingResponse:
    """The methods of ``AsyncUsage``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: AsyncUsage) -> None:
        self.retrieve = async_to_streamed_response_wrapper(resource.retrieve)
