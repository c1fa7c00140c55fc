from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import cached_property
from typing import Literal, TypedDict

from .._resource import AsyncAPIResource, SyncAPIResource, path_segment
from .._response import (
    async_to_raw_response_wrapper,
    async_to_streamed_response_wrapper,
    to_raw_response_wrapper,
    to_streamed_response_wrapper,
)
from .._types import NOT_GIVEN, Body, Headers, NotGiven, Query, Timeout, build_options
from ..pagination import AsyncPaginator, SyncCursorPage
from ..types.current import (
    BillingInterval,
    RestPlan,
    RestSubscription,
    RestSubscriptionCreateResponse,
)
from ..types.shared import SuccessResponse
from ..types.subscription import RestActiveSubscription, RestSubscriptionConfig, RolloverType
from ..types.webhook import DeletedResponse

__all__ = [
    "AsyncSubscriptions",
    "CreditBundleParam",
    "CreditBundleUpdateParam",
    "Subscriptions",
]


class CreditBundleParam(TypedDict):
    """A credit bundle of a new plan: ``credit_amount`` credits (1 credit = $1) for ``cost``."""

    name: str
    cost: str | Decimal
    credit_amount: str | Decimal


class CreditBundleUpdateParam(CreditBundleParam, total=False):
    """A credit bundle in a plan update: with ``credit_bundle_id`` it updates that bundle (or
    deletes it with ``is_deleted``); without, it adds a new one."""

    credit_bundle_id: str
    is_deleted: bool


def _bundles(bundles: Sequence[CreditBundleParam]) -> list[dict[str, object]]:
    return [dict(bundle) for bundle in bundles]


def _present(**fields: object) -> dict[str, object]:
    """The arguments that were given, where ``None`` means "not given"."""
    return {k: v for k, v in fields.items() if v is not None}


def _given(**fields: object) -> dict[str, object]:
    """The arguments that were given (``NOT_GIVEN`` ones left out; ``None`` kept, as JSON
    ``null``)."""
    return {k: v for k, v in fields.items() if not isinstance(v, NotGiven)}


def _plan_path(plan_id: str) -> str:
    return "plans/" + path_segment(plan_id, "plan_id")


def _subscription_path(subscription_id: str) -> str:
    return "subscriptions/" + path_segment(subscription_id, "subscription_id")


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

    # -- the current API (the Node SDK 11.x's SubscriptionsResource) ------------------------------

    def list_plans(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SyncCursorPage[RestPlan]:
        """List plans, newest first (``GET plans``; Node ``listPlans``); iterate for every
        page."""
        return self._client._request_page(
            build_options(
                "GET",
                "plans",
                query={"cursor": cursor, "limit": limit},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestPlan,
        )

    def retrieve_plan(
        self,
        plan_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestPlan:
        """Retrieve a plan (``GET plans/{id}``; Node ``retrievePlan``)."""
        return self._client._request(
            build_options(
                "GET",
                _plan_path(plan_id),
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestPlan,
        )

    def create_plan(
        self,
        *,
        name: str,
        period_amount: str | Decimal,
        billing_interval: BillingInterval,
        rollover_type: RolloverType | None = None,
        bundle_rollover_type: RolloverType | None = None,
        included_credit: str | Decimal | None = None,
        default_auto_top_up_bundle_index: int | NotGiven | None = NOT_GIVEN,
        meter_ids: Sequence[str] | None = None,
        credit_bundles: Sequence[CreditBundleParam] | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestPlan:
        """Create a plan (``POST plans``; Node ``createPlan``), with its meter links and credit
        bundles. ``default_auto_top_up_bundle_index`` indexes ``credit_bundles`` (``None``
        sends JSON ``null``)."""
        return self._client._request(
            build_options(
                "POST",
                "plans",
                body={
                    **_present(
                        name=name,
                        period_amount=period_amount,
                        billing_interval=billing_interval,
                        rollover_type=rollover_type,
                        bundle_rollover_type=bundle_rollover_type,
                        included_credit=included_credit,
                        meter_ids=None if meter_ids is None else list(meter_ids),
                        credit_bundles=None if credit_bundles is None else _bundles(credit_bundles),
                    ),
                    **_given(default_auto_top_up_bundle_index=default_auto_top_up_bundle_index),
                },
                keep_null=True,
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestPlan,
        )

    def update_plan(
        self,
        plan_id: str,
        *,
        name: str | None = None,
        rollover_type: RolloverType | None = None,
        bundle_rollover_type: RolloverType | None = None,
        included_credit: str | Decimal | None = None,
        default_auto_top_up_bundle_id: str | NotGiven | None = NOT_GIVEN,
        meter_ids: Sequence[str] | None = None,
        credit_bundles: Sequence[CreditBundleUpdateParam] | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestPlan:
        """Update a plan (``PATCH plans/{id}``; Node ``updatePlan``): only the arguments given
        change. ``default_auto_top_up_bundle_id=None`` clears it (JSON ``null``); ``meter_ids``
        replaces the links; ``credit_bundles`` are reconciled (with an id: update, with
        ``is_deleted``: delete, without an id: create)."""
        return self._client._request(
            build_options(
                "PATCH",
                _plan_path(plan_id),
                body={
                    **_present(
                        name=name,
                        rollover_type=rollover_type,
                        bundle_rollover_type=bundle_rollover_type,
                        included_credit=included_credit,
                        meter_ids=None if meter_ids is None else list(meter_ids),
                        credit_bundles=None if credit_bundles is None else _bundles(credit_bundles),
                    ),
                    **_given(default_auto_top_up_bundle_id=default_auto_top_up_bundle_id),
                },
                keep_null=True,
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestPlan,
        )

    def delete_plan(
        self,
        plan_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> DeletedResponse:
        """Delete a plan and its credit bundles (``DELETE plans/{id}``; Node ``deletePlan``)."""
        return self._client._request(
            build_options(
                "DELETE",
                _plan_path(plan_id),
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            DeletedResponse,
        )

    def create(
        self,
        *,
        customer_id: str,
        plan_id: str,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestSubscriptionCreateResponse:
        """Put a customer on a free plan (``POST subscriptions``); a paid plan needs a
        ``subscription`` checkout."""
        return self._client._request(
            build_options(
                "POST",
                "subscriptions",
                body={"customer_id": customer_id, "plan_id": plan_id},
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestSubscriptionCreateResponse,
        )

    def update(
        self,
        subscription_id: str,
        *,
        auto_top_up_bundle_id: str | NotGiven | None = NOT_GIVEN,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> SuccessResponse:
        """Update a subscription (``PATCH subscriptions/{id}``): ``auto_top_up_bundle_id``, a
        bundle of its plan, or ``None`` to stop topping up (JSON ``null``)."""
        return self._client._request(
            build_options(
                "PATCH",
                _subscription_path(subscription_id),
                body=_given(auto_top_up_bundle_id=auto_top_up_bundle_id),
                keep_null=True,
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            SuccessResponse,
        )

    def cancel(
        self,
        subscription_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SuccessResponse:
        """Cancel a subscription at the end of its cycle (``DELETE subscriptions/{id}``): it
        stays ``active`` with a ``pending_change`` of type ``cancellation`` until then."""
        return self._client._request(
            build_options(
                "DELETE",
                _subscription_path(subscription_id),
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            SuccessResponse,
        )

    def list(
        self,
        *,
        status: Literal["active", "cancelled", "all"] | None = None,
        customer_id: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SyncCursorPage[RestSubscription]:
        """List subscriptions, newest first (``GET subscriptions``), optionally by ``status``
        and ``customer_id``; iterate for every page."""
        return self._client._request_page(
            build_options(
                "GET",
                "subscriptions",
                query={
                    "status": status,
                    "customer_id": customer_id,
                    "cursor": cursor,
                    "limit": limit,
                },
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestSubscription,
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

    # -- the current API (the Node SDK 11.x's SubscriptionsResource) ------------------------------

    def list_plans(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> AsyncPaginator[RestPlan]:
        """List plans, newest first (``GET plans``; Node ``listPlans``); iterate for every
        page."""
        return self._client._request_page(
            build_options(
                "GET",
                "plans",
                query={"cursor": cursor, "limit": limit},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestPlan,
        )

    async def retrieve_plan(
        self,
        plan_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestPlan:
        """Retrieve a plan (``GET plans/{id}``; Node ``retrievePlan``)."""
        return await self._client._request(
            build_options(
                "GET",
                _plan_path(plan_id),
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestPlan,
        )

    async def create_plan(
        self,
        *,
        name: str,
        period_amount: str | Decimal,
        billing_interval: BillingInterval,
        rollover_type: RolloverType | None = None,
        bundle_rollover_type: RolloverType | None = None,
        included_credit: str | Decimal | None = None,
        default_auto_top_up_bundle_index: int | NotGiven | None = NOT_GIVEN,
        meter_ids: Sequence[str] | None = None,
        credit_bundles: Sequence[CreditBundleParam] | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestPlan:
        """Create a plan (``POST plans``; Node ``createPlan``), with its meter links and credit
        bundles. ``default_auto_top_up_bundle_index`` indexes ``credit_bundles`` (``None``
        sends JSON ``null``)."""
        return await self._client._request(
            build_options(
                "POST",
                "plans",
                body={
                    **_present(
                        name=name,
                        period_amount=period_amount,
                        billing_interval=billing_interval,
                        rollover_type=rollover_type,
                        bundle_rollover_type=bundle_rollover_type,
                        included_credit=included_credit,
                        meter_ids=None if meter_ids is None else list(meter_ids),
                        credit_bundles=None if credit_bundles is None else _bundles(credit_bundles),
                    ),
                    **_given(default_auto_top_up_bundle_index=default_auto_top_up_bundle_index),
                },
                keep_null=True,
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestPlan,
        )

    async def update_plan(
        self,
        plan_id: str,
        *,
        name: str | None = None,
        rollover_type: RolloverType | None = None,
        bundle_rollover_type: RolloverType | None = None,
        included_credit: str | Decimal | None = None,
        default_auto_top_up_bundle_id: str | NotGiven | None = NOT_GIVEN,
        meter_ids: Sequence[str] | None = None,
        credit_bundles: Sequence[CreditBundleUpdateParam] | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestPlan:
        """Update a plan (``PATCH plans/{id}``; Node ``updatePlan``): only the arguments given
        change. ``default_auto_top_up_bundle_id=None`` clears it (JSON ``null``); ``meter_ids``
        replaces the links; ``credit_bundles`` are reconciled (with an id: update, with
        ``is_deleted``: delete, without an id: create)."""
        return await self._client._request(
            build_options(
                "PATCH",
                _plan_path(plan_id),
                body={
                    **_present(
                        name=name,
                        rollover_type=rollover_type,
                        bundle_rollover_type=bundle_rollover_type,
                        included_credit=included_credit,
                        meter_ids=None if meter_ids is None else list(meter_ids),
                        credit_bundles=None if credit_bundles is None else _bundles(credit_bundles),
                    ),
                    **_given(default_auto_top_up_bundle_id=default_auto_top_up_bundle_id),
                },
                keep_null=True,
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestPlan,
        )

    async def delete_plan(
        self,
        plan_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> DeletedResponse:
        """Delete a plan and its credit bundles (``DELETE plans/{id}``; Node ``deletePlan``)."""
        return await self._client._request(
            build_options(
                "DELETE",
                _plan_path(plan_id),
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            DeletedResponse,
        )

    async def create(
        self,
        *,
        customer_id: str,
        plan_id: str,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestSubscriptionCreateResponse:
        """Put a customer on a free plan (``POST subscriptions``); a paid plan needs a
        ``subscription`` checkout."""
        return await self._client._request(
            build_options(
                "POST",
                "subscriptions",
                body={"customer_id": customer_id, "plan_id": plan_id},
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestSubscriptionCreateResponse,
        )

    async def update(
        self,
        subscription_id: str,
        *,
        auto_top_up_bundle_id: str | NotGiven | None = NOT_GIVEN,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> SuccessResponse:
        """Update a subscription (``PATCH subscriptions/{id}``): ``auto_top_up_bundle_id``, a
        bundle of its plan, or ``None`` to stop topping up (JSON ``null``)."""
        return await self._client._request(
            build_options(
                "PATCH",
                _subscription_path(subscription_id),
                body=_given(auto_top_up_bundle_id=auto_top_up_bundle_id),
                keep_null=True,
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            SuccessResponse,
        )

    async def cancel(
        self,
        subscription_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SuccessResponse:
        """Cancel a subscription at the end of its cycle (``DELETE subscriptions/{id}``): it
        stays ``active`` with a ``pending_change`` of type ``cancellation`` until then."""
        return await self._client._request(
            build_options(
                "DELETE",
                _subscription_path(subscription_id),
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            SuccessResponse,
        )

    def list(
        self,
        *,
        status: Literal["active", "cancelled", "all"] | None = None,
        customer_id: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> AsyncPaginator[RestSubscription]:
        """List subscriptions, newest first (``GET subscriptions``), optionally by ``status``
        and ``customer_id``; iterate for every page."""
        return self._client._request_page(
            build_options(
                "GET",
                "subscriptions",
                query={
                    "status": status,
                    "customer_id": customer_id,
                    "cursor": cursor,
                    "limit": limit,
                },
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestSubscription,
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
        self.list_plans = to_raw_response_wrapper(resource.list_plans)
        self.retrieve_plan = to_raw_response_wrapper(resource.retrieve_plan)
        self.create_plan = to_raw_response_wrapper(resource.create_plan)
        self.update_plan = to_raw_response_wrapper(resource.update_plan)
        self.delete_plan = to_raw_response_wrapper(resource.delete_plan)
        self.create = to_raw_response_wrapper(resource.create)
        self.update = to_raw_response_wrapper(resource.update)
        self.cancel = to_raw_response_wrapper(resource.cancel)
        self.list = to_raw_response_wrapper(resource.list)


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
        self.list_plans = to_streamed_response_wrapper(resource.list_plans)
        self.retrieve_plan = to_streamed_response_wrapper(resource.retrieve_plan)
        self.create_plan = to_streamed_response_wrapper(resource.create_plan)
        self.update_plan = to_streamed_response_wrapper(resource.update_plan)
        self.delete_plan = to_streamed_response_wrapper(resource.delete_plan)
        self.create = to_streamed_response_wrapper(resource.create)
        self.update = to_streamed_response_wrapper(resource.update)
        self.cancel = to_streamed_response_wrapper(resource.cancel)
        self.list = to_streamed_response_wrapper(resource.list)


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
        self.list_plans = async_to_raw_response_wrapper(resource.list_plans)
        self.retrieve_plan = async_to_raw_response_wrapper(resource.retrieve_plan)
        self.create_plan = async_to_raw_response_wrapper(resource.create_plan)
        self.update_plan = async_to_raw_response_wrapper(resource.update_plan)
        self.delete_plan = async_to_raw_response_wrapper(resource.delete_plan)
        self.create = async_to_raw_response_wrapper(resource.create)
        self.update = async_to_raw_response_wrapper(resource.update)
        self.cancel = async_to_raw_response_wrapper(resource.cancel)
        self.list = async_to_raw_response_wrapper(resource.list)


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
        self.list_plans = async_to_streamed_response_wrapper(resource.list_plans)
        self.retrieve_plan = async_to_streamed_response_wrapper(resource.retrieve_plan)
        self.create_plan = async_to_streamed_response_wrapper(resource.create_plan)
        self.update_plan = async_to_streamed_response_wrapper(resource.update_plan)
        self.delete_plan = async_to_streamed_response_wrapper(resource.delete_plan)
        self.create = async_to_streamed_response_wrapper(resource.create)
        self.update = async_to_streamed_response_wrapper(resource.update)
        self.cancel = async_to_streamed_response_wrapper(resource.cancel)
        self.list = async_to_streamed_response_wrapper(resource.list)
