"""The upstream HTTP client of the forward proxy.

Built on aiohttp rather than httpx: on one pool of 64 connections httpx's AsyncClient manages
about 170 requests/s on this 2-core machine (encode/httpx#3215), eight sharded clients about
1,200, aiohttp about 2,400 (a raw asyncio HTTP/1.1 client: 2,900) against the same fake provider.
The proxy's budget per call is a few hundred microseconds, so the client must be aiohttp.

Behaviour:

- Redirects are never followed (`docs/forward-proxy.md`): a 3xx is relayed as it is.
- The answer is read as it arrives (`chunks()`), never buffered whole; aiohttp pauses reading
  from the socket when its buffer holds more than about 128 KiB, so memory per call is bounded.
- Timeouts: `connect` (TCP + TLS), `first_byte` (until the status line and headers; a
  non-streamed completion of a long generation only answers when it is done, so this one is
  long) and `idle` (between two reads of the body; a long stream may last as long as it likes
  as long as it keeps sending). There is no total timeout.
- Errors before any answer: :class:`UpstreamUnreachable` (refused, DNS, reset, TLS, not HTTP)
  and :class:`UpstreamNoAnswer` (a timeout). Errors while reading the body:
  :class:`UpstreamBroken`.
- Answers are asked for uncompressed (`accept-encoding: identity` from `proxy.headers`) and
  never decompressed here: the client gets the provider's bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Final

import aiohttp
from yarl import URL

MAX_CONNECTIONS: Final = 1000
# Below uvicorn's default keep-alive (5 s) and far below the providers': a pooled connection is
# never reused after the server may have closed it, which would fail a POST we must not retry.
KEEPALIVE_SECONDS: Final = 4.0


class UpstreamFailure(Exception):
    """The provider could not be used; `message` is safe to show to the client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UpstreamUnreachable(UpstreamFailure):
    """No answer could be had: 502."""


class UpstreamNoAnswer(UpstreamFailure):
    """No answer in time (connect or first byte): 504."""


class UpstreamBroken(UpstreamFailure):
    """The answer broke off after it had begun (dropped connection, idle timeout)."""


class UpstreamResponse:
    """An answer whose status and headers have arrived; read the body with `chunks()`."""

    __slots__ = ("_response", "headers", "raw_headers", "status")

    def __init__(self, response: aiohttp.ClientResponse, idle_timeout: float) -> None:
        self._response = response
        self.status: int = response.status
        self.raw_headers: tuple[tuple[bytes, bytes], ...] = response.raw_headers
        self.headers: Mapping[str, str] = response.headers
        connection = response.connection
        if connection is not None and connection.protocol is not None:
            # From now on the socket read timeout is the idle time between chunks (aiohttp
            # does the same for websockets).
            connection.protocol.read_timeout = idle_timeout

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body, piece by piece as it arrives. Raises :class:`UpstreamBroken`."""
        content = self._response.content
        try:
            while True:
                chunk = await content.readany()
                if not chunk:
                    return
                yield chunk
        except asyncio.TimeoutError:
            raise UpstreamBroken(
                "The provider stopped sending in the middle of its answer."
            ) from None
        except (aiohttp.ClientError, OSError) as error:
            raise UpstreamBroken(f"The provider's answer broke off: {_describe(error)}.") from None

    def close(self) -> None:
        """Drop the connection (the answer is abandoned: the provider stops generating)."""
        self._response.close()

    def release(self) -> None:
        """Give the connection back to the pool (the body was read to its end)."""
        self._response.release()


class UpstreamClient:
    """One per server process; the aiohttp session is made in the serving event loop on first
    use."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        first_byte_timeout: float,
        idle_timeout: float,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=connect_timeout, sock_read=first_byte_timeout
        )
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections,
                limit_per_host=0,
                keepalive_timeout=KEEPALIVE_SECONDS,
                ttl_dns_cache=300,
            )
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            self._session = session
        return session

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> UpstreamResponse:
        """Send the request; return once the status line and headers have arrived."""
        session = self._get_session()
        try:
            response = await session.request(
                method,
                URL(url, encoded=True),
                headers=headers,
                data=body,
                allow_redirects=False,
            )
        except asyncio.TimeoutError:
            raise UpstreamNoAnswer("The provider did not answer in time.") from None
        except (aiohttp.ClientError, OSError, ValueError) as error:
            raise UpstreamUnreachable(
                f"The provider could not be reached: {_describe(error)}."
            ) from None
        return UpstreamResponse(response, self.idle_timeout)

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text[:200]
