from __future__ import annotations

from functools import cached_property

from .._resource import AsyncAPIResource, SyncAPIResource, path_segment
from .._response import (
    async_to_raw_response_wrapper,
    async_to_streamed_response_wrapper,
    to_raw_response_wrapper,
    to_streamed_response_wrapper,
)
from .._types import NOT_GIVEN, Headers, NotGiven, Query, Timeout, build_options
from ..pagination import AsyncPaginator, SyncCursorPage
from ..types.connection import RestConnection
from ..types.shared import SuccessResponse

__all__ = ["AsyncConnections", "Connections"]


class Connections(SyncAPIResource):
    """Connections: a customer's wallet linked to your merchant account."""

    @cached_property
    def with_raw_response(self) -> ConnectionsWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return ConnectionsWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> ConnectionsWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return ConnectionsWithStreamingResponse(self)

    def list(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        reference_id: str | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SyncCursorPage[RestConnection]:
        """List connections, newest first (``GET connections``).

        Iterate the returned page to walk every connection of every page.
        """
        return self._client._request_page(
            build_options(
                "GET",
                "connections",
                query={"cursor": cursor, "limit": limit, "reference_id": reference_id},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestConnection,
        )

    def retrieve(
        self,
        connection_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestConnection:
        """Retrieve a connection, with its secret and wallet (``GET connections/{id}``)."""
        return self._client._request(
            build_options(
                "GET",
                f"connections/{path_segment(connection_id, 'connection_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestConnection,
        )

    def delete(
        self,
        connection_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SuccessResponse:
        """Delete a connection (``DELETE connections/{id}``).

        Its secret stops working at once; the wallet and its history stay.
        """
        return self._client._request(
            build_options(
                "DELETE",
                f"connections/{path_segment(connection_id, 'connection_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            SuccessResponse,
        )


class AsyncConnections(AsyncAPIResource):
    """Connections: a customer's wallet linked to your merchant account."""

    @cached_property
    def with_raw_response(self) -> AsyncConnectionsWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return AsyncConnectionsWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> AsyncConnectionsWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return AsyncConnectionsWithStreamingResponse(self)

    def list(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        reference_id: str | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> AsyncPaginator[RestConnection]:
        """List connections, newest first (``GET connections``).

        Await the result for the first page, or ``async for`` over it to walk every connection
        of every page.
        """
        return self._client._request_page(
            build_options(
                "GET",
                "connections",
                query={"cursor": cursor, "limit": limit, "reference_id": reference_id},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestConnection,
        )

    async def retrieve(
        self,
        connection_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestConnection:
        """Retrieve a connection, with its secret and wallet (``GET connections/{id}``)."""
        return await self._client._request(
            build_options(
                "GET",
                f"connections/{path_segment(connection_id, 'connection_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestConnection,
        )

    async def delete(
        self,
        connection_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SuccessResponse:
        """Delete a connection (``DELETE connections/{id}``).

        Its secret stops working at once; the wallet and its history stay.
        """
        return await self._client._request(
            build_options(
                "DELETE",
                f"connections/{path_segment(connection_id, 'connection_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            SuccessResponse,
        )


# -- with_raw_response / with_streaming_response --------------------------------------------------


class ConnectionsWithRawResponse:
    """The methods of ``Connections``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: Connections) -> None:
        self.list = to_raw_response_wrapper(resource.list)
        self.retrieve = to_raw_response_wrapper(resource.retrieve)
        self.delete = to_raw_response_wrapper(resource.delete)


class ConnectionsWithStreamingResponse:
    """The methods of ``Connections``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: Connections) -> None:
        self.list = to_streamed_response_wrapper(resource.list)
        self.retrieve = to_streamed_response_wrapper(resource.retrieve)
        self.delete = to_streamed_response_wrapper(resource.delete)


class AsyncConnectionsWithRawResponse:
    """The methods of ``AsyncConnections``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: AsyncConnections) -> None:
        self.list = async_to_raw_response_wrapper(resource.list)
        self.retrieve = async_to_raw_response_wrapper(resource.retrieve)
        self.delete = async_to_raw_response_wrapper(resource.delete)


class AsyncConnectionsWithStreamingResponse:
    """The methods of ``AsyncConnections``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: AsyncConnections) -> None:
        self.list = async_to_streamed_response_wrapper(resource.list)
        self.retrieve = async_to_streamed_response_wrapper(resource.retrieve)
        self.delete = async_to_streamed_response_wrapper(resource.delete)
