"""Raw and streamed answers: ``with_raw_response`` and ``with_streaming_response``, as in the
openai SDK.

``lava.customers.with_raw_response.retrieve(id)`` answers an :class:`APIResponse`: the body is
read, and ``.headers``, ``.status_code`` and ``.parse()`` (the object the plain method returns)
are there. ``lava.customers.with_streaming_response.list()`` answers a context manager around a
:class:`StreamingAPIResponse` (:class:`AsyncStreamingAPIResponse` for ``AsyncLava``) whose body is
not read yet: iterate it with ``iter_bytes()``/``iter_text()``/``iter_lines()``, or ``parse()`` it;
leaving the ``with`` block closes the connection.

A method knows it is called this way by a marker header its wrapper adds to ``extra_headers``;
the client takes the marker out before sending.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import Any, Generic, Literal, ParamSpec, TypeVar, cast

import httpx

from ._constants import REQUEST_ID_HEADER

__all__ = [
    "RESPONSE_MODE_HEADER",
    "APIResponse",
    "AsyncResponseContextManager",
    "AsyncStreamingAPIResponse",
    "ResponseContextManager",
    "ResponseMode",
    "StreamingAPIResponse",
    "async_to_raw_response_wrapper",
    "async_to_streamed_response_wrapper",
    "to_raw_response_wrapper",
    "to_streamed_response_wrapper",
]

P = ParamSpec("P")
R = TypeVar("R")
ResponseMode = Literal["raw", "stream"]

RESPONSE_MODE_HEADER = "X-Lava-Response-Mode"
"""Set by the wrappers in ``extra_headers`` (``raw`` or ``stream``); never sent."""


class _BaseResponse(Generic[R]):
    def __init__(self, response: httpx.Response, parser: Callable[[httpx.Response], R]) -> None:
        self.http_response = response
        self._parser = parser

    @property
    def headers(self) -> httpx.Headers:
        """The answer's headers."""
        return self.http_response.headers

    @property
    def status_code(self) -> int:
        """The HTTP status (always a success: error statuses raise, as in the plain methods)."""
        return self.http_response.status_code

    @property
    def url(self) -> httpx.URL:
        """The URL that was called."""
        return self.http_response.request.url

    @property
    def method(self) -> str:
        """The HTTP method that was used."""
        return self.http_response.request.method

    @property
    def http_request(self) -> httpx.Request:
        """The request as sent (its last attempt)."""
        return self.http_response.request

    @property
    def request_id(self) -> str | None:
        """The server's ``x-lava-request-id``, to quote to support."""
        value: str | None = self.http_response.headers.get(REQUEST_ID_HEADER)
        return value

    @property
    def is_closed(self) -> bool:
        """Whether the connection is released (always, once the body is read)."""
        return self.http_response.is_closed

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{self.status_code}] {self.method} {self.url}>"


class APIResponse(_BaseResponse[R]):
    """An answer whose body is read: its headers and status, and ``parse()`` for the object."""

    def parse(self) -> R:
        """The object the plain method returns (parsed once, then the same object)."""
        if not hasattr(self, "_parsed"):
            self._parsed = self._parser(self.http_response)
        return self._parsed

    @property
    def content(self) -> bytes:
        """The body as bytes."""
        return self.http_response.content

    @property
    def text(self) -> str:
        """The body as text."""
        return self.http_response.text

    def json(self) -> Any:
        """The body as decoded JSON (not validated against a model)."""
        return json.loads(self.http_response.content)


class StreamingAPIResponse(_BaseResponse[R]):
    """An answer whose body is not read yet (from ``with_streaming_response``)."""

    def parse(self) -> R:
        """Read the whole body and return the object the plain method returns."""
        if not hasattr(self, "_parsed"):
            self.http_response.read()
            self._parsed = self._parser(self.http_response)
        return self._parsed

    def read(self) -> bytes:
        """Read and return the whole body."""
        return self.http_response.read()

    def text(self) -> str:
        """Read the whole body and return it as text."""
        self.http_response.read()
        return self.http_response.text

    def json(self) -> Any:
        """Read the whole body and return it as decoded JSON."""
        return json.loads(self.read())

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The body's bytes as they arrive."""
        yield from self.http_response.iter_bytes(chunk_size)

    def iter_text(self, chunk_size: int | None = None) -> Iterator[str]:
        """The body's text as it arrives."""
        yield from self.http_response.iter_text(chunk_size)

    def iter_lines(self) -> Iterator[str]:
        """The body's lines as they arrive, without their line breaks."""
        yield from self.http_response.iter_lines()

    def close(self) -> None:
        """Release the connection (done on leaving the ``with`` block)."""
        self.http_response.close()


class AsyncStreamingAPIResponse(_BaseResponse[R]):
    """An answer whose body is not read yet (from ``AsyncLava``'s ``with_streaming_response``)."""

    async def parse(self) -> R:
        """Read the whole body and return the object the plain method returns."""
        if not hasattr(self, "_parsed"):
            await self.http_response.aread()
            self._parsed = self._parser(self.http_response)
        return self._parsed

    async def read(self) -> bytes:
        """Read and return the whole body."""
        return await self.http_response.aread()

    async def text(self) -> str:
        """Read the whole body and return it as text."""
        await self.http_response.aread()
        return self.http_response.text

    async def json(self) -> Any:
        """Read the whole body and return it as decoded JSON."""
        return json.loads(await self.read())

    async def iter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive."""
        async for chunk in self.http_response.aiter_bytes(chunk_size):
            yield chunk

    async def iter_text(self, chunk_size: int | None = None) -> AsyncIterator[str]:
        """The body's text as it arrives."""
        async for chunk in self.http_response.aiter_text(chunk_size):
            yield chunk

    async def iter_lines(self) -> AsyncIterator[str]:
        """The body's lines as they arrive, without their line breaks."""
        async for line in self.http_response.aiter_lines():
            yield line

    async def close(self) -> None:
        """Release the connection (done on leaving the ``async with`` block)."""
        await self.http_response.aclose()


class ResponseContextManager(Generic[R]):
    """``with ... as response``: sends the request on entry, closes the answer on exit."""

    def __init__(self, request: Callable[[], StreamingAPIResponse[R]]) -> None:
        self._request = request
        self._response: StreamingAPIResponse[R] | None = None

    def __enter__(self) -> StreamingAPIResponse[R]:
        self._response = self._request()
        return self._response

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if self._response is not None:
            self._response.close()


class AsyncResponseContextManager(Generic[R]):
    """``async with ... as response``: sends the request on entry, closes the answer on exit."""

    def __init__(self, request: Callable[[], Awaitable[AsyncStreamingAPIResponse[R]]]) -> None:
        self._request = request
        self._response: AsyncStreamingAPIResponse[R] | None = None

    async def __aenter__(self) -> AsyncStreamingAPIResponse[R]:
        self._response = await self._request()
        return self._response

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if self._response is not None:
            await self._response.close()


def _with_mode(kwargs: Any, mode: ResponseMode) -> None:
    kwargs["extra_headers"] = {**(kwargs.get("extra_headers") or {}), RESPONSE_MODE_HEADER: mode}


def to_raw_response_wrapper(func: Callable[P, R]) -> Callable[P, APIResponse[R]]:
    """``func``, answering an :class:`APIResponse` of what it returns."""

    @functools.wraps(func)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> APIResponse[R]:
        _with_mode(kwargs, "raw")
        return cast(APIResponse[R], func(*args, **kwargs))

    return wrapped


def async_to_raw_response_wrapper(
    func: Callable[P, Awaitable[R]],
) -> Callable[P, Awaitable[APIResponse[R]]]:
    """``func`` (async), answering an :class:`APIResponse` of what it returns."""

    @functools.wraps(func)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> APIResponse[R]:
        _with_mode(kwargs, "raw")
        return cast(APIResponse[R], await func(*args, **kwargs))

    return wrapped


def to_streamed_response_wrapper(
    func: Callable[P, R],
) -> Callable[P, ResponseContextManager[R]]:
    """``func``, answering a context manager around a :class:`StreamingAPIResponse`."""

    @functools.wraps(func)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> ResponseContextManager[R]:
        _with_mode(kwargs, "stream")
        request = functools.partial(func, *args, **kwargs)
        return ResponseContextManager(cast(Callable[[], StreamingAPIResponse[R]], request))

    return wrapped


def async_to_streamed_response_wrapper(
    func: Callable[P, Awaitable[R]],
) -> Callable[P, AsyncResponseContextManager[R]]:
    """``func`` (async), answering an async context manager around an
    :class:`AsyncStreamingAPIResponse`."""

    @functools.wraps(func)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> AsyncResponseContextManager[R]:
        _with_mode(kwargs, "stream")
        request = functools.partial(func, *args, **kwargs)
        return AsyncResponseContextManager(
            cast(Callable[[], Awaitable[AsyncStreamingAPIResponse[R]]], request)
        )

    return wrapped
