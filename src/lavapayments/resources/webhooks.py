from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Literal

from .._resource import AsyncAPIResource, SyncAPIResource, path_segment
from .._response import (
    async_to_raw_response_wrapper,
    async_to_streamed_response_wrapper,
    to_raw_response_wrapper,
    to_streamed_response_wrapper,
)
from .._types import NOT_GIVEN, Body, Headers, NotGiven, Query, Timeout, build_options
from ..pagination import AsyncPaginator, SyncCursorPage
from ..types.webhook import (
    DeletedResponse,
    EventNames,
    RestWebhook,
    RestWebhookCreate,
    RestWebhookDelivery,
)

__all__ = ["AsyncWebhooks", "Webhooks"]


def _id(webhook_id: str) -> str:
    return path_segment(webhook_id, "webhook_id")


class Webhooks(SyncAPIResource):
    """Webhook endpoints: where the server sends signed events, and their deliveries."""

    @cached_property
    def with_raw_response(self) -> WebhooksWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return WebhooksWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> WebhooksWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return WebhooksWithStreamingResponse(self)

    def list(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SyncCursorPage[RestWebhook]:
        """List webhook endpoints, newest first (``GET webhooks``)."""
        return self._client._request_page(
            build_options(
                "GET",
                "webhooks",
                query={"cursor": cursor, "limit": limit},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestWebhook,
        )

    def retrieve(
        self,
        webhook_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestWebhook:
        """Retrieve a webhook endpoint (``GET webhooks/{id}``)."""
        return self._client._request(
            build_options(
                "GET",
                f"webhooks/{_id(webhook_id)}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestWebhook,
        )

    def create(
        self,
        *,
        name: str,
        url: str,
        enabled_events: Sequence[str] | None = None,
        event_names: EventNames | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestWebhookCreate:
        """Create a webhook endpoint (``POST webhooks``); its ``webhook_secret`` is shown only now.

        Args:
            name: a name for you.
            url: where events are POSTed (``https://``).
            enabled_events: event types to receive, or ``["*"]`` (the default): all.
            event_names: ``"current"`` (``customer.*``, the default) or ``"legacy"``
                (``connection.*``).
        """
        return self._client._request(
            build_options(
                "POST",
                "webhooks",
                body={
                    "name": name,
                    "url": url,
                    "enabled_events": None if enabled_events is None else [*enabled_events],
                    "event_names": event_names,
                },
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestWebhookCreate,
        )

    def update(
        self,
        webhook_id: str,
        *,
        name: str | None = None,
        url: str | None = None,
        enabled_events: Sequence[str] | None = None,
        event_names: EventNames | None = None,
        status: Literal["enabled", "disabled"] | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestWebhook:
        """Change a webhook endpoint (``PATCH webhooks/{id}``); only the fields given change."""
        return self._client._request(
            build_options(
                "PATCH",
                f"webhooks/{_id(webhook_id)}",
                body={
                    "name": name,
                    "url": url,
                    "enabled_events": None if enabled_events is None else [*enabled_events],
                    "event_names": event_names,
                    "status": status,
                },
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestWebhook,
        )

    def delete(
        self,
        webhook_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> DeletedResponse:
        """Delete a webhook endpoint (``DELETE webhooks/{id}``)."""
        return self._client._request(
            build_options(
                "DELETE",
                f"webhooks/{_id(webhook_id)}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            DeletedResponse,
        )

    def rotate_secret(
        self,
        webhook_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestWebhookCreate:
        """A new signing secret (``POST webhooks/{id}/rotate``); the old one signs too for
        24 hours."""
        return self._client._request(
            build_options(
                "POST",
                f"webhooks/{_id(webhook_id)}/rotate",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestWebhookCreate,
        )

    def list_deliveries(
        self,
        webhook_id: str,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SyncCursorPage[RestWebhookDelivery]:
        """Deliveries to an endpoint with every attempt, newest first
        (``GET webhooks/{id}/deliveries``)."""
        return self._client._request_page(
            build_options(
                "GET",
                f"webhooks/{_id(webhook_id)}/deliveries",
                query={"cursor": cursor, "limit": limit},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestWebhookDelivery,
        )

    def resend_delivery(
        self,
        webhook_id: str,
        delivery_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestWebhookDelivery:
        """Send a delivery again now (``POST webhooks/{id}/deliveries/{delivery_id}/resend``)."""
        return self._client._request(
            build_options(
                "POST",
                f"webhooks/{_id(webhook_id)}/deliveries/"
                f"{path_segment(delivery_id, 'delivery_id')}/resend",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestWebhookDelivery,
        )

    def test(
        self,
        webhook_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestWebhookDelivery:
        """Send a ``ping`` event to the endpoint (``POST webhooks/{id}/test``)."""
        return self._client._request(
            build_options(
                "POST",
                f"webhooks/{_id(webhook_id)}/test",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestWebhookDelivery,
        )


class AsyncWebhooks(AsyncAPIResource):
    """Webhook endpoints: where the server sends signed events, and their deliveries."""

    @cached_property
    def with_raw_response(self) -> AsyncWebhooksWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return AsyncWebhooksWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> AsyncWebhooksWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return AsyncWebhooksWithStreamingResponse(self)

    def list(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> AsyncPaginator[RestWebhook]:
        """List webhook endpoints, newest first (``GET webhooks``)."""
        return self._client._request_page(
            build_options(
                "GET",
                "webhooks",
                query={"cursor": cursor, "limit": limit},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestWebhook,
        )

    async def retrieve(
        self,
        webhook_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestWebhook:
        """Retrieve a webhook endpoint (``GET webhooks/{id}``)."""
        return await self._client._request(
            build_options(
                "GET",
                f"webhooks/{_id(webhook_id)}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestWebhook,
        )

    async def create(
        self,
        *,
        name: str,
        url: str,
        enabled_events: Sequence[str] | None = None,
        event_names: EventNames | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestWebhookCreate:
        """Create a webhook endpoint (``POST webhooks``); its ``webhook_secret`` is shown only now.

        Args:
            name: a name for you.
            url: where events are POSTed (``https://``).
            enabled_events: event types to receive, or ``["*"]`` (the default): all.
            event_names: ``"current"`` (``customer.*``, the default) or ``"legacy"``
                (``connection.*``).
        """
        return await self._client._request(
            build_options(
                "POST",
                "webhooks",
                body={
                    "name": name,
                    "url": url,
                    "enabled_events": None if enabled_events is None else [*enabled_events],
                    "event_names": event_names,
                },
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestWebhookCreate,
        )

    async def update(
        self,
        webhook_id: str,
        *,
        name: str | None = None,
        url: str | None = None,
        enabled_events: Sequence[str] | None = None,
        event_names: EventNames | None = None,
        status: Literal["enabled", "disabled"] | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestWebhook:
        """Change a webhook endpoint (``PATCH webhooks/{id}``); only the fields given change."""
        return await self._client._request(
            build_options(
                "PATCH",
                f"webhooks/{_id(webhook_id)}",
                body={
                    "name": name,
                    "url": url,
                    "enabled_events": None if enabled_events is None else [*enabled_events],
                    "event_names": event_names,
                    "status": status,
                },
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestWebhook,
        )

    async def delete(
        self,
        webhook_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> DeletedResponse:
        """Delete a webhook endpoint (``DELETE webhooks/{id}``)."""
        return await self._client._request(
            build_options(
                "DELETE",
                f"webhooks/{_id(webhook_id)}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            DeletedResponse,
        )

    async def rotate_secret(
        self,
        webhook_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestWebhookCreate:
        """A new signing secret (``POST webhooks/{id}/rotate``); the old one signs too for
        24 hours."""
        return await self._client._request(
            build_options(
                "POST",
                f"webhooks/{_id(webhook_id)}/rotate",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestWebhookCreate,
        )

    def list_deliveries(
        self,
        webhook_id: str,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> AsyncPaginator[RestWebhookDelivery]:
        """Deliveries to an endpoint with every attempt, newest first
        (``GET webhooks/{id}/deliveries``)."""
        return self._client._request_page(
            build_options(
                "GET",
                f"webhooks/{_id(webhook_id)}/deliveries",
                query={"cursor": cursor, "limit": limit},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestWebhookDelivery,
        )

    async def resend_delivery(
        self,
        webhook_id: str,
        delivery_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestWebhookDelivery:
        """Send a delivery again now (``POST webhooks/{id}/deliveries/{delivery_id}/resend``)."""
        return await self._client._request(
            build_options(
                "POST",
                f"webhooks/{_id(webhook_id)}/deliveries/"
                f"{path_segment(delivery_id, 'delivery_id')}/resend",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestWebhookDelivery,
        )

    async def test(
        self,
        webhook_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestWebhookDelivery:
        """Send a ``ping`` event to the endpoint (``POST webhooks/{id}/test``)."""
        return await self._client._request(
            build_options(
                "POST",
                f"webhooks/{_id(webhook_id)}/test",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestWebhookDelivery,
        )


# -- with_raw_response / with_streaming_response --------------------------------------------------


class WebhooksWithRawResponse:
    """The methods of ``Webhooks``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: Webhooks) -> None:
        self.list = to_raw_response_wrapper(resource.list)
        self.retrieve = to_raw_response_wrapper(resource.retrieve)
        self.create = to_raw_response_wrapper(resource.create)
        self.update = to_raw_response_wrapper(resource.update)
        self.delete = to_raw_response_wrapper(resource.delete)
        self.rotate_secret = to_raw_response_wrapper(resource.rotate_secret)
        self.list_deliveries = to_raw_response_wrapper(resource.list_deliveries)
        self.resend_delivery = to_raw_response_wrapper(resource.resend_delivery)
        self.test = to_raw_response_wrapper(resource.test)


class WebhooksWithStreamingResponse:
    """The methods of ``Webhooks``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: Webhooks) -> None:
        self.list = to_streamed_response_wrapper(resource.list)
        self.retrieve = to_streamed_response_wrapper(resource.retrieve)
        self.create = to_streamed_response_wrapper(resource.create)
        self.update = to_streamed_response_wrapper(resource.update)
        self.delete = to_streamed_response_wrapper(resource.delete)
        self.rotate_secret = to_streamed_response_wrapper(resource.rotate_secret)
        self.list_deliveries = to_streamed_response_wrapper(resource.list_deliveries)
        self.resend_delivery = to_streamed_response_wrapper(resource.resend_delivery)
        self.test = to_streamed_response_wrapper(resource.test)


class AsyncWebhooksWithRawResponse:
    """The methods of ``AsyncWebhooks``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: AsyncWebhooks) -> None:
        self.list = async_to_raw_response_wrapper(resource.list)
        self.retrieve = async_to_raw_response_wrapper(resource.retrieve)
        self.create = async_to_raw_response_wrapper(resource.create)
        self.update = async_to_raw_response_wrapper(resource.update)
        self.delete = async_to_raw_response_wrapper(resource.delete)
        self.rotate_secret = async_to_raw_response_wrapper(resource.rotate_secret)
        self.list_deliveries = async_to_raw_response_wrapper(resource.list_deliveries)
        self.resend_delivery = async_to_raw_response_wrapper(resource.resend_delivery)
        self.test = async_to_raw_response_wrapper(resource.test)


class AsyncWebhooksWithStreamingResponse:
    """The methods of ``AsyncWebhooks``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: AsyncWebhooks) -> None:
        self.list = async_to_streamed_response_wrapper(resource.list)
        self.retrieve = async_to_streamed_response_wrapper(resource.retrieve)
        self.create = async_to_streamed_response_wrapper(resource.create)
        self.update = async_to_streamed_response_wrapper(resource.update)
        self.delete = async_to_streamed_response_wrapper(resource.delete)
        self.rotate_secret = async_to_streamed_response_wrapper(resource.rotate_secret)
        self.list_deliveries = async_to_streamed_response_wrapper(resource.list_deliveries)
        self.resend_delivery = async_to_streamed_response_wrapper(resource.resend_delivery)
        self.test = async_to_streamed_response_wrapper(resource.test)
