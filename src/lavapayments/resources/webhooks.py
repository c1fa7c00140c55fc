from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from .._resource import AsyncAPIResource, SyncAPIResource, path_segment
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
