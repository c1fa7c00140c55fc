from __future__ import annotations

from decimal import Decimal
from functools import cached_property

from .._resource import AsyncAPIResource, SyncAPIResource, path_segment
from .._response import (
    async_to_raw_response_wrapper,
    async_to_streamed_response_wrapper,
    to_raw_response_wrapper,
    to_streamed_response_wrapper,
)
from .._types import NOT_GIVEN, Body, Headers, NotGiven, Query, Timeout, build_options
from ..types.shared import SuccessResponse
from ..types.subscription import RestActiveSubscription, RestSubscriptionConfig, RolloverType

__all__ = ["AsyncSubscriptions", "Subscriptions"]


def _config_path(subscription_config_id: str) -> str:
    return "subscription-configs/" + path_segment(subscription_config_id, "subscription_config_id")


def _active_subscription_path(active_subscription_id: str) -> str:
    return "active-subscriptions/" + path_segment(active_subscription_id, "active_subscription_id")


class Subscriptions(SyncAPIResource):
    """Subscription configs (plans) and the active subscriptions to them."""

    @cached_property
    def with_raw_response(self) -> SubscriptionsWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return SubscriptionsWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> SubscriptionsWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return SubscriptionsWithStreamingResponse(self)

    def list_configs(
        self,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> list[RestSubscriptionConfig]:
        """List every subscription config (``GET subscription-configs``)."""
        return self._client._request(
            build_options(
                "GET",
                "subscription-configs",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            list[RestSubscriptionConfig],
        )

    def create_config(
        self,
        *,
        name: str,
        period_amount: str | Decimal,
        rollover_type: RolloverType,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
        idempotency_key: str | None = None,
    ) -> RestSubscriptionConfig:
        """Create a subscription config (``POST subscription-configs``).

        Args:
            name: shown to customers.
            period_amount: USD of credit granted (and charged) each period, e.g. ``"25.00"``.
            rollover_type: ``"full"`` (unused credit carries over) or ``"none"`` (it expires).
        """
        return self._client._request(
            build_options(
                "POST",
                "subscription-configs",
                body={"name": name, "period_amount": period_amount, "rollover_type": rollover_type},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                extra_body=extra_body,
                idempotency_key=idempotency_key,
            ),
            RestSubscriptionConfig,
        )

    def update_config(
        self,
        subscription_config_id: str,
        *,
        name: str | None = None,
        period_amount: str | Decimal | None = None,
        rollover_type: RolloverType | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
        idempotency_key: str | None = None,
    ) -> RestSubscriptionConfig:
        """Update the given fields of a subscription config (``PUT subscription-configs/{id}``)."""
        return self._client._request(
            build_options(
                "PUT",
                "subscription-configs/"
                + path_segment(subscription_config_id, "subscription_config_id"),
                body={"name": name, "period_amount": period_amount, "rollover_type": rollover_type},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                extra_body=extra_body,
                idempotency_key=idempotency_key,
            ),
            RestSubscriptionConfig,
        )

    def delete_config(
        self,
        subscription_config_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SuccessResponse:
        """Delete a subscription config (``DELETE subscription-configs/{id}``).

        Raises:
            ConflictError: while active subscriptions use it.
        """
        return self._client._request(
            build_options(
                "DELETE",
                "subscription-configs/"
                + path_segment(subscription_config_id, "subscription_config_id"),
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            SuccessResponse,
        )

    def list_active_subscriptions(
        self,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> list[RestActiveSubscription]:
        """List the active subscriptions to your configs (``GET active-subscriptions``)."""
        return self._client._request(
            build_options(
                "GET",
                "active-subscriptions",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            list[RestActiveSubscription],
        )

    def cancel_active_subscription(
        self,
        active_subscription_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SuccessResponse:
        """Cancel an active subscription (``DELETE active-subscriptions/{id}``).

        No further renewals; credit already granted stays spendable until the period ends.
        Cancelling twice succeeds.
        """
        return self._client._request(
            build_options(
                "DELETE",
                "active-subscriptions/"
                + path_segment(active_subscription_id, "active_subscription_id"),
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            SuccessResponse,
        )


class AsyncSubscriptions(AsyncAPIResource):
    """Subscription configs (plans) and the active subscriptions to them."""

    @cached_property
    def with_raw_response(self) -> AsyncSubscriptionsWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return AsyncSubscriptionsWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> AsyncSubscriptionsWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return AsyncSubscriptionsWithStreamingResponse(self)

    async def list_configs(
        self,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> list[RestSubscriptionConfig]:
        """List every subscription config (``GET subscription-configs``)."""
        return await self._client._request(
            build_options(
                "GET",
                "subscription-configs",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            list[RestSubscriptionConfig],
        )

    async def create_config(
        self,
        *,
        name: str,
        period_amount: str | Decimal,
        rollover_type: RolloverType,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
        idempotency_key: str | None = None,
    ) -> RestSubscriptionConfig:
        """Create a subscription config (``POST subscription-configs``).

        Args:
            name: shown to customers.
            period_amount: USD of credit granted (and charged) each period, e.g. ``"25.00"``.
            rollover_type: ``"full"`` (unused credit carries over) or ``"none"`` (it expires).
        """
        return await self._client._request(
            build_options(
                "POST",
                "subscription-configs",
                body={"name": name, "period_amount": period_amount, "rollover_type": rollover_type},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                extra_body=extra_body,
                idempotency_key=idempotency_key,
            ),
            RestSubscriptionConfig,
        )

    async def update_config(
        self,
        subscription_config_id: str,
        *,
        name: str | None = None,
        period_amount: str | Decimal | None = None,
        rollover_type: RolloverType | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
        idempotency_key: str | None = None,
    ) -> RestSubscriptionConfig:
        """Update the given fields of a subscription config (``PUT subscription-configs/{id}``)."""
        return await self._client._request(
            build_options(
                "PUT",
                "subscription-configs/"
                + path_segment(subscription_config_id, "subscription_config_id"),
                body={"name": name, "period_amount": period_amount, "rollover_type": rollover_type},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                extra_body=extra_body,
                idempotency_key=idempotency_key,
            ),
            RestSubscriptionConfig,
        )

    async def delete_config(
        self,
        subscription_config_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SuccessResponse:
        """Delete a subscription config (``DELETE subscription-configs/{id}``).

        Raises:
            ConflictError: while active subscriptions use it.
        """
        return await self._client._request(
            build_options(
                "DELETE",
                "subscription-configs/"
                + path_segment(subscription_config_id, "subscription_config_id"),
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            SuccessResponse,
        )

    async def list_active_subscriptions(
        self,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> list[RestActiveSubscription]:
        """List the active subscriptions to your configs (``GET active-subscriptions``)."""
        return await self._client._request(
            build_options(
                "GET",
                "active-subscriptions",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            list[RestActiveSubscription],
        )

    async def cancel_active_subscription(
        self,
        active_subscription_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SuccessResponse:
        """Cancel an active subscription (``DELETE active-subscriptions/{id}``).

        No further renewals; credit already granted stays spendable until the period ends.
        Cancelling twice succeeds.
        """
        return await self._client._request(
            build_options(
                "DELETE",
                "active-subscriptions/"
                + path_segment(active_subscription_id, "active_subscription_id"),
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            SuccessResponse,
        )


# -- with_raw_response / with_streaming_response --------------------------------------------------


class SubscriptionsWithRawResponse:
    """The methods of ``Subscriptions``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: Subscriptions) -> None:
        self.list_configs = to_raw_response_wrapper(resource.list_configs)
        self.create_config = to_raw_response_wrapper(resource.create_config)
        self.update_config = to_raw_response_wrapper(resource.update_config)
        self.delete_config = to_raw_response_wrapper(resource.delete_config)
        self.list_active_subscriptions = to_raw_response_wrapper(resource.list_active_subscriptions)
        self.cancel_active_subscription = to_raw_response_wrapper(
            resource.cancel_active_subscription
        )


class SubscriptionsWithStreamingResponse:
    """The methods of ``Subscriptions``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: Subscriptions) -> None:
        self.list_configs = to_streamed_response_wrapper(resource.list_configs)
        self.create_config = to_streamed_response_wrapper(resource.create_config)
        self.update_config = to_streamed_response_wrapper(resource.update_config)
        self.delete_config = to_streamed_response_wrapper(resource.delete_config)
        self.list_active_subscriptions = to_streamed_response_wrapper(
            resource.list_active_subscriptions
        )
        self.cancel_active_subscription = to_streamed_response_wrapper(
            resource.cancel_active_subscription
        )


class AsyncSubscriptionsWithRawResponse:
    """The methods of ``AsyncSubscriptions``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: AsyncSubscriptions) -> None:
        self.list_configs = async_to_raw_response_wrapper(resource.list_configs)
        self.create_config = async_to_raw_response_wrapper(resource.create_config)
        self.update_config = async_to_raw_response_wrapper(resource.update_config)
        self.delete_config = async_to_raw_response_wrapper(resource.delete_config)
        self.list_active_subscriptions = async_to_raw_response_wrapper(
            resource.list_active_subscriptions
        )
        self.cancel_active_subscription = async_to_raw_response_wrapper(
            resource.cancel_active_subscription
        )


class AsyncSubscriptionsWithStreamingResponse:
    """The methods of ``AsyncSubscriptions``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: AsyncSubscriptions) -> None:
        self.list_configs = async_to_streamed_response_wrapper(resource.list_configs)
        self.create_config = async_to_streamed_response_wrapper(resource.create_config)
        self.update_config = async_to_streamed_response_wrapper(resource.update_config)
        self.delete_config = async_to_streamed_response_wrapper(resource.delete_config)
        self.list_active_subscriptions = async_to_streamed_response_wrapper(
            resource.list_active_subscriptions
        )
        self.cancel_active_subscription = async_to_streamed_response_wrapper(
            resource.cancel_active_subscription
        )
