"""Run an ASGI app with uvicorn on a free port in a background thread (for tests and benchmarks).

>>> with serve_in_thread(create_fake_provider_app()) as server:  # doctest: +SKIP
...     httpx.get(server.url + "/_fake/health")

The listening socket is bound before the thread starts, so the port is known at once and no other
process can take it in between; ``start`` returns only when uvicorn has finished its startup
(lifespan included) and is accepting connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import uvicorn
from starlette.types import ASGIApp

__all__ = ["ServerThread", "serve_in_thread"]


class _QuickServer(uvicorn.Server):
    """uvicorn's server, stopping as soon as it is told to.

    uvicorn checks for a request to stop every 0.1 s, then gives the open connections a fixed
    0.1 s before waiting for them, and waits in 0.1 s steps: about 0.2 s for every stop, which
    the test suite's many short-lived servers paid each time. Here the stop is an event, and the
    waits for the connections and the tasks poll every 5 ms; what is waited for is uvicorn's:
    the answers in flight (up to `timeout_graceful_shutdown`, then their tasks are cancelled),
    then the app's lifespan shutdown."""

    _stop: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    def request_stop(self) -> None:
        """From any thread: stop now."""
        self.should_exit = True
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed already
                loop.call_soon_threadsafe(stop.set)

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            # on_tick keeps uvicorn's 0.1 s beat (the Date header, the request limit)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.1)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        state = self.server_state
        for connection in list(state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        grace = self.config.timeout_graceful_shutdown
        deadline = None if grace is None else loop.time() + grace
        while (state.connections or state.tasks) and not self.force_exit:
            if deadline is not None and loop.time() > deadline:
                for task in state.tasks:
                    task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
                break
            await asyncio.sleep(0.005)
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()


class ServerThread:
    """A uvicorn server running ``app`` in a daemon thread.

    ``port=0`` picks a free port; read it back from :attr:`port` or :attr:`url`. Extra keyword
    arguments go to :class:`uvicorn.Config` (``lifespan``, ``http``, ``loop``...).
    ``shutdown_timeout`` bounds the wait for in-flight responses when stopping (uvicorn's
    ``timeout_graceful_shutdown``); after it they are cancelled.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        startup_timeout: float = 30.0,
        shutdown_timeout: float = 3.0,
        **config: Any,
    ) -> None:
        self.app = app
        self.host = host
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError:
            self._socket.close()
            raise
        self.port: int = self._socket.getsockname()[1]
        config.setdefault("access_log", False)
        config.setdefault("timeout_graceful_shutdown", max(1, round(shutdown_timeout)))
        self.server = _QuickServer(uvicorn.Config(app, log_level=log_level, **config))
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """``http://host:port``, without a trailing slash."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self._socket])
        except BaseException as exc:  # SystemExit when the lifespan startup fails
            self._error = exc

    def start(self) -> ServerThread:
        """Start serving; returns when the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        self._thread = threading.Thread(target=self._run, name=f"uvicorn-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self.server.started:
            if not self._thread.is_alive():
                self._socket.close()
                raise RuntimeError(f"server failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not start within {self.startup_timeout} s")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread (idempotent)."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self.server.request_stop()
            thread.join(self.shutdown_timeout + 5)
            if thread.is_alive():
                self.server.force_exit = True
                thread.join(5)
        self._socket.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextmanager
def serve_in_thread(
    app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, **kwargs: Any
) -> Iterator[ServerThread]:
    """Serve ``app`` on ``host:port`` (a free port by default) for the duration of the block."""
    server = ServerThread(app, host=host, port=port, **kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()
