from __future__ import annotations

from .._resource import AsyncAPIResource, SyncAPIResource, path_segment
from .._types import NOT_GIVEN, Headers, NotGiven, Query, Timeout, build_options
from ..pagination import AsyncPaginator, SyncCursorPage
from ..types.connection import RestConnection
from ..types.shared import SuccessResponse

__all__ = ["AsyncConnections", "Connections"]


class Connections(SyncAPIResource):
    """Connections: a customer's wallet linked to your merchant account."""

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
