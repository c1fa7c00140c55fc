"""The clients: :class:`Lava` (blocking) and :class:`AsyncLava` (asyncio)."""

from __future__ import annotations

import dataclasses
from functools import cached_property
from types import TracebackType
from typing import Any, overload

import httpx

from ._base_client import AsyncAPIClient, SyncAPIClient, resolve_base_url, resolve_secret_key
from ._constants import API_VERSION, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT
from ._gateway import GatewayFormat
from ._provider_urls import Providers
from ._response import (
    AsyncResponseContextManager,
    AsyncStreamingAPIResponse,
    ResponseContextManager,
    StreamingAPIResponse,
    async_to_raw_response_wrapper,
    async_to_streamed_response_wrapper,
    to_raw_response_wrapper,
    to_streamed_response_wrapper,
)
from ._types import NOT_GIVEN, Headers, NotGiven, Query, Timeout, build_options
from .forward_token import UNSET, _Unset, encode_forward_token
from .resources import (
    Adjustments,
    AsyncAdjustments,
    AsyncCheckoutSessions,
    AsyncConnections,
    AsyncCreditBundles,
    AsyncCredits,
    AsyncCustomers,
    AsyncMeters,
    AsyncModels,
    AsyncPayments,
    AsyncProducts,
    AsyncRefunds,
    AsyncRequests,
    AsyncSecretKeys,
    AsyncSpendKeys,
    AsyncSubscriptions,
    AsyncUsage,
    AsyncWebhooks,
    CheckoutSessions,
    Connections,
    CreditBundles,
    Credits,
    Customers,
    Meters,
    Models,
    Payments,
    Products,
    Refunds,
    Requests,
    SecretKeys,
    SpendKeys,
    Subscriptions,
    Usage,
    Webhooks,
)

__all__ = ["AsyncLava", "Lava"]


class Lava(SyncAPIClient):
    """A blocking client of the Lava API.

    ::

        from lavapayments import Lava

        lava = Lava()  # secret key from LAVA_SECRET_KEY
        for connection in lava.connections.list():
            print(connection.connection_id, connection.wallet.balance)

    Args:
        secret_key: your merchant secret key (``aks_live_...`` / ``aks_test_...``); defaults to
            the ``LAVA_SECRET_KEY`` environment variable.
        api_version: sent as ``X-Lava-API-Version``.
        base_url: defaults to ``LAVA_BASE_URL``, else the sandbox URL for ``aks_test_`` keys and
            the live URL for the others.
        timeout: seconds per request (or an ``httpx.Timeout``; ``None`` for none).
        max_retries: retries after a connection error, a timeout, 408, 409, 429 or 5xx.
        http_client: an ``httpx.Client`` of your own (proxies, transports...).

    Raises:
        LavaError: when there is no secret key.
    """

    def __init__(
        self,
        secret_key: str | None = None,
        *,
        api_version: str = API_VERSION,
        base_url: str | httpx.URL | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | None = None,
    ) -> None:
        key = resolve_secret_key(secret_key)
        url, inferred = resolve_base_url(base_url, key)
        super().__init__(
            secret_key=key,
            api_version=api_version,
            base_url=url,
            base_url_inferred=inferred,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client if http_client is not None else httpx.Client(timeout=timeout),
            owns_http_client=True,
        )

    @cached_property
    def checkout_sessions(self) -> CheckoutSessions:
        """Checkout sessions: ``create``, ``list``, ``retrieve``."""
        return CheckoutSessions(self)

    @cached_property
    def customers(self) -> Customers:
        """Customers (current API, the same objects as connections): ``create``, ``list``,
        ``retrieve``, ``update``, ``get_subscription``, ``delete``."""
        return Customers(self)

    @cached_property
    def meters(self) -> Meters:
        """Meters (current API, the same objects as products): ``list``, ``retrieve``,
        ``create``, ``update``, ``delete``."""
        return Meters(self)

    @cached_property
    def secret_keys(self) -> SecretKeys:
        """Secret keys: ``list``, ``create``, ``delete``."""
        return SecretKeys(self)

    @cached_property
    def spend_keys(self) -> SpendKeys:
        """Spend keys: ``create``, ``list``, ``retrieve``, ``update``, ``revoke``, ``rotate``."""
        return SpendKeys(self)

    @cached_property
    def models(self) -> Models:
        """The models with a price: ``list``."""
        return Models(self)

    @cached_property
    def credit_bundles(self) -> CreditBundles:
        """Credit bundles (current API): ``list``, ``retrieve``."""
        return CreditBundles(self)

    @cached_property
    def products(self) -> Products:
        """Pricing products (our extension; the same objects as meters): ``create``, ``list``,
        ``retrieve``, ``update``, ``delete``."""
        return Products(self)

    @cached_property
    def credits(self) -> Credits:
        """Grants of credit paid by the merchant (our extension): ``create``."""
        return Credits(self)

    @cached_property
    def adjustments(self) -> Adjustments:
        """Signed corrections of a customer's wallet (our extension): ``create``."""
        return Adjustments(self)

    @cached_property
    def refunds(self) -> Refunds:
        """Refunds of top-up payments (our extension): ``create``, ``retrieve``."""
        return Refunds(self)

    @cached_property
    def payments(self) -> Payments:
        """Card payments with their refunds (our extension): ``list``, ``retrieve``."""
        return Payments(self)

    @cached_property
    def connections(self) -> Connections:
        """Connections: ``list``, ``retrieve``, ``delete``."""
        return Connections(self)

    @cached_property
    def requests(self) -> Requests:
        """Requests: ``list``, ``create``, ``retrieve``."""
        return Requests(self)

    @cached_property
    def usage(self) -> Usage:
        """Usage: ``retrieve``."""
        return Usage(self)

    @cached_property
    def webhooks(self) -> Webhooks:
        """Webhook endpoints: ``list``, ``retrieve``, ``create``, ``update``, ``delete``,
        ``rotate_secret``, ``list_deliveries``, ``resend_delivery``, ``test``."""
        return Webhooks(self)

    @cached_property
    def subscriptions(self) -> Subscriptions:
        """Subscriptions and plans: the seed era's ``list_configs``, ``create_config``,
        ``update_config``, ``delete_config``, ``list_active_subscriptions``,
        ``cancel_active_subscription``, and the current API's ``create``, ``list``, ``update``,
        ``cancel``, ``list_plans``, ``retrieve_plan``, ``create_plan``, ``update_plan``,
        ``delete_plan`` (the same objects: a plan is a subscription config)."""
        return Subscriptions(self)

    @cached_property
    def with_raw_response(self) -> LavaWithRawResponse:
        """The client's resources with methods answering an ``APIResponse`` (headers, status,
        ``.parse()``): ``lava.with_raw_response.customers.retrieve(id)``."""
        return LavaWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> LavaWithStreamingResponse:
        """The client's resources with methods answering a context manager around the unread
        answer: ``with lava.with_streaming_response.customers.list() as response: ...``."""
        return LavaWithStreamingResponse(self)

    @cached_property
    def providers(self) -> Providers:
        """The forward URL of every provider (``lava.providers.openai``...)."""
        return Providers(self.base_url)

    def request(
        self,
        method: str,
        path: str,
        *,
        data: object | None = None,
        query: Query | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Call any API route and return its decoded JSON answer.

        ``path`` is relative to the base URL (``"connections/con_123"``). Retries, headers and
        errors work as for the typed methods.
        """
        options = build_options(
            method,
            path,
            query=query,
            timeout=timeout,
            extra_headers=extra_headers,
            extra_query=extra_query,
            idempotency_key=idempotency_key,
        )
        if data is not None:
            options = dataclasses.replace(options, json_data=data)
        return self._request_json(options)

    @overload
    def generate_forward_token(
        self, *, connection_secret: str, product_secret: str, provider_key: str | None = None
    ) -> str: ...

    @overload
    def generate_forward_token(
        self, *, connection_secret: None = None, product_secret: None = None, provider_key: str
    ) -> str: ...

    @overload
    def generate_forward_token(
        self,
        *,
        customer_id: str | _Unset | None = UNSET,
        meter_slug: str | _Unset | None = UNSET,
        provider_key: str | _Unset | None = UNSET,
        disable_billing: bool | _Unset | None = UNSET,
    ) -> str: ...

    def generate_forward_token(
        self,
        *,
        connection_secret: str | _Unset | None = UNSET,
        product_secret: str | _Unset | None = UNSET,
        customer_id: str | _Unset | None = UNSET,
        meter_slug: str | _Unset | None = UNSET,
        provider_key: str | _Unset | None = UNSET,
        disable_billing: bool | _Unset | None = UNSET,
    ) -> str:
        """Make the API key a provider SDK sends to the forward endpoint.

        Give ``connection_secret`` and ``product_secret`` to bill a customer's wallet (and
        ``provider_key`` to use your own provider key), or only ``provider_key`` to meter
        without billing (the seed era's token). Or give the current API's ``customer_id`` and
        ``meter_slug`` (bill the customer under the meter; ``disable_billing=True`` records
        without charging), ``meter_slug`` alone with ``customer_id=None`` (the merchant pays,
        attributed to the meter), or ``customer_id=None`` alone (the merchant pays, as with the
        bare secret key). The token is the one the Node SDK makes, byte for byte; see
        ``lavapayments.forward_token.encode_forward_token``.
        """
        current = (customer_id, meter_slug, disable_billing)
        seed_era = (
            not isinstance(connection_secret, _Unset)
            or not isinstance(product_secret, _Unset)
            or all(isinstance(value, _Unset) for value in current)
        )
        if seed_era:
            if not all(isinstance(value, _Unset) for value in current):
                raise ValueError(
                    "customer_id, meter_slug and disable_billing belong to the current token "
                    "form, connection_secret and product_secret to the seed era's: give one "
                    "form's options"
                )
            # The seed era's call: a secret left out is a JSON null.
            connection = None if isinstance(connection_secret, _Unset) else connection_secret
            product = None if isinstance(product_secret, _Unset) else product_secret
            return encode_forward_token(
                secret_key=self.secret_key,
                connection_secret=connection,
                product_secret=product,
                provider_key=None if isinstance(provider_key, _Unset) else provider_key,
            )
        return encode_forward_token(
            secret_key=self.secret_key,
            customer_id=customer_id,
            meter_slug=meter_slug,
            provider_key=provider_key,
            disable_billing=disable_billing,
        )

    def gateway(
        self,
        url: str,
        *,
        customer_id: str | None = None,
        meter_slug: str | None = None,
        provider_key: str | None = None,
        disable_billing: bool | None = None,
        connection_secret: str | None = None,
        product_secret: str | None = None,
        format: GatewayFormat | None = None,
        method: str = "POST",
        body: object = None,
        headers: Headers | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Call a provider through Lava and return its decoded JSON answer (the Node SDK's
        ``gateway``).

        ``url`` is the provider's own URL (``https://api.openai.com/v1/chat/completions``). It is
        called through ``forward?u=<url>``, or through ``rewrite/{format}/{url}`` when
        ``format`` names the shape your body is in (``openai``, ``anthropic``...), with a forward
        token made from this client's secret key:

        - ``customer_id`` and ``meter_slug``: the customer pays per the meter
          (``disable_billing=True`` records without charging);
        - ``meter_slug`` alone: metered, no customer; neither: billed to you, the merchant;
        - ``connection_secret`` and ``product_secret`` (our extension): the seed era's billing
          of a connection's wallet per a product;
        - ``provider_key``: your own provider key, with any of the above.

        ``body``: a dict or list is sent as JSON, text and bytes as they are. ``headers`` go to
        the provider (an ``Authorization`` among them is replaced by the token). The call is
        sent once, never retried.

        Raises:
            ValueError: ``customer_id`` without ``meter_slug``, or both kinds of billing.
            APIStatusError: the provider or Lava answered with an error status.
        """
        request = self._build_gateway_request(
            url,
            customer_id=customer_id,
            meter_slug=meter_slug,
            provider_key=provider_key,
            disable_billing=disable_billing,
            connection_secret=connection_secret,
            product_secret=product_secret,
            format=format,
            method=method,
            body=body,
            headers=headers,
            timeout=timeout,
            extra_headers=extra_headers,
            extra_query=extra_query,
            idempotency_key=idempotency_key,
        )
        return self._decode_json(self._send_once(request, stream=False))

    def gateway_stream(
        self,
        url: str,
        *,
        customer_id: str | None = None,
        meter_slug: str | None = None,
        provider_key: str | None = None,
        disable_billing: bool | None = None,
        connection_secret: str | None = None,
        product_secret: str | None = None,
        format: GatewayFormat | None = None,
        method: str = "POST",
        body: object = None,
        headers: Headers | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> ResponseContextManager[Any]:
        """``gateway()`` with the answer unread, for streamed answers (server-sent events):
        ``with lava.gateway_stream(url, body={..., "stream": True}) as response:`` then
        ``for line in response.iter_lines(): ...``. Same arguments as ``gateway()``."""
        request = self._build_gateway_request(
            url,
            customer_id=customer_id,
            meter_slug=meter_slug,
            provider_key=provider_key,
            disable_billing=disable_billing,
            connection_secret=connection_secret,
            product_secret=product_secret,
            format=format,
            method=method,
            body=body,
            headers=headers,
            timeout=timeout,
            extra_headers=extra_headers,
            extra_query=extra_query,
            idempotency_key=idempotency_key,
        )
        return ResponseContextManager(
            lambda: StreamingAPIResponse(self._send_once(request, stream=True), self._decode_json)
        )

    def with_options(
        self,
        *,
        secret_key: str | None = None,
        api_version: str | None = None,
        base_url: str | httpx.URL | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> Lava:
        """A copy of this client with some options changed, sharing its connection pool.

        ::

            lava.with_options(timeout=5, max_retries=0).connections.list()
        """
        key, url = self._options_for_copy(secret_key, base_url)
        client = Lava(
            key,
            api_version=api_version if api_version is not None else self.api_version,
            base_url=url,
            timeout=self.timeout if isinstance(timeout, NotGiven) else timeout,
            max_retries=max_retries if max_retries is not None else self.max_retries,
            http_client=self._client,
        )
        client._owns_http_client = False
        return client

    def __enter__(self) -> Lava:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncLava(AsyncAPIClient):
    """An asyncio client of the Lava API, the twin of :class:`Lava`.

    ::

        from lavapayments import AsyncLava

        async with AsyncLava() as lava:
            async for connection in lava.connections.list():
                print(connection.connection_id, connection.wallet.balance)

    Args:
        secret_key: your merchant secret key (``aks_live_...`` / ``aks_test_...``); defaults to
            the ``LAVA_SECRET_KEY`` environment variable.
        api_version: sent as ``X-Lava-API-Version``.
        base_url: defaults to ``LAVA_BASE_URL``, else the sandbox URL for ``aks_test_`` keys and
            the live URL for the others.
        timeout: seconds per request (or an ``httpx.Timeout``; ``None`` for none).
        max_retries: retries after a connection error, a timeout, 408, 409, 429 or 5xx.
        http_client: an ``httpx.AsyncClient`` of your own (proxies, transports...).

    Raises:
        LavaError: when there is no secret key.
    """

    def __init__(
        self,
        secret_key: str | None = None,
        *,
        api_version: str = API_VERSION,
        base_url: str | httpx.URL | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        key = resolve_secret_key(secret_key)
        url, inferred = resolve_base_url(base_url, key)
        super().__init__(
            secret_key=key,
            api_version=api_version,
            base_url=url,
            base_url_inferred=inferred,
            timeout=timeout,
            max_retries=max_retries,
            http_client=(
                http_client if http_client is not None else httpx.AsyncClient(timeout=timeout)
            ),
            owns_http_client=True,
        )

    @cached_property
    def checkout_sessions(self) -> AsyncCheckoutSessions:
        """Checkout sessions: ``create``, ``list``, ``retrieve``."""
        return AsyncCheckoutSessions(self)

    @cached_property
    def customers(self) -> AsyncCustomers:
        """Customers (current API, the same objects as connections): ``create``, ``list``,
        ``retrieve``, ``update``, ``get_subscription``, ``delete``."""
        return AsyncCustomers(self)

    @cached_property
    def meters(self) -> AsyncMeters:
        """Meters (current API, the same objects as products): ``list``, ``retrieve``,
        ``create``, ``update``, ``delete``."""
        return AsyncMeters(self)

    @cached_property
    def secret_keys(self) -> AsyncSecretKeys:
        """Secret keys: ``list``, ``create``, ``delete``."""
        return AsyncSecretKeys(self)

    @cached_property
    def spend_keys(self) -> AsyncSpendKeys:
        """Spend keys: ``create``, ``list``, ``retrieve``, ``update``, ``revoke``, ``rotate``."""
        return AsyncSpendKeys(self)

    @cached_property
    def models(self) -> AsyncModels:
        """The models with a price: ``list``."""
        return AsyncModels(self)

    @cached_property
    def credit_bundles(self) -> AsyncCreditBundles:
        """Credit bundles (current API): ``list``, ``retrieve``."""
        return AsyncCreditBundles(self)

    @cached_property
    def products(self) -> AsyncProducts:
        """Pricing products (our extension; the same objects as meters): ``create``, ``list``,
        ``retrieve``, ``update``, ``delete``."""
        return AsyncProducts(self)

    @cached_property
    def credits(self) -> AsyncCredits:
        """Grants of credit paid by the merchant (our extension): ``create``."""
        return AsyncCredits(self)

    @cached_property
    def adjustments(self) -> AsyncAdjustments:
        """Signed corrections of a customer's wallet (our extension): ``create``."""
        return AsyncAdjustments(self)

    @cached_property
    def refunds(self) -> AsyncRefunds:
        """Refunds of top-up payments (our extension): ``create``, ``retrieve``."""
        return AsyncRefunds(self)

    @cached_property
    def payments(self) -> AsyncPayments:
        """Card payments with their refunds (our extension): ``list``, ``retrieve``."""
        return AsyncPayments(self)

    @cached_property
    def connections(self) -> AsyncConnections:
        """Connections: ``list``, ``retrieve``, ``delete``."""
        return AsyncConnections(self)

    @cached_property
    def requests(self) -> AsyncRequests:
        """Requests: ``list``, ``create``, ``retrieve``."""
        return AsyncRequests(self)

    @cached_property
    def usage(self) -> AsyncUsage:
        """Usage: ``retrieve``."""
        return AsyncUsage(self)

    @cached_property
    def webhooks(self) -> AsyncWebhooks:
        """Webhook endpoints: ``list``, ``retrieve``, ``create``, ``update``, ``delete``,
        ``rotate_secret``, ``list_deliveries``, ``resend_delivery``, ``test``."""
        return AsyncWebhooks(self)

    @cached_property
    def subscriptions(self) -> AsyncSubscriptions:
        """Subscriptions and plans: the seed era's ``list_configs``, ``create_config``,
        ``update_config``, ``delete_config``, ``list_active_subscriptions``,
        ``cancel_active_subscription``, and the current API's ``create``, ``list``, ``update``,
        ``cancel``, ``list_plans``, ``retrieve_plan``, ``create_plan``, ``update_plan``,
        ``delete_plan`` (the same objects: a plan is a subscription config)."""
        return AsyncSubscriptions(self)

    @cached_property
    def with_raw_response(self) -> AsyncLavaWithRawResponse:
        """The client's resources with methods answering an ``APIResponse`` (headers, status,
        ``.parse()``): ``lava.with_raw_response.customers.retrieve(id)``."""
        return AsyncLavaWithRawResponse(self)

    @cached_property
    def with_streaming_response(self) -> AsyncLavaWithStreamingResponse:
        """The client's resources with methods answering a context manager around the unread
        answer: ``with lava.with_streaming_response.customers.list() as response: ...``."""
        return AsyncLavaWithStreamingResponse(self)

    @cached_property
    def providers(self) -> Providers:
        """The forward URL of every provider (``lava.providers.openai``...)."""
        return Providers(self.base_url)

    async def request(
        self,
        method: str,
        path: str,
        *,
        data: object | None = None,
        query: Query | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Call any API route and return its decoded JSON answer.

        ``path`` is relative to the base URL (``"connections/con_123"``). Retries, headers and
        errors work as for the typed methods.
        """
        options = build_options(
            method,
            path,
            query=query,
            timeout=timeout,
            extra_headers=extra_headers,
            extra_query=extra_query,
            idempotency_key=idempotency_key,
        )
        if data is not None:
            options = dataclasses.replace(options, json_data=data)
        return await self._request_json(options)

    @overload
    def generate_forward_token(
        self, *, connection_secret: str, product_secret: str, provider_key: str | None = None
    ) -> str: ...

    @overload
    def generate_forward_token(
        self, *, connection_secret: None = None, product_secret: None = None, provider_key: str
    ) -> str: ...

    @overload
    def generate_forward_token(
        self,
        *,
        customer_id: str | _Unset | None = UNSET,
        meter_slug: str | _Unset | None = UNSET,
        provider_key: str | _Unset | None = UNSET,
        disable_billing: bool | _Unset | None = UNSET,
    ) -> str: ...

    def generate_forward_token(
        self,
        *,
        connection_secret: str | _Unset | None = UNSET,
        product_secret: str | _Unset | None = UNSET,
        customer_id: str | _Unset | None = UNSET,
        meter_slug: str | _Unset | None = UNSET,
        provider_key: str | _Unset | None = UNSET,
        disable_billing: bool | _Unset | None = UNSET,
    ) -> str:
        """Make the API key a provider SDK sends to the forward endpoint (no I/O, not async).

        Give ``connection_secret`` and ``product_secret`` to bill a customer's wallet (and
        ``provider_key`` to use your own provider key), or only ``provider_key`` to meter
        without billing (the seed era's token). Or give the current API's ``customer_id`` and
        ``meter_slug`` (bill the customer under the meter; ``disable_billing=True`` records
        without charging), ``meter_slug`` alone with ``customer_id=None`` (the merchant pays,
        attributed to the meter), or ``customer_id=None`` alone (the merchant pays, as with the
        bare secret key). The token is the one the Node SDK makes, byte for byte; see
        ``lavapayments.forward_token.encode_forward_token``.
        """
        current = (customer_id, meter_slug, disable_billing)
        seed_era = (
            not isinstance(connection_secret, _Unset)
            or not isinstance(product_secret, _Unset)
            or all(isinstance(value, _Unset) for value in current)
        )
        if seed_era:
            if not all(isinstance(value, _Unset) for value in current):
                raise ValueError(
                    "customer_id, meter_slug and disable_billing belong to the current token "
                    "form, connection_secret and product_secret to the seed era's: give one "
                    "form's options"
                )
            # The seed era's call: a secret left out is a JSON null.
            connection = None if isinstance(connection_secret, _Unset) else connection_secret
            product = None if isinstance(product_secret, _Unset) else product_secret
            return encode_forward_token(
                secret_key=self.secret_key,
                connection_secret=connection,
                product_secret=product,
                provider_key=None if isinstance(provider_key, _Unset) else provider_key,
            )
        return encode_forward_token(
            secret_key=self.secret_key,
            customer_id=customer_id,
            meter_slug=meter_slug,
            provider_key=provider_key,
            disable_billing=disable_billing,
        )

    async def gateway(
        self,
        url: str,
        *,
        customer_id: str | None = None,
        meter_slug: str | None = None,
        provider_key: str | None = None,
        disable_billing: bool | None = None,
        connection_secret: str | None = None,
        product_secret: str | None = None,
        format: GatewayFormat | None = None,
        method: str = "POST",
        body: object = None,
        headers: Headers | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Call a provider through Lava and return its decoded JSON answer (the Node SDK's
        ``gateway``).

        ``url`` is the provider's own URL (``https://api.openai.com/v1/chat/completions``). It is
        called through ``forward?u=<url>``, or through ``rewrite/{format}/{url}`` when
        ``format`` names the shape your body is in (``openai``, ``anthropic``...), with a forward
        token made from this client's secret key:

        - ``customer_id`` and ``meter_slug``: the customer pays per the meter
          (``disable_billing=True`` records without charging);
        - ``meter_slug`` alone: metered, no customer; neither: billed to you, the merchant;
        - ``connection_secret`` and ``product_secret`` (our extension): the seed era's billing
          of a connection's wallet per a product;
        - ``provider_key``: your own provider key, with any of the above.

        ``body``: a dict or list is sent as JSON, text and bytes as they are. ``headers`` go to
        the provider (an ``Authorization`` among them is replaced by the token). The call is
        sent once, never retried.

        Raises:
            ValueError: ``customer_id`` without ``meter_slug``, or both kinds of billing.
            APIStatusError: the provider or Lava answered with an error status.
        """
        request = self._build_gateway_request(
            url,
            customer_id=customer_id,
            meter_slug=meter_slug,
            provider_key=provider_key,
            disable_billing=disable_billing,
            connection_secret=connection_secret,
            product_secret=product_secret,
            format=format,
            method=method,
            body=body,
            headers=headers,
            timeout=timeout,
            extra_headers=extra_headers,
            extra_query=extra_query,
            idempotency_key=idempotency_key,
        )
        return self._decode_json(await self._send_once(request, stream=False))

    def gateway_stream(
        self,
        url: str,
        *,
        customer_id: str | None = None,
        meter_slug: str | None = None,
        provider_key: str | None = None,
        disable_billing: bool | None = None,
        connection_secret: str | None = None,
        product_secret: str | None = None,
        format: GatewayFormat | None = None,
        method: str = "POST",
        body: object = None,
        headers: Headers | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        extra_headers: Headers | None = None,
        extra_query: Query | None = None,
        idempotency_key: str | None = None,
    ) -> AsyncResponseContextManager[Any]:
        """``gateway()`` with the answer unread, for streamed answers (server-sent events):
        ``async with lava.gateway_stream(url, body={..., "stream": True}) as response:`` then
        ``async for line in response.iter_lines(): ...``. Same arguments as ``gateway()``."""
        request = self._build_gateway_request(
            url,
            customer_id=customer_id,
            meter_slug=meter_slug,
            provider_key=provider_key,
            disable_billing=disable_billing,
            connection_secret=connection_secret,
            product_secret=product_secret,
            format=format,
            method=method,
            body=body,
            headers=headers,
            timeout=timeout,
            extra_headers=extra_headers,
            extra_query=extra_query,
            idempotency_key=idempotency_key,
        )

        async def send() -> AsyncStreamingAPIResponse[Any]:
            response = await self._send_once(request, stream=True)
            return AsyncStreamingAPIResponse(response, self._decode_json)

        return AsyncResponseContextManager(send)

    def with_options(
        self,
        *,
        secret_key: str | None = None,
        api_version: str | None = None,
        base_url: str | httpx.URL | None = None,
        timeout: Timeout | NotGiven = NOT_GIVEN,
        max_retries: int | None = None,
    ) -> AsyncLava:
        """A copy of this client with some options changed, sharing its connection pool.

        ::

            await lava.with_options(timeout=5, max_retries=0).connections.list()
        """
        key, url = self._options_for_copy(secret_key, base_url)
        client = AsyncLava(
            key,
            api_version=api_version if api_version is not None else self.api_version,
            base_url=url,
            timeout=self.timeout if isinstance(timeout, NotGiven) else timeout,
            max_retries=max_retries if max_retries is not None else self.max_retries,
            http_client=self._client,
        )
        client._owns_http_client = False
        return client

    async def __aenter__(self) -> AsyncLava:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.close()


# -- with_raw_response / with_streaming_response of the clients -----------------------------------


class LavaWithRawResponse:
    """Every resource of the client, and ``request``, with their methods
    answering an ``APIResponse``.
    """

    def __init__(self, client: Lava) -> None:
        self.adjustments = client.adjustments.with_raw_response
        self.credits = client.credits.with_raw_response
        self.payments = client.payments.with_raw_response
        self.refunds = client.refunds.with_raw_response
        self.checkout_sessions = client.checkout_sessions.with_raw_response
        self.connections = client.connections.with_raw_response
        self.credit_bundles = client.credit_bundles.with_raw_response
        self.customers = client.customers.with_raw_response
        self.meters = client.meters.with_raw_response
        self.models = client.models.with_raw_response
        self.products = client.products.with_raw_response
        self.requests = client.requests.with_raw_response
        self.secret_keys = client.secret_keys.with_raw_response
        self.spend_keys = client.spend_keys.with_raw_response
        self.subscriptions = client.subscriptions.with_raw_response
        self.usage = client.usage.with_raw_response
        self.webhooks = client.webhooks.with_raw_response
        self.request = to_raw_response_wrapper(client.request)


class LavaWithStreamingResponse:
    """Every resource of the client, and ``request``, with their methods
    answering a context manager around the unread answer.
    """

    def __init__(self, client: Lava) -> None:
        self.adjustments = client.adjustments.with_streaming_response
        self.credits = client.credits.with_streaming_response
        self.payments = client.payments.with_streaming_response
        self.refunds = client.refunds.with_streaming_response
        self.checkout_sessions = client.checkout_sessions.with_streaming_response
        self.connections = client.connections.with_streaming_response
        self.credit_bundles = client.credit_bundles.with_streaming_response
        self.customers = client.customers.with_streaming_response
        self.meters = client.meters.with_streaming_response
        self.models = client.models.with_streaming_response
        self.products = client.products.with_streaming_response
        self.requests = client.requests.with_streaming_response
        self.secret_keys = client.secret_keys.with_streaming_response
        self.spend_keys = client.spend_keys.with_streaming_response
        self.subscriptions = client.subscriptions.with_streaming_response
        self.usage = client.usage.with_streaming_response
        self.webhooks = client.webhooks.with_streaming_response
        self.request = to_streamed_response_wrapper(client.request)


class AsyncLavaWithRawResponse:
    """Every resource of the client, and ``request``, with their methods
    answering an ``APIResponse``.
    """

    def __init__(self, client: AsyncLava) -> None:
        self.adjustments = client.adjustments.with_raw_response
        self.credits = client.credits.with_raw_response
        self.payments = client.payments.with_raw_response
        self.refunds = client.refunds.with_raw_response
        self.checkout_sessions = client.checkout_sessions.with_raw_response
        self.connections = client.connections.with_raw_response
        self.credit_bundles = client.credit_bundles.with_raw_response
        self.customers = client.customers.with_raw_response
        self.meters = client.meters.with_raw_response
        self.models = client.models.with_raw_response
        self.products = client.products.with_raw_response
        self.requests = client.requests.with_raw_response
        self.secret_keys = client.secret_keys.with_raw_response
        self.spend_keys = client.spend_keys.with_raw_response
        self.subscriptions = client.subscriptions.with_raw_response
        self.usage = client.usage.with_raw_response
        self.webhooks = client.webhooks.with_raw_response
        self.request = async_to_raw_response_wrapper(client.request)


class AsyncLavaWithStreamingResponse:
    """Every resource of the client, and ``request``, with their methods
    answering a context manager around the unread answer.
    """

    def __init__(self, client: AsyncLava) -> None:
        self.adjustments = client.adjustments.with_streaming_response
        self.credits = client.credits.with_streaming_response
        self.payments = client.payments.with_streaming_response
        self.refunds = client.refunds.with_streaming_response
        self.checkout_sessions = client.checkout_sessions.with_streaming_response
        self.connections = client.connections.with_streaming_response
        self.credit_bundles = client.credit_bundles.with_streaming_response
        self.customers = client.customers.with_streaming_response
        self.meters = client.meters.with_streaming_response
        self.models = client.models.with_streaming_response
        self.products = client.products.with_streaming_response
        self.requests = client.requests.with_streaming_response
        self.secret_keys = client.secret_keys.with_streaming_response
        self.spend_keys = client.spend_keys.with_streaming_response
        self.subscriptions = client.subscriptions.with_streaming_response
        self.usage = client.usage.with_streaming_response
        self.webhooks = client.webhooks.with_streaming_response
        self.request = async_to_streamed_response_wrapper(client.request)
