"""Our extension's money operations (``docs/checkout-and-wallets.md#merchant-money-operations``):
``credits`` (grants paid by the merchant), ``adjustments`` (signed corrections), ``refunds``
(through the provider that took the payment) and ``payments`` (with their refunds). Amounts go
as decimal strings (``Decimal`` exact); a POST takes ``idempotency_key`` (the SDK sends one of
its own on retries), so a retried grant, adjustment or refund moves money once."""

from __future__ import annotations

from datetime import datetime
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
from ..pagination import AsyncPaginator, SyncCursorPage
from ..types.payment import RestBalanceOperation, RestPayment, RestRefund

__all__ = [
    "Adjustments",
    "AsyncAdjustments",
    "AsyncCredits",
    "AsyncPayments",
    "AsyncRefunds",
    "Credits",
    "Payments",
    "Refunds",
]


def _amount(value: Decimal | str | None) -> str | None:
    return format(value, "f") if isinstance(value, Decimal) else value


def _moment(value: datetime | str | None) -> str | None:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        return value.isoformat()
    return value


class Credits(SyncAPIResource):
    """Grants of credit paid by the merchant: ``create``."""

    @cached_property
    def with_raw_response(self) -> CreditsWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return CreditsWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> CreditsWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return CreditsWithStreamingResponse(self)

    def create(
        self,
        customer_id: str,
        *,
        amount: Decimal | str,
        reason: str,
        expires_at: datetime | str | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestBalanceOperation:
        """Grant credit to a customer's wallet (``POST customers/{id}/credits``), paid by the
        merchant; with ``expires_at`` what is left of it then goes back to the merchant."""
        return self._client._request(
            build_options(
                "POST",
                f"customers/{path_segment(customer_id, 'customer_id')}/credits",
                body={
                    "amount": _amount(amount),
                    "reason": reason,
                    "expires_at": _moment(expires_at),
                },
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestBalanceOperation,
        )


class Adjustments(SyncAPIResource):
    """Signed corrections of a wallet: ``create``."""

    @cached_property
    def with_raw_response(self) -> AdjustmentsWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return AdjustmentsWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> AdjustmentsWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return AdjustmentsWithStreamingResponse(self)

    def create(
        self,
        customer_id: str,
        *,
        amount: Decimal | str,
        reason: str,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestBalanceOperation:
        """Correct a customer's wallet by a signed ``amount``
        (``POST customers/{id}/adjustments``); a negative one down to zero at most."""
        return self._client._request(
            build_options(
                "POST",
                f"customers/{path_segment(customer_id, 'customer_id')}/adjustments",
                body={"amount": _amount(amount), "reason": reason},
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestBalanceOperation,
        )


class Refunds(SyncAPIResource):
    """Refunds of top-up payments: ``create``, ``retrieve``."""

    @cached_property
    def with_raw_response(self) -> RefundsWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return RefundsWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> RefundsWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return RefundsWithStreamingResponse(self)

    def create(
        self,
        *,
        payment_id: str,
        amount: Decimal | str | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestRefund:
        """Refund a top-up payment through the provider that took it (``POST refunds``); without
        ``amount``, what is left of it. The wallet is debited by the same amount."""
        return self._client._request(
            build_options(
                "POST",
                "refunds",
                body={"payment_id": payment_id, "amount": _amount(amount)},
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestRefund,
        )

    def retrieve(
        self,
        refund_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestRefund:
        """Retrieve a refund (``GET refunds/{id}``)."""
        return self._client._request(
            build_options(
                "GET",
                f"refunds/{path_segment(refund_id, 'refund_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestRefund,
        )


class Payments(SyncAPIResource):
    """Card payments with their refunds: ``list``, ``retrieve``."""

    @cached_property
    def with_raw_response(self) -> PaymentsWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return PaymentsWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> PaymentsWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return PaymentsWithStreamingResponse(self)

    def list(
        self,
        *,
        customer_id: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SyncCursorPage[RestPayment]:
        """List payments with their refunds, newest first (``GET payments``), of one customer
        with ``customer_id``; iterate for every page."""
        return self._client._request_page(
            build_options(
                "GET",
                "payments",
                query={"customer_id": customer_id, "cursor": cursor, "limit": limit},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestPayment,
        )

    def retrieve(
        self,
        payment_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestPayment:
        """Retrieve a payment with its refunds (``GET payments/{id}``)."""
        return self._client._request(
            build_options(
                "GET",
                f"payments/{path_segment(payment_id, 'payment_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestPayment,
        )


class AsyncCredits(AsyncAPIResource):
    """Grants of credit paid by the merchant: ``create``."""

    @cached_property
    def with_raw_response(self) -> AsyncCreditsWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return AsyncCreditsWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> AsyncCreditsWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return AsyncCreditsWithStreamingResponse(self)

    async def create(
        self,
        customer_id: str,
        *,
        amount: Decimal | str,
        reason: str,
        expires_at: datetime | str | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestBalanceOperation:
        """Grant credit to a customer's wallet (``POST customers/{id}/credits``), paid by the
        merchant; with ``expires_at`` what is left of it then goes back to the merchant."""
        return await self._client._request(
            build_options(
                "POST",
                f"customers/{path_segment(customer_id, 'customer_id')}/credits",
                body={
                    "amount": _amount(amount),
                    "reason": reason,
                    "expires_at": _moment(expires_at),
                },
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestBalanceOperation,
        )


class AsyncAdjustments(AsyncAPIResource):
    """Signed corrections of a wallet: ``create``."""

    @cached_property
    def with_raw_response(self) -> AsyncAdjustmentsWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return AsyncAdjustmentsWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> AsyncAdjustmentsWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return AsyncAdjustmentsWithStreamingResponse(self)

    async def create(
        self,
        customer_id: str,
        *,
        amount: Decimal | str,
        reason: str,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestBalanceOperation:
        """Correct a customer's wallet by a signed ``amount``
        (``POST customers/{id}/adjustments``); a negative one down to zero at most."""
        return await self._client._request(
            build_options(
                "POST",
                f"customers/{path_segment(customer_id, 'customer_id')}/adjustments",
                body={"amount": _amount(amount), "reason": reason},
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestBalanceOperation,
        )


class AsyncRefunds(AsyncAPIResource):
    """Refunds of top-up payments: ``create``, ``retrieve``."""

    @cached_property
    def with_raw_response(self) -> AsyncRefundsWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return AsyncRefundsWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> AsyncRefundsWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return AsyncRefundsWithStreamingResponse(self)

    async def create(
        self,
        *,
        payment_id: str,
        amount: Decimal | str | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestRefund:
        """Refund a top-up payment through the provider that took it (``POST refunds``); without
        ``amount``, what is left of it. The wallet is debited by the same amount."""
        return await self._client._request(
            build_options(
                "POST",
                "refunds",
                body={"payment_id": payment_id, "amount": _amount(amount)},
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestRefund,
        )

    async def retrieve(
        self,
        refund_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestRefund:
        """Retrieve a refund (``GET refunds/{id}``)."""
        return await self._client._request(
            build_options(
                "GET",
                f"refunds/{path_segment(refund_id, 'refund_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestRefund,
        )


class AsyncPayments(AsyncAPIResource):
    """Card payments with their refunds: ``list``, ``retrieve``."""

    @cached_property
    def with_raw_response(self) -> AsyncPaymentsWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return AsyncPaymentsWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> AsyncPaymentsWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return AsyncPaymentsWithStreamingResponse(self)

    def list(
        self,
        *,
        customer_id: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> AsyncPaginator[RestPayment]:
        """List payments with their refunds, newest first (``GET payments``), of one customer
        with ``customer_id``; iterate for every page."""
        return self._client._request_page(
            build_options(
                "GET",
                "payments",
                query={"customer_id": customer_id, "cursor": cursor, "limit": limit},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestPayment,
        )

    async def retrieve(
        self,
        payment_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestPayment:
        """Retrieve a payment with its refunds (``GET payments/{id}``)."""
        return await self._client._request(
            build_options(
                "GET",
                f"payments/{path_segment(payment_id, 'payment_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestPayment,
        )


class CreditsWithRawResponse:
    """The methods of ``Credits``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: Credits) -> None:
        self.create = to_raw_response_wrapper(resource.create)


class CreditsWithStreamingResponse:
    """The methods of ``Credits``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: Credits) -> None:
        self.create = to_streamed_response_wrapper(resource.create)


class AdjustmentsWithRawResponse:
    """The methods of ``Adjustments``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: Adjustments) -> None:
        self.create = to_raw_response_wrapper(resource.create)


class AdjustmentsWithStreamingResponse:
    """The methods of ``Adjustments``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: Adjustments) -> None:
        self.create = to_streamed_response_wrapper(resource.create)


class RefundsWithRawResponse:
    """The methods of ``Refunds``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: Refunds) -> None:
        self.create = to_raw_response_wrapper(resource.create)
        self.retrieve = to_raw_response_wrapper(resource.retrieve)


class RefundsWithStreamingResponse:
    """The methods of ``Refunds``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: Refunds) -> None:
        self.create = to_streamed_response_wrapper(resource.create)
        self.retrieve = to_streamed_response_wrapper(resource.retrieve)


class PaymentsWithRawResponse:
    """The methods of ``Payments``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: Payments) -> None:
        self.list = to_raw_response_wrapper(resource.list)
        self.retrieve = to_raw_response_wrapper(resource.retrieve)


class PaymentsWithStreamingResponse:
    """The methods of ``Payments``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: Payments) -> None:
        self.list = to_streamed_response_wrapper(resource.list)
        self.retrieve = to_streamed_response_wrapper(resource.retrieve)


class AsyncCreditsWithRawResponse:
    """The methods of ``AsyncCredits``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: AsyncCredits) -> None:
        self.create = async_to_raw_response_wrapper(resource.create)


class AsyncCreditsWithStreamingResponse:
    """The methods of ``AsyncCredits``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: AsyncCredits) -> None:
        self.create = async_to_streamed_response_wrapper(resource.create)


class AsyncAdjustmentsWithRawResponse:
    """The methods of ``AsyncAdjustments``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: AsyncAdjustments) -> None:
        self.create = async_to_raw_response_wrapper(resource.create)


class AsyncAdjustmentsWithStreamingResponse:
    """The methods of ``AsyncAdjustments``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: AsyncAdjustments) -> None:
        self.create = async_to_streamed_response_wrapper(resource.create)


class AsyncRefundsWithRawResponse:
    """The methods of ``AsyncRefunds``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: AsyncRefunds) -> None:
        self.create = async_to_raw_response_wrapper(resource.create)
        self.retrieve = async_to_raw_response_wrapper(resource.retrieve)


class AsyncRefundsWithStreamingResponse:
    """The methods of ``AsyncRefunds``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: AsyncRefunds) -> None:
        self.create = async_to_streamed_response_wrapper(resource.create)
        self.retrieve = async_to_streamed_response_wrapper(resource.retrieve)


class AsyncPaymentsWithRawResponse:
    """The methods of ``AsyncPayments``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: AsyncPayments) -> None:
        self.list = async_to_raw_response_wrapper(resource.list)
        self.retrieve = async_to_raw_response_wrapper(resource.retrieve)


class AsyncPaymentsWithStreamingResponse:
    """The methods of ``AsyncPayments``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: AsyncPayments) -> None:
        self.list = async_to_streamed_response_wrapper(resource.list)
        self.retrieve = async_to_streamed_response_wrapper(resource.retrieve)
