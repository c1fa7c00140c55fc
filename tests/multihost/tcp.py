"""TCP plumbing for the multi-host test: a forwarder (listen here, connect there) and a
round-robin load balancer that skips backends it cannot connect to. Run as a script inside a
network namespace (`python -m tests.multihost.tcp LISTEN=TARGET ...`) it is a host's sidecar:
`127.0.0.1:PORT=HOST:PORT` pairs, and it prints `ready` once every port listens."""

from __future__ import annotations

import asyncio
import itertools
import sys
import threading
from collections.abc import Coroutine
from typing import Any


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (OSError, RuntimeError):
        writer.close()


async def _splice(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    pipes = [
        asyncio.ensure_future(_pipe(client_reader, writer)),
        asyncio.ensure_future(_pipe(reader, client_writer)),
    ]
    try:
        # Once one direction ends, the other gets a few seconds (a half-closed connection's
        # last answer), then is cancelled: a dropped peer never leaves a task waiting forever.
        _, pending = await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=5)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)
    finally:
        for side in (writer, client_writer):
            side.close()


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


async def forward(listen: str, target: str) -> asyncio.Server:
    """Accept on `listen` (host:port) and connect each client to `target`."""
    target_host, target_port = _split(target)

    async def handle(
        client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        try:
            reader, writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            client_writer.close()
            return
        await _splice(client_reader, client_writer, reader, writer)

    host, port = _split(listen)
    return await asyncio.start_server(handle, host, port, reuse_address=True)


class Balancer:
    """Round robin over `backends` (host:port); a backend that refuses the connection (or does
    not accept it within a second) is skipped for the next. Counts connections per backend."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = [_split(b) for b in backends]
        self._next = itertools.cycle(range(len(backends)))
        self.served = [0] * len(backends)
        self.skipped = [0] * len(backends)
        self.refused = 0  # clients for whom no backend answered

    async def handle(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        start = next(self._next)
        for step in range(len(self.backends)):
            index = (start + step) % len(self.backends)
            host, port = self.backends[index]
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1)
            except (OSError, asyncio.TimeoutError):
                self.skipped[index] += 1
                continue
            self.served[index] += 1
            await _splice(client_reader, client_writer, reader, writer)
            return
        self.refused += 1
        client_writer.close()

    async def listen(self, address: str) -> asyncio.Server:
        host, port = _split(address)
        return await asyncio.start_server(self.handle, host, port, reuse_address=True)


class Loop:
    """An event loop in a thread, for servers the test's own code must not block."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers: list[asyncio.Server] = []

    def run(self, coroutine: Coroutine[Any, Any, asyncio.Server]) -> asyncio.Server:
        server = asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)
        self.servers.append(server)
        return server

    def close(self) -> None:
        async def shut() -> None:
            for server in self.servers:
                server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shut(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


async def _sidecar(pairs: list[str]) -> None:
    servers = [await forward(*pair.split("=", 1)) for pair in pairs]
    print("ready", flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    asyncio.run(_sidecar(sys.argv[1:]))
