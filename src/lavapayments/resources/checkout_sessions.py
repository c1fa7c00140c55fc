from __future__ import annotations

from functools import cached_property

from .._resource import AsyncAPIResource, SyncAPIResource, path_segment
from .._response import (
    async_to_raw_response_wrapper,
    async_to_streamed_response_wrapper,
    to_raw_response_wrapper,
    to_streamed_response_wrapper,
)
from .._types import NOT_GIVEN, Body, Headers, NotGiven, Query, Timeout, build_options
from ..pagination import AsyncPaginator, SyncCursorPage
from ..types.checkout_session import CheckoutMode, RestCheckoutSession

__all__ = ["AsyncCheckoutSessions", "CheckoutSessions"]


class CheckoutSessions(SyncAPIResource):
    """Checkout sessions: where a customer connects a wallet, tops it up or subscribes."""

    @cached_property
    def with_raw_response(self) -> CheckoutSessionsWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return CheckoutSessionsWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> CheckoutSessionsWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return CheckoutSessionsWithStreamingResponse(self)

    def create(
        self,
        *,
        checkout_mode: CheckoutMode,
        origin_url: str,
        reference_id: str | None = None,
        connection_id: str | None = None,
        subscription_config_id: str | None = None,
        customer_id: str | None = None,
        plan_id: str | None = None,
        credit_bundle_id: str | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
        idempotency_key: str | None = None,
    ) -> RestCheckoutSession:
        """Create a checkout session (``POST checkout_sessions``).

        Args:
            checkout_mode: ``"onboarding"`` (a new connection), ``"topup"`` (needs
                ``connection_id``) or ``"subscription"`` (needs ``subscription_config_id``).
            origin_url: the origin of the page that will open checkout.
            reference_id: your own id for the customer, kept on the connection.
            connection_id: the connection to top up (or to subscribe).
            subscription_config_id: the plan to subscribe to.
            customer_id: the current API's name of ``connection_id`` (``subscription`` and
                ``credit_bundle`` modes).
            plan_id: the current API's name of ``subscription_config_id``.
            credit_bundle_id: the bundle to buy, in ``"credit_bundle"`` mode (current API).
        """
        return self._client._request(
            build_options(
                "POST",
                "checkout_sessions",
                body={
                    "checkout_mode": checkout_mode,
                    "origin_url": origin_url,
                    "reference_id": reference_id,
                    "connection_id": connection_id,
                    "subscription_config_id": subscription_config_id,
                    "customer_id": customer_id,
                    "plan_id": plan_id,
                    "credit_bundle_id": credit_bundle_id,
                },
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                extra_body=extra_body,
                idempotency_key=idempotency_key,
            ),
            RestCheckoutSession,
        )

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
    ) -> SyncCursorPage[RestCheckoutSession]:
        """List checkout sessions, newest first (``GET checkout_sessions``).

        Iterate the returned page to walk every session of every page.
        """
        return self._client._request_page(
            build_options(
                "GET",
                "checkout_sessions",
                query={"cursor": cursor, "limit": limit, "reference_id": reference_id},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestCheckoutSession,
        )

    def retrieve(
        self,
        checkout_session_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestCheckoutSession:
        """Retrieve a checkout session by id (``GET checkout_sessions/{id}``)."""
        return self._client._request(
            build_options(
                "GET",
                f"checkout_sessions/{path_segment(checkout_session_id, 'checkout_session_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestCheckoutSession,
        )


class AsyncCheckoutSessions(AsyncAPIResource):
    """Checkout sessions: where a customer connects a wallet, tops it up or subscribes."""

    @cached_property
    def with_raw_response(self) -> AsyncCheckoutSessionsWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return AsyncCheckoutSessionsWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> AsyncCheckoutSessionsWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return AsyncCheckoutSessionsWithStreamingResponse(self)

    async def create(
        self,
        *,
        checkout_mode: CheckoutMode,
        origin_url: str,
        reference_id: str | None = None,
        connection_id: str | None = None,
        subscription_config_id: str | None = None,
        customer_id: str | None = None,
        plan_id: str | None = None,
        credit_bundle_id: str | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        extra_body: Body | None = None,
        idempotency_key: str | None = None,
    ) -> RestCheckoutSession:
        """Create a checkout session (``POST checkout_sessions``).

        Args:
            checkout_mode: ``"onboarding"`` (a new connection), ``"topup"`` (needs
                ``connection_id``) or ``"subscription"`` (needs ``subscription_config_id``).
            origin_url: the origin of the page that will open checkout.
            reference_id: your own id for the customer, kept on the connection.
            connection_id: the connection to top up (or to subscribe).
            subscription_config_id: the plan to subscribe to.
            customer_id: the current API's name of ``connection_id`` (``subscription`` and
                ``credit_bundle`` modes).
            plan_id: the current API's name of ``subscription_config_id``.
            credit_bundle_id: the bundle to buy, in ``"credit_bundle"`` mode (current API).
        """
        return await self._client._request(
            build_options(
                "POST",
                "checkout_sessions",
                body={
                    "checkout_mode": checkout_mode,
                    "origin_url": origin_url,
                    "reference_id": reference_id,
                    "connection_id": connection_id,
                    "subscription_config_id": subscription_config_id,
                    "customer_id": customer_id,
                    "plan_id": plan_id,
                    "credit_bundle_id": credit_bundle_id,
                },
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                extra_body=extra_body,
                idempotency_key=idempotency_key,
            ),
            RestCheckoutSession,
        )

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
    ) -> AsyncPaginator[RestCheckoutSession]:
        """List checkout sessions, newest first (``GET checkout_sessions``).

        Await the result for the first page, or ``async for`` over it to walk every session of
        every page.
        """
        return self._client._request_page(
            build_options(
                "GET",
                "checkout_sessions",
                query={"cursor": cursor, "limit": limit, "reference_id": reference_id},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestCheckoutSession,
        )

    async def retrieve(
        self,
        checkout_session_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestCheckoutSession:
        """Retrieve a checkout session by id (``GET checkout_sessions/{id}``)."""
        return await self._client._request(
            build_options(
                "GET",
                f"checkout_sessions/{path_segment(checkout_session_id, 'checkout_session_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestCheckoutSession,
        )


# -- with_raw_response / with_streaming_response --------------------------------------------------


class CheckoutSessionsWithRawResponse:
    """The methods of ``CheckoutSessions``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: CheckoutSessions) -> None:
        self.create = to_raw_response_wrapper(resource.create)
        self.list = to_raw_response_wrapper(resource.list)
        self.retrieve = to_raw_response_wrapper(resource.retrieve)


class CheckoutSessionsWithStreamingResponse:
    """The methods of ``CheckoutSessions``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: CheckoutSessions) -> None:
        self.create = to_streamed_response_wrapper(resource.create)
        self.list = to_streamed_response_wrapper(resource.list)
        self.retrieve = to_streamed_response_wrapper(resource.retrieve)


class AsyncCheckoutSessionsWithRawResponse:
    """The methods of ``AsyncCheckoutSessions``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: AsyncCheckoutSessions) -> None:
        self.create = async_to_raw_response_wrapper(resource.create)
        self.list = async_to_raw_response_wrapper(resource.list)
        self.retrieve = async_to_raw_response_wrapper(resource.retrieve)


class AsyncCheckoutSessionsWithStreamingResponse:
    """The methods of ``AsyncCheckoutSessions``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: AsyncCheckoutSessions) -> None:
        self.create = async_to_streamed_response_wrapper(resource.create)
        self.list = async_to_streamed_response_wrapper(resource.list)
        self.retrieve = async_to_streamed_response_wrapper(resource.retrieve)
