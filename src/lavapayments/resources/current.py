"""The current API's resources (the Node SDK 11.x's ``customers``, ``meters``,
``creditBundles``, ``secretKeys`` and ``models``), on the same objects as the seed era's; its
plans and subscriptions are methods of ``subscriptions`` (resources/subscriptions.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    RestCreditBundle,
    RestCustomer,
    RestCustomerSubscriptionResponse,
    RestMeter,
    RestModelList,
    RestSecretKey,
    RestSecretKeyCreate,
)
from ..types.shared import SuccessResponse
from ..types.webhook import DeletedResponse

__all__ = [
    "AsyncCreditBundles",
    "AsyncCustomers",
    "AsyncMeters",
    "AsyncModels",
    "AsyncSecretKeys",
    "CreditBundles",
    "Customers",
    "MeterTierParam",
    "Meters",
    "Models",
    "SecretKeys",
]

TierType = Literal["tokens_1m", "characters_1m", "minutes", "requests"]


class MeterTierParam(TypedDict):
    """A tier of a meter: from ``start`` units on, ``rate`` per unit of the meter's type."""

    start: int | str
    rate: str | Decimal


def _tiers(tiers: Sequence[MeterTierParam]) -> list[dict[str, str]]:
    """Tiers as the API takes them: ``start`` and ``rate`` as strings (``Decimal`` exact)."""
    return [
        {
            "start": str(t["start"]),
            "rate": format(t["rate"], "f") if isinstance(t["rate"], Decimal) else t["rate"],
        }
        for t in tiers
    ]


class CreditBundles(SyncAPIResource):
    """Credit bundles of plans (the Node SDK 11.x's ``creditBundles``): read only; a plan's
    bundles are written through ``subscriptions.create_plan``/``update_plan``."""

    @cached_property
    def with_raw_response(self) -> CreditBundlesWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return CreditBundlesWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> CreditBundlesWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return CreditBundlesWithStreamingResponse(self)

    def list(
        self,
        *,
        plan_id: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SyncCursorPage[RestCreditBundle]:
        """List credit bundles, optionally of one plan (``GET credit_bundles``); iterate for
        every page."""
        return self._client._request_page(
            build_options(
                "GET",
                "credit_bundles",
                query={"plan_id": plan_id, "cursor": cursor, "limit": limit},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestCreditBundle,
        )

    def retrieve(
        self,
        credit_bundle_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestCreditBundle:
        """Retrieve a credit bundle (``GET credit_bundles/{id}``)."""
        return self._client._request(
            build_options(
                "GET",
                f"credit_bundles/{path_segment(credit_bundle_id, 'credit_bundle_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestCreditBundle,
        )


class Customers(SyncAPIResource):
    """Customers of the current API (the same objects, and ids, as connections)."""

    @cached_property
    def with_raw_response(self) -> CustomersWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return CustomersWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> CustomersWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return CustomersWithStreamingResponse(self)

    def create(
        self,
        *,
        reference_id: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        name: str | None = None,
        metadata: Mapping[str, object] | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestCustomer:
        """Create a customer (``POST customers``); idempotent on ``reference_id``."""
        return self._client._request(
            build_options(
                "POST",
                "customers",
                body={
                    "reference_id": reference_id,
                    "email": email,
                    "phone": phone,
                    "name": name,
                    "metadata": None if metadata is None else dict(metadata),
                },
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestCustomer,
        )

    def list(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SyncCursorPage[RestCustomer]:
        """List customers, newest first (``GET customers``); iterate for every page."""
        return self._client._request_page(
            build_options(
                "GET",
                "customers",
                query={"cursor": cursor, "limit": limit},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestCustomer,
        )

    def retrieve(
        self,
        customer_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestCustomer:
        """Retrieve a customer by id or ``reference_id`` (``GET customers/{id}``)."""
        return self._client._request(
            build_options(
                "GET",
                f"customers/{path_segment(customer_id, 'customer_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestCustomer,
        )

    def update(
        self,
        customer_id: str,
        *,
        name: str | NotGiven | None = NOT_GIVEN,
        email: str | NotGiven | None = NOT_GIVEN,
        phone: str | NotGiven | None = NOT_GIVEN,
        reference_id: str | NotGiven | None = NOT_GIVEN,
        metadata: Mapping[str, object] | NotGiven | None = NOT_GIVEN,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestCustomer:
        """Update a customer (``PATCH customers/{id}``): arguments left out stay, ``None``
        clears the field (sent as JSON ``null``)."""
        fields = {
            "name": name,
            "email": email,
            "phone": phone,
            "reference_id": reference_id,
            "metadata": dict(metadata) if isinstance(metadata, Mapping) else metadata,
        }
        return self._client._request(
            build_options(
                "PATCH",
                f"customers/{path_segment(customer_id, 'customer_id')}",
                body={k: v for k, v in fields.items() if not isinstance(v, NotGiven)},
                extra_body=extra_body,
                keep_null=True,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestCustomer,
        )

    def get_subscription(
        self,
        customer_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestCustomerSubscriptionResponse:
        """The customer's running subscription, or ``subscription=None``
        (``GET customers/{id}/subscription``)."""
        return self._client._request(
            build_options(
                "GET",
                f"customers/{path_segment(customer_id, 'customer_id')}/subscription",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestCustomerSubscriptionResponse,
        )

    def delete(
        self,
        customer_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SuccessResponse:
        """Delete a customer (``DELETE customers/{id}``), as deleting its connection."""
        return self._client._request(
            build_options(
                "DELETE",
                f"customers/{path_segment(customer_id, 'customer_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            SuccessResponse,
        )


class Meters(SyncAPIResource):
    """Meters of the current API (the same objects, and ids, as products)."""

    @cached_property
    def with_raw_response(self) -> MetersWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return MetersWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> MetersWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return MetersWithStreamingResponse(self)

    def list(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SyncCursorPage[RestMeter]:
        """List meters, newest first (``GET meters``); iterate for every page."""
        return self._client._request_page(
            build_options(
                "GET",
                "meters",
                query={"cursor": cursor, "limit": limit},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestMeter,
        )

    def retrieve(
        self,
        meter_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestMeter:
        """Retrieve a meter (``GET meters/{id}``)."""
        return self._client._request(
            build_options(
                "GET",
                f"meters/{path_segment(meter_id, 'meter_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestMeter,
        )

    def create(
        self,
        *,
        name: str,
        rate_type: Literal["fixed", "percentage"],
        tier_type: TierType,
        tiers: Sequence[MeterTierParam],
        meter_slug: str | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestMeter:
        """Create a meter (``POST meters``); ``tiers`` are ``{"start", "rate"}``, sent as
        strings. Without ``meter_slug`` the server makes one from the name."""
        return self._client._request(
            build_options(
                "POST",
                "meters",
                body={
                    "name": name,
                    "meter_slug": meter_slug,
                    "rate_type": rate_type,
                    "tier_type": tier_type,
                    "tiers": _tiers(tiers),
                },
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestMeter,
        )

    def update(
        self,
        meter_id: str,
        *,
        name: str | None = None,
        tiers: Sequence[MeterTierParam] | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestMeter:
        """Update a meter's name or tiers (``PATCH meters/{id}``)."""
        return self._client._request(
            build_options(
                "PATCH",
                f"meters/{path_segment(meter_id, 'meter_id')}",
                body={"name": name, "tiers": None if tiers is None else _tiers(tiers)},
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestMeter,
        )

    def delete(
        self,
        meter_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> DeletedResponse:
        """Delete a meter (``DELETE meters/{id}``)."""
        return self._client._request(
            build_options(
                "DELETE",
                f"meters/{path_segment(meter_id, 'meter_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            DeletedResponse,
        )


class SecretKeys(SyncAPIResource):
    """Your secret keys (of the mode of the key the client uses)."""

    @cached_property
    def with_raw_response(self) -> SecretKeysWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return SecretKeysWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> SecretKeysWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return SecretKeysWithStreamingResponse(self)

    def list(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SyncCursorPage[RestSecretKey]:
        """List the active secret keys, newest first (``GET secret_keys``), with hints only."""
        return self._client._request_page(
            build_options(
                "GET",
                "secret_keys",
                query={"cursor": cursor, "limit": limit},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestSecretKey,
        )

    def create(
        self,
        *,
        name: str,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestSecretKeyCreate:
        """Create a secret key (``POST secret_keys``); its ``secret_key`` is shown only now."""
        return self._client._request(
            build_options(
                "POST",
                "secret_keys",
                body={"name": name},
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestSecretKeyCreate,
        )

    def delete(
        self,
        secret_key_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> DeletedResponse:
        """Revoke a secret key (``DELETE secret_keys/{id}``); never the last one."""
        return self._client._request(
            build_options(
                "DELETE",
                f"secret_keys/{path_segment(secret_key_id, 'secret_key_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            DeletedResponse,
        )


class Models(SyncAPIResource):
    """The models with a price (no key needed)."""

    @cached_property
    def with_raw_response(self) -> ModelsWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return ModelsWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> ModelsWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return ModelsWithStreamingResponse(self)

    def list(
        self,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestModelList:
        """List the models, in OpenAI's list format (``GET models``)."""
        return self._client._request(
            build_options(
                "GET",
                "models",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestModelList,
        )


class AsyncCreditBundles(AsyncAPIResource):
    """Credit bundles of plans (the Node SDK 11.x's ``creditBundles``): read only; a plan's
    bundles are written through ``subscriptions.create_plan``/``update_plan``."""

    @cached_property
    def with_raw_response(self) -> AsyncCreditBundlesWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return AsyncCreditBundlesWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> AsyncCreditBundlesWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return AsyncCreditBundlesWithStreamingResponse(self)

    def list(
        self,
        *,
        plan_id: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> AsyncPaginator[RestCreditBundle]:
        """List credit bundles, optionally of one plan (``GET credit_bundles``); iterate for
        every page."""
        return self._client._request_page(
            build_options(
                "GET",
                "credit_bundles",
                query={"plan_id": plan_id, "cursor": cursor, "limit": limit},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestCreditBundle,
        )

    async def retrieve(
        self,
        credit_bundle_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestCreditBundle:
        """Retrieve a credit bundle (``GET credit_bundles/{id}``)."""
        return await self._client._request(
            build_options(
                "GET",
                f"credit_bundles/{path_segment(credit_bundle_id, 'credit_bundle_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestCreditBundle,
        )


class AsyncCustomers(AsyncAPIResource):
    """Customers of the current API (the same objects, and ids, as connections)."""

    @cached_property
    def with_raw_response(self) -> AsyncCustomersWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return AsyncCustomersWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> AsyncCustomersWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return AsyncCustomersWithStreamingResponse(self)

    async def create(
        self,
        *,
        reference_id: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        name: str | None = None,
        metadata: Mapping[str, object] | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestCustomer:
        """Create a customer (``POST customers``); idempotent on ``reference_id``."""
        return await self._client._request(
            build_options(
                "POST",
                "customers",
                body={
                    "reference_id": reference_id,
                    "email": email,
                    "phone": phone,
                    "name": name,
                    "metadata": None if metadata is None else dict(metadata),
                },
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestCustomer,
        )

    def list(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> AsyncPaginator[RestCustomer]:
        """List customers, newest first (``GET customers``); iterate for every page."""
        return self._client._request_page(
            build_options(
                "GET",
                "customers",
                query={"cursor": cursor, "limit": limit},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestCustomer,
        )

    async def retrieve(
        self,
        customer_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestCustomer:
        """Retrieve a customer by id or ``reference_id`` (``GET customers/{id}``)."""
        return await self._client._request(
            build_options(
                "GET",
                f"customers/{path_segment(customer_id, 'customer_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestCustomer,
        )

    async def update(
        self,
        customer_id: str,
        *,
        name: str | NotGiven | None = NOT_GIVEN,
        email: str | NotGiven | None = NOT_GIVEN,
        phone: str | NotGiven | None = NOT_GIVEN,
        reference_id: str | NotGiven | None = NOT_GIVEN,
        metadata: Mapping[str, object] | NotGiven | None = NOT_GIVEN,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestCustomer:
        """Update a customer (``PATCH customers/{id}``): arguments left out stay, ``None``
        clears the field (sent as JSON ``null``)."""
        fields = {
            "name": name,
            "email": email,
            "phone": phone,
            "reference_id": reference_id,
            "metadata": dict(metadata) if isinstance(metadata, Mapping) else metadata,
        }
        return await self._client._request(
            build_options(
                "PATCH",
                f"customers/{path_segment(customer_id, 'customer_id')}",
                body={k: v for k, v in fields.items() if not isinstance(v, NotGiven)},
                extra_body=extra_body,
                keep_null=True,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestCustomer,
        )

    async def get_subscription(
        self,
        customer_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestCustomerSubscriptionResponse:
        """The customer's running subscription, or ``subscription=None``
        (``GET customers/{id}/subscription``)."""
        return await self._client._request(
            build_options(
                "GET",
                f"customers/{path_segment(customer_id, 'customer_id')}/subscription",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestCustomerSubscriptionResponse,
        )

    async def delete(
        self,
        customer_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> SuccessResponse:
        """Delete a customer (``DELETE customers/{id}``), as deleting its connection."""
        return await self._client._request(
            build_options(
                "DELETE",
                f"customers/{path_segment(customer_id, 'customer_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            SuccessResponse,
        )


class AsyncMeters(AsyncAPIResource):
    """Meters of the current API (the same objects, and ids, as products)."""

    @cached_property
    def with_raw_response(self) -> AsyncMetersWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return AsyncMetersWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> AsyncMetersWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return AsyncMetersWithStreamingResponse(self)

    def list(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> AsyncPaginator[RestMeter]:
        """List meters, newest first (``GET meters``); iterate for every page."""
        return self._client._request_page(
            build_options(
                "GET",
                "meters",
                query={"cursor": cursor, "limit": limit},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestMeter,
        )

    async def retrieve(
        self,
        meter_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestMeter:
        """Retrieve a meter (``GET meters/{id}``)."""
        return await self._client._request(
            build_options(
                "GET",
                f"meters/{path_segment(meter_id, 'meter_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestMeter,
        )

    async def create(
        self,
        *,
        name: str,
        rate_type: Literal["fixed", "percentage"],
        tier_type: TierType,
        tiers: Sequence[MeterTierParam],
        meter_slug: str | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestMeter:
        """Create a meter (``POST meters``); ``tiers`` are ``{"start", "rate"}``, sent as
        strings. Without ``meter_slug`` the server makes one from the name."""
        return await self._client._request(
            build_options(
                "POST",
                "meters",
                body={
                    "name": name,
                    "meter_slug": meter_slug,
                    "rate_type": rate_type,
                    "tier_type": tier_type,
                    "tiers": _tiers(tiers),
                },
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestMeter,
        )

    async def update(
        self,
        meter_id: str,
        *,
        name: str | None = None,
        tiers: Sequence[MeterTierParam] | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestMeter:
        """Update a meter's name or tiers (``PATCH meters/{id}``)."""
        return await self._client._request(
            build_options(
                "PATCH",
                f"meters/{path_segment(meter_id, 'meter_id')}",
                body={"name": name, "tiers": None if tiers is None else _tiers(tiers)},
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestMeter,
        )

    async def delete(
        self,
        meter_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> DeletedResponse:
        """Delete a meter (``DELETE meters/{id}``)."""
        return await self._client._request(
            build_options(
                "DELETE",
                f"meters/{path_segment(meter_id, 'meter_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            DeletedResponse,
        )


class AsyncSecretKeys(AsyncAPIResource):
    """Your secret keys (of the mode of the key the client uses)."""

    @cached_property
    def with_raw_response(self) -> AsyncSecretKeysWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return AsyncSecretKeysWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> AsyncSecretKeysWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return AsyncSecretKeysWithStreamingResponse(self)

    def list(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> AsyncPaginator[RestSecretKey]:
        """List the active secret keys, newest first (``GET secret_keys``), with hints only."""
        return self._client._request_page(
            build_options(
                "GET",
                "secret_keys",
                query={"cursor": cursor, "limit": limit},
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestSecretKey,
        )

    async def create(
        self,
        *,
        name: str,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
        extra_body: Body | None = None,
    ) -> RestSecretKeyCreate:
        """Create a secret key (``POST secret_keys``); its ``secret_key`` is shown only now."""
        return await self._client._request(
            build_options(
                "POST",
                "secret_keys",
                body={"name": name},
                extra_body=extra_body,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestSecretKeyCreate,
        )

    async def delete(
        self,
        secret_key_id: str,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> DeletedResponse:
        """Revoke a secret key (``DELETE secret_keys/{id}``); never the last one."""
        return await self._client._request(
            build_options(
                "DELETE",
                f"secret_keys/{path_segment(secret_key_id, 'secret_key_id')}",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            DeletedResponse,
        )


class AsyncModels(AsyncAPIResource):
    """The models with a price (no key needed)."""

    @cached_property
    def with_raw_response(self) -> AsyncModelsWithRawResponse:
        """These methods answering an ``APIResponse``: headers, status and ``.parse()``."""
        return AsyncModelsWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> AsyncModelsWithStreamingResponse:
        """These methods answering a context manager around the unread answer."""
        return AsyncModelsWithStreamingResponse(self)

    async def list(
        self,
        *,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> RestModelList:
        """List the models, in OpenAI's list format (``GET models``)."""
        return await self._client._request(
            build_options(
                "GET",
                "models",
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                idempotency_key=idempotency_key,
            ),
            RestModelList,
        )


# -- with_raw_response / with_streaming_response --------------------------------------------------


class CreditBundlesWithRawResponse:
    """The methods of ``CreditBundles``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: CreditBundles) -> None:
        self.list = to_raw_response_wrapper(resource.list)
        self.retrieve = to_raw_response_wrapper(resource.retrieve)


class CreditBundlesWithStreamingResponse:
    """The methods of ``CreditBundles``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: CreditBundles) -> None:
        self.list = to_streamed_response_wrapper(resource.list)
        self.retrieve = to_streamed_response_wrapper(resource.retrieve)


class CustomersWithRawResponse:
    """The methods of ``Customers``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: Customers) -> None:
        self.create = to_raw_response_wrapper(resource.create)
        self.list = to_raw_response_wrapper(resource.list)
        self.retrieve = to_raw_response_wrapper(resource.retrieve)
        self.update = to_raw_response_wrapper(resource.update)
        self.get_subscription = to_raw_response_wrapper(resource.get_subscription)
        self.delete = to_raw_response_wrapper(resource.delete)


class CustomersWithStreamingResponse:
    """The methods of ``Customers``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: Customers) -> None:
        self.create = to_streamed_response_wrapper(resource.create)
        self.list = to_streamed_response_wrapper(resource.list)
        self.retrieve = to_streamed_response_wrapper(resource.retrieve)
        self.update = to_streamed_response_wrapper(resource.update)
        self.get_subscription = to_streamed_response_wrapper(resource.get_subscription)
        self.delete = to_streamed_response_wrapper(resource.delete)


class MetersWithRawResponse:
    """The methods of ``Meters``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: Meters) -> None:
        self.list = to_raw_response_wrapper(resource.list)
        self.retrieve = to_raw_response_wrapper(resource.retrieve)
        self.create = to_raw_response_wrapper(resource.create)
        self.update = to_raw_response_wrapper(resource.update)
        self.delete = to_raw_response_wrapper(resource.delete)


class MetersWithStreamingResponse:
    """The methods of ``Meters``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: Meters) -> None:
        self.list = to_streamed_response_wrapper(resource.list)
        self.retrieve = to_streamed_response_wrapper(resource.retrieve)
        self.create = to_streamed_response_wrapper(resource.create)
        self.update = to_streamed_response_wrapper(resource.update)
        self.delete = to_streamed_response_wrapper(resource.delete)


class SecretKeysWithRawResponse:
    """The methods of ``SecretKeys``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: SecretKeys) -> None:
        self.list = to_raw_response_wrapper(resource.list)
        self.create = to_raw_response_wrapper(resource.create)
        self.delete = to_raw_response_wrapper(resource.delete)


class SecretKeysWithStreamingResponse:
    """The methods of ``SecretKeys``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: SecretKeys) -> None:
        self.list = to_streamed_response_wrapper(resource.list)
        self.create = to_streamed_response_wrapper(resource.create)
        self.delete = to_streamed_response_wrapper(resource.delete)


class ModelsWithRawResponse:
    """The methods of ``Models``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: Models) -> None:
        self.list = to_raw_response_wrapper(resource.list)


class ModelsWithStreamingResponse:
    """The methods of ``Models``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: Models) -> None:
        self.list = to_streamed_response_wrapper(resource.list)


class AsyncCreditBundlesWithRawResponse:
    """The methods of ``AsyncCreditBundles``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: AsyncCreditBundles) -> None:
        self.list = async_to_raw_response_wrapper(resource.list)
        self.retrieve = async_to_raw_response_wrapper(resource.retrieve)


class AsyncCreditBundlesWithStreamingResponse:
    """The methods of ``AsyncCreditBundles``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: AsyncCreditBundles) -> None:
        self.list = async_to_streamed_response_wrapper(resource.list)
        self.retrieve = async_to_streamed_response_wrapper(resource.retrieve)


class AsyncCustomersWithRawResponse:
    """The methods of ``AsyncCustomers``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: AsyncCustomers) -> None:
        self.create = async_to_raw_response_wrapper(resource.create)
        self.list = async_to_raw_response_wrapper(resource.list)
        self.retrieve = async_to_raw_response_wrapper(resource.retrieve)
        self.update = async_to_raw_response_wrapper(resource.update)
        self.get_subscription = async_to_raw_response_wrapper(resource.get_subscription)
        self.delete = async_to_raw_response_wrapper(resource.delete)


class AsyncCustomersWithStreamingResponse:
    """The methods of ``AsyncCustomers``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: AsyncCustomers) -> None:
        self.create = async_to_streamed_response_wrapper(resource.create)
        self.list = async_to_streamed_response_wrapper(resource.list)
        self.retrieve = async_to_streamed_response_wrapper(resource.retrieve)
        self.update = async_to_streamed_response_wrapper(resource.update)
        self.get_subscription = async_to_streamed_response_wrapper(resource.get_subscription)
        self.delete = async_to_streamed_response_wrapper(resource.delete)


class AsyncMetersWithRawResponse:
    """The methods of ``AsyncMeters``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: AsyncMeters) -> None:
        self.list = async_to_raw_response_wrapper(resource.list)
        self.retrieve = async_to_raw_response_wrapper(resource.retrieve)
        self.create = async_to_raw_response_wrapper(resource.create)
        self.update = async_to_raw_response_wrapper(resource.update)
        self.delete = async_to_raw_response_wrapper(resource.delete)


class AsyncMetersWithStreamingResponse:
    """The methods of ``AsyncMeters``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: AsyncMeters) -> None:
        self.list = async_to_streamed_response_wrapper(resource.list)
        self.retrieve = async_to_streamed_response_wrapper(resource.retrieve)
        self.create = async_to_streamed_response_wrapper(resource.create)
        self.update = async_to_streamed_response_wrapper(resource.update)
        self.delete = async_to_streamed_response_wrapper(resource.delete)


class AsyncSecretKeysWithRawResponse:
    """The methods of ``AsyncSecretKeys``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: AsyncSecretKeys) -> None:
        self.list = async_to_raw_response_wrapper(resource.list)
        self.create = async_to_raw_response_wrapper(resource.create)
        self.delete = async_to_raw_response_wrapper(resource.delete)


class AsyncSecretKeysWithStreamingResponse:
    """The methods of ``AsyncSecretKeys``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: AsyncSecretKeys) -> None:
        self.list = async_to_streamed_response_wrapper(resource.list)
        self.create = async_to_streamed_response_wrapper(resource.create)
        self.delete = async_to_streamed_response_wrapper(resource.delete)


class AsyncModelsWithRawResponse:
    """The methods of ``AsyncModels``, each answering an ``APIResponse``:
    headers, status, ``.parse()``.
    """

    def __init__(self, resource: AsyncModels) -> None:
        self.list = async_to_raw_response_wrapper(resource.list)


class AsyncModelsWithStreamingResponse:
    """The methods of ``AsyncModels``, each answering a context manager
    around the unread answer: ``iter_bytes()``, ``iter_lines()``, ``parse()``.
    """

    def __init__(self, resource: AsyncModels) -> None:
        self.list = async_to_streamed_response_wrapper(resource.list)
