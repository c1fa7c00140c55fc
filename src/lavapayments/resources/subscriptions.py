from __future__ import annotations

from decimal import Decimal

from .._resource import AsyncAPIResource, SyncAPIResource, path_segment
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
