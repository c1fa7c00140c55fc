"""The client runtime.

:class:`BaseClient` holds everything that does no I/O (configuration, headers, URL joining,
retry decisions and delays, error mapping, response parsing); :class:`SyncAPIClient` and
:class:`AsyncAPIClient` add only the I/O: sending, sleeping between attempts and closing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import json
import logging
import math
import os
import random
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar, cast

import httpx
import pydantic

from ._constants import (
    INITIAL_RETRY_DELAY,
    LIVE_BASE_URL,
    MAX_RETRY_AFTER,
    MAX_RETRY_DELAY,
    REQUEST_ID_HEADER,
    SANDBOX_BASE_URL,
    SANDBOX_KEY_PREFIX,
)
from ._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    LavaError,
    status_error_class,
)
from ._gateway import GatewayFormat, gateway_body, gateway_token, gateway_url
from ._logs import logger
from ._redact import REDACTED, mask, redact
from ._response import (
    RESPONSE_MODE_HEADER,
    APIResponse,
    AsyncStreamingAPIResponse,
    ResponseMode,
    StreamingAPIResponse,
)
from ._types import NotGiven, QueryValue, RequestOptions, Timeout
from ._version import __version__
from .pagination import AsyncCursorPage, AsyncPaginator, ItemT, SyncCursorPage

__all__ = ["AsyncAPIClient", "BaseClient", "SyncAPIClient"]

HttpxClientT = TypeVar("HttpxClientT", httpx.Client, httpx.AsyncClient)
ResponseT = TypeVar("ResponseT")

_SENSITIVE_HEADERS = frozenset({"authorization"})
_RETRYABLE_STATUSES = frozenset({408, 409, 429})


def resolve_secret_key(secret_key: str | None) -> str:
    """The explicit key, else ``LAVA_SECRET_KEY``; a missing key is a configuration error."""
    if secret_key is None:
        secret_key = os.environ.get("LAVA_SECRET_KEY")
    if not secret_key:
        raise LavaError(
            "No secret key: pass secret_key to the client or set the LAVA_SECRET_KEY "
            "environment variable."
        )
    return secret_key


def resolve_base_url(base_url: str | httpx.URL | None, secret_key: str) -> tuple[str, bool]:
    """The base URL (with a trailing slash) and whether it was inferred from the key.

    Order: the explicit URL, ``LAVA_BASE_URL``, then the sandbox URL for ``aks_test_`` keys and
    the live URL for any other key.
    """
    if base_url is None:
        base_url = os.environ.get("LAVA_BASE_URL") or None
    if base_url is None:
        inferred = SANDBOX_BASE_URL if secret_key.startswith(SANDBOX_KEY_PREFIX) else LIVE_BASE_URL
        return inferred, True
    text = str(base_url)
    return (text if text.endswith("/") else text + "/"), False


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the server asks us to wait (``retry-after-ms``, then ``retry-after`` as seconds or
    an HTTP date), or ``None`` when it does not say."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        return seconds if math.isfinite(seconds) else None
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        return float(email.utils.mktime_tz(parsed) - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def encode_json(data: object) -> bytes:
    """Compact JSON, as the Node SDK's ``JSON.stringify`` writes it; ``Decimal`` as a string."""
    return json.dumps(
        data, separators=(",", ":"), ensure_ascii=False, default=_json_default
    ).encode("utf-8")


def take_response_mode(options: RequestOptions) -> tuple[RequestOptions, ResponseMode | None]:
    """The options without the ``with_raw_response``/``with_streaming_response`` marker, and
    the mode it asked for (``None``: a plain call)."""
    mode: ResponseMode | None = None
    headers = {}
    for name, value in options.headers.items():
        if name.lower() == RESPONSE_MODE_HEADER.lower():
            mode = "stream" if value == "stream" else "raw"
        else:
            headers[name] = value
    if mode is None:
        return options, None
    return dataclasses.replace(options, headers=headers), mode


_TYPE_ADAPTERS: dict[Any, pydantic.TypeAdapter[Any]] = {}


def _type_adapter(tp: Any) -> pydantic.TypeAdapter[Any]:
    adapter = _TYPE_ADAPTERS.get(tp)
    if adapter is None:
        adapter = _TYPE_ADAPTERS[tp] = pydantic.TypeAdapter(tp)
    return adapter


class BaseClient(Generic[HttpxClientT]):
    """Configuration and every I/O-free step of a request, shared by both clients."""

    secret_key: str
    api_version: str
    max_retries: int
    timeout: Timeout
    _client: HttpxClientT

    def __init__(
        self,
        *,
        secret_key: str,
        api_version: str,
        base_url: str,
        base_url_inferred: bool,
        timeout: Timeout,
        max_retries: int,
        http_client: HttpxClientT,
        owns_http_client: bool,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        self.secret_key = secret_key
        self.api_version = api_version
        self._base_url = base_url
        self._base_url_inferred = base_url_inferred
        self.timeout = timeout
        self.max_retries = max_retries
        self._client = http_client
        self._owns_http_client = owns_http_client

    @property
    def base_url(self) -> str:
        """The API base URL, always ending with ``/`` (e.g. ``https://api.lavapayments.com/v1/``)."""
        return self._base_url

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, api_version={self.api_version!r}, "
            f"secret_key={mask(self.secret_key)!r})"
        )

    def _options_for_copy(
        self,
        secret_key: str | None,
        base_url: str | httpx.URL | None,
    ) -> tuple[str, str | httpx.URL | None]:
        """Key and base URL of a ``with_options`` copy: a new key re-infers an inferred URL."""
        new_key = secret_key if secret_key is not None else self.secret_key
        if base_url is None and not (self._base_url_inferred and secret_key is not None):
            base_url = self.base_url
        return new_key, base_url

    # -- building requests ---------------------------------------------------------------------

    def _default_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.secret_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"lavapayments-python/{__version__}",
            "X-Lava-API-Version": self.api_version,
        }

    def _build_url(self, path: str) -> httpx.URL:
        if path.startswith(("http://", "https://")):
            return httpx.URL(path)
        return httpx.URL(self.base_url + path.lstrip("/"))

    def _prepare_options(self, options: RequestOptions) -> RequestOptions:
        """Give a POST its idempotency key once, so that every retry of it carries the same."""
        if options.idempotency_key is None and options.method.upper() == "POST":
            return dataclasses.replace(options, idempotency_key=str(uuid.uuid4()))
        return options

    def _build_request(self, options: RequestOptions) -> httpx.Request:
        headers = self._default_headers()
        if options.idempotency_key is not None:
            headers["Idempotency-Key"] = options.idempotency_key
        headers.update(options.headers)
        timeout = self.timeout if isinstance(options.timeout, NotGiven) else options.timeout
        return self._client.build_request(
            options.method.upper(),
            self._build_url(options.path),
            params=dict(options.query) if options.query else None,
            headers=headers,
            content=None if options.json_data is None else encode_json(options.json_data),
            timeout=timeout,
        )

    def _build_gateway_request(
        self,
        url: str,
        *,
        customer_id: str | None,
        meter_slug: str | None,
        provider_key: str | None,
        disable_billing: bool | None,
        connection_secret: str | None,
        product_secret: str | None,
        format: GatewayFormat | None,
        method: str,
        body: object,
        headers: Mapping[str, str] | None,
        timeout: Timeout | NotGiven,
        extra_headers: Mapping[str, str] | None,
        extra_query: Mapping[str, QueryValue] | None,
        idempotency_key: str | None,
    ) -> httpx.Request:
        """The one request of a ``gateway()`` call (see ``lavapayments._gateway``)."""
        token = gateway_token(
            self.secret_key,
            customer_id=customer_id,
            meter_slug=meter_slug,
            provider_key=provider_key,
            disable_billing=disable_billing,
            connection_secret=connection_secret,
            product_secret=product_secret,
        )
        content, sent = gateway_body(
            body, {**(headers or {}), **(extra_headers or {})}, token, encode_json
        )
        if idempotency_key is not None:
            sent["Idempotency-Key"] = idempotency_key
        target = httpx.URL(gateway_url(self.base_url, url, format))
        if extra_query:
            target = target.copy_merge_params(
                {k: v for k, v in extra_query.items() if v is not None}
            )
        return self._client.build_request(
            method.upper(),
            target,
            headers=sent,
            content=content,
            timeout=self.timeout if isinstance(timeout, NotGiven) else timeout,
        )

    # -- retries -------------------------------------------------------------------------------

    def _retry_delay(self, retries_taken: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up.

        ``response`` is ``None`` after a connection error or a timeout (always retryable).
        """
        if retries_taken >= self.max_retries:
            return None
        if response is not None:
            retry_after = parse_retry_after(response.headers)
            if retry_after is not None and retry_after > MAX_RETRY_AFTER:
                return None
            if not self._should_retry(response):
                return None
            if retry_after is not None and retry_after >= 0:
                return retry_after
        backoff = min(INITIAL_RETRY_DELAY * 2.0**retries_taken, MAX_RETRY_DELAY)
        return backoff * (1 - 0.25 * random.random())

    @staticmethod
    def _should_retry(response: httpx.Response) -> bool:
        # A server that knows better (e.g. a 409 for a reused idempotency key) can say so.
        should_retry = response.headers.get("x-should-retry")
        if should_retry == "true":
            return True
        if should_retry == "false":
            return False
        return response.status_code in _RETRYABLE_STATUSES or response.status_code >= 500

    # -- answers -------------------------------------------------------------------------------

    def _make_status_error(self, response: httpx.Response) -> APIStatusError:
        body: object
        try:
            body = response.json()
        except ValueError:
            body = response.text or None
        message = code = param = None
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            message, code, param = (
                value if isinstance(value, str) else None
                for value in (error.get("message"), error.get("code"), error.get("param"))
            )
        elif isinstance(error, str):
            message = error
        if message is None and isinstance(body, dict):
            fallback = body.get("message", body.get("detail"))
            message = fallback if isinstance(fallback, str) else None
        if message is None:
            message = response.reason_phrase or f"HTTP {response.status_code}"
        return status_error_class(response.status_code)(
            redact(message, self.secret_key),
            response=response,
            body=body,
            code=code,
            param=param,
        )

    @staticmethod
    def _decode_json(response: httpx.Response) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise APIResponseValidationError(
                response=response, body=response.text, message="The API answered with non-JSON."
            ) from exc

    def _parse(self, response: httpx.Response, cast_to: type[ResponseT]) -> ResponseT:
        data = self._decode_json(response)
        try:
            parsed: ResponseT = _type_adapter(cast_to).validate_python(data)
            return parsed
        except pydantic.ValidationError as exc:
            raise APIResponseValidationError(
                response=response,
                body=data,
                message=redact(
                    f"The API answer does not match {getattr(cast_to, '__name__', cast_to)}: {exc}",
                    self.secret_key,
                ),
            ) from exc

    # -- logging -------------------------------------------------------------------------------

    @staticmethod
    def _safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
        return {k: REDACTED if k.lower() in _SENSITIVE_HEADERS else v for k, v in headers.items()}

    def _log_request(self, request: httpx.Request, retries_taken: int) -> None:
        if not logger.isEnabledFor(logging.DEBUG):
            return
        logger.debug(
            "Request: %s %s (attempt %d) headers=%s",
            request.method,
            request.url,
            retries_taken + 1,
            self._safe_headers(request.headers),
        )

    @staticmethod
    def _log_response(request: httpx.Request, response: httpx.Response) -> None:
        if not logger.isEnabledFor(logging.DEBUG):
            return
        logger.debug(
            "Response: %s %s -> %d (request_id=%s)",
            request.method,
            request.url,
            response.status_code,
            response.headers.get(REQUEST_ID_HEADER),
        )

    @staticmethod
    def _log_retry(request: httpx.Request, delay: float, reason: str) -> None:
        logger.info("Retrying %s %s in %.2f s (%s)", request.method, request.url, delay, reason)


class SyncAPIClient(BaseClient[httpx.Client]):
    """The blocking I/O of :class:`~lavapayments.Lava`."""

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def _send(self, options: RequestOptions, *, stream: bool = False) -> httpx.Response:
        """Send with retries; return a successful response or raise. With ``stream``, the
        body of a successful response is left unread."""
        options = self._prepare_options(options)
        retries_taken = 0
        while True:
            request = self._build_request(options)
            self._log_request(request, retries_taken)
            try:
                response = self._client.send(request, stream=stream)
            except httpx.TimeoutException as exc:
                delay = self._retry_delay(retries_taken, None)
                if delay is None:
                    raise APITimeoutError(request=request) from exc
                reason = "timeout"
            except httpx.TransportError as exc:
                delay = self._retry_delay(retries_taken, None)
                if delay is None:
                    raise APIConnectionError(request=request) from exc
                reason = f"connection error: {type(exc).__name__}"
            else:
                self._log_response(request, response)
                if response.is_success:
                    return response
                response.read()
                delay = self._retry_delay(retries_taken, response)
                if delay is None:
                    raise self._make_status_error(response)
                reason = f"status {response.status_code}"
                response.close()
            self._log_retry(request, delay, reason)
            self._sleep(delay)
            retries_taken += 1

    def _send_once(self, request: httpx.Request, *, stream: bool) -> httpx.Response:
        """Send once, never retried (a gateway call may cost money); raise on an error."""
        self._log_request(request, 0)
        try:
            response = self._client.send(request, stream=stream)
        except httpx.TimeoutException as exc:
            raise APITimeoutError(request=request) from exc
        except httpx.TransportError as exc:
            raise APIConnectionError(request=request) from exc
        self._log_response(request, response)
        if not response.is_success:
            response.read()
            response.close()
            raise self._make_status_error(response)
        return response

    def _respond(
        self, options: RequestOptions, parser: Callable[[httpx.Response], ResponseT]
    ) -> ResponseT:
        """Send, then parse the answer, or wrap it for ``with_raw_response`` (read) or
        ``with_streaming_response`` (unread); the wrappers type what the caller gets."""
        options, mode = take_response_mode(options)
        response = self._send(options, stream=mode == "stream")
        if mode == "raw":
            return cast(ResponseT, APIResponse(response, parser))
        if mode == "stream":
            return cast(ResponseT, StreamingAPIResponse(response, parser))
        return parser(response)

    def _request(self, options: RequestOptions, cast_to: type[ResponseT]) -> ResponseT:
        return self._respond(options, lambda response: self._parse(response, cast_to))

    def _request_json(self, options: RequestOptions) -> Any:
        return self._respond(options, self._decode_json)

    def _request_page(self, options: RequestOptions, item: type[ItemT]) -> SyncCursorPage[ItemT]:
        def parse(response: httpx.Response) -> SyncCursorPage[ItemT]:
            page = self._parse(response, SyncCursorPage[item])  # type: ignore[valid-type]
            page._fetch_page = fetch
            return page

        def fetch(cursor: str) -> SyncCursorPage[ItemT]:
            plain, _ = take_response_mode(options)
            query = {**plain.query, "cursor": cursor}
            return self._request_page(dataclasses.replace(plain, query=query), item)

        return self._respond(options, parse)

    @property
    def is_closed(self) -> bool:
        """Whether the underlying HTTP client is closed."""
        return self._client.is_closed

    def close(self) -> None:
        """Close the connection pool (a ``with_options`` copy leaves its parent's pool open)."""
        if self._owns_http_client:
            self._client.close()


class AsyncAPIClient(BaseClient[httpx.AsyncClient]):
    """The asyncio I/O of :class:`~lavapayments.AsyncLava`."""

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def _send(self, options: RequestOptions, *, stream: bool = False) -> httpx.Response:
        """Send with retries; return a successful response or raise. With ``stream``, the
        body of a successful response is left unread."""
        options = self._prepare_options(options)
        retries_taken = 0
        while True:
            request = self._build_request(options)
            self._log_request(request, retries_taken)
            try:
                response = await self._client.send(request, stream=stream)
            except httpx.TimeoutException as exc:
                delay = self._retry_delay(retries_taken, None)
                if delay is None:
                    raise APITimeoutError(request=request) from exc
                reason = "timeout"
            except httpx.TransportError as exc:
                delay = self._retry_delay(retries_taken, None)
                if delay is None:
                    raise APIConnectionError(request=request) from exc
                reason = f"connection error: {type(exc).__name__}"
            else:
                self._log_response(request, response)
                if response.is_success:
                    return response
                await response.aread()
                delay = self._retry_delay(retries_taken, response)
                if delay is None:
                    raise self._make_status_error(response)
                reason = f"status {response.status_code}"
                await response.aclose()
            self._log_retry(request, delay, reason)
            await self._sleep(delay)
            retries_taken += 1

    async def _send_once(self, request: httpx.Request, *, stream: bool) -> httpx.Response:
        """Send once, never retried (a gateway call may cost money); raise on an error."""
        self._log_request(request, 0)
        try:
            response = await self._client.send(request, stream=stream)
        except httpx.TimeoutException as exc:
            raise APITimeoutError(request=request) from exc
        except httpx.TransportError as exc:
            raise APIConnectionError(request=request) from exc
        self._log_response(request, response)
        if not response.is_success:
            await response.aread()
            await response.aclose()
            raise self._make_status_error(response)
        return response

    async def _respond(
        self, options: RequestOptions, parser: Callable[[httpx.Response], ResponseT]
    ) -> ResponseT:
        """Send, then parse the answer, or wrap it for ``with_raw_response`` (read) or
        ``with_streaming_response`` (unread); the wrappers type what the caller gets."""
        options, mode = take_response_mode(options)
        response = await self._send(options, stream=mode == "stream")
        if mode == "raw":
            return cast(ResponseT, APIResponse(response, parser))
        if mode == "stream":
            return cast(ResponseT, AsyncStreamingAPIResponse(response, parser))
        return parser(response)

    async def _request(self, options: RequestOptions, cast_to: type[ResponseT]) -> ResponseT:
        return await self._respond(options, lambda response: self._parse(response, cast_to))

    async def _request_json(self, options: RequestOptions) -> Any:
        return await self._respond(options, self._decode_json)

    async def _fetch_page(
        self, options: RequestOptions, item: type[ItemT]
    ) -> AsyncCursorPage[ItemT]:
        def parse(response: httpx.Response) -> AsyncCursorPage[ItemT]:
            page = self._parse(response, AsyncCursorPage[item])  # type: ignore[valid-type]
            page._fetch_page = fetch
            return page

        async def fetch(cursor: str) -> AsyncCursorPage[ItemT]:
            plain, _ = take_response_mode(options)
            query = {**plain.query, "cursor": cursor}
            return await self._fetch_page(dataclasses.replace(plain, query=query), item)

        return await self._respond(options, parse)

    def _request_page(self, options: RequestOptions, item: type[ItemT]) -> AsyncPaginator[ItemT]:
        return AsyncPaginator(lambda: self._fetch_page(options, item))

    @property
    def is_closed(self) -> bool:
        """Whether the underlying HTTP client is closed."""
        return self._client.is_closed

    async def close(self) -> None:
        """Close the connection pool (a ``with_options`` copy leaves its parent's pool open)."""
        if self._owns_http_client:
            await self._client.aclose()
