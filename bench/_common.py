"""Shared pieces of the benchmarks: a lean keep-alive HTTP/1.1 client (so that the load generator,
which shares the machine's cores with the server, costs as little as possible), server processes,
throwaway databases, and percentiles."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LAVA = str(Path(sys.executable).with_name("lava"))
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Build:
    """The server code a benchmark runs: this checkout's, or an older commit's (`baseline`)."""

    name: str
    command: tuple[str, ...]  # runs the `lava` command line
    env: dict[str, str] = field(default_factory=dict)


CURRENT = Build("this checkout", (LAVA,))


@contextmanager
def baseline(ref: str) -> Iterator[Build]:
    """The server as of commit `ref`, built in a temporary `git worktree` and run with its own
    import path (`PYTHONPATH=<worktree>/src`, ahead of this checkout's installed package) by this
    checkout's interpreter and dependencies. Removed afterwards."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", f"{ref}^{{commit}}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    folder = Path(tempfile.mkdtemp(prefix="lava-baseline-"))
    tree = folder / "tree"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(tree), commit],
        cwd=REPO,
        capture_output=True,
        check=True,
    )
    try:
        yield Build(
            f"baseline {commit}",
            (sys.executable, "-c", "from lava_server.cli import main; main()"),
            {"PYTHONPATH": str(tree / "src")},
        )
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, capture_output=True
        )
        shutil.rmtree(folder, ignore_errors=True)


PG_ADMIN_URL = os.environ.get("LAVA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


class HttpConnection:
    """One keep-alive connection; requests on it are sequential."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"Content-Length: {len(body)}\r\n\r\n"
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        chunked = False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "transfer-encoding" and "chunked" in value:
                chunked = True
        if chunked:
            data = b""
            while True:
                size = int((await self.reader.readline()).strip(), 16)
                if size == 0:
                    await self.reader.readline()
                    break
                data += await self.reader.readexactly(size)
                await self.reader.readline()
            return status, data
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(latencies: list[float]) -> str:
    return (
        f"p50 {percentile(latencies, 0.50) * 1000:6.2f} ms  "
        f"p99 {percentile(latencies, 0.99) * 1000:6.2f} ms  "
        f"mean {statistics.fmean(latencies) * 1000:6.2f} ms"
    )


def lava(*args: str, env: dict[str, str] | None = None, build: Build = CURRENT) -> str:
    result = subprocess.run(
        [*build.command, *args],
        capture_output=True,
        text=True,
        check=True,
        env={**(env or clean_env()), **build.env},
    )
    return result.stdout


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LAVA_")}


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh, empty database URL of `kind` (sqlite | postgresql), removed afterwards."""
    if kind == "sqlite":
        folder = tempfile.mkdtemp(prefix="lava-bench-")
        try:
            yield f"sqlite:///{folder}/lava.db"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    import asyncpg
    from sqlalchemy.engine import make_url

    name = f"lava_bench_{uuid.uuid4().hex[:8]}"
    admin = (
        make_url(PG_ADMIN_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    )

    async def run(sql: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class ServerUrl(str):
    """The base URL of a running `lava serve`, with its process id."""

    pid: int


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) of process `pid` and of its children, such as the worker
    processes of `lava serve --workers N` (Linux: read from /proc)."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += times.get(current, 0.0)
        todo += children.get(current, [])
    return total


@contextmanager
def server(
    database_url: str,
    port: int,
    workers: int,
    extra_env: dict[str, str] | None = None,
    build: Build = CURRENT,
) -> Iterator[ServerUrl]:
    """`lava serve` of `build` on `port`; yields the base URL (with the process id); stops it
    afterwards."""
    env = {**clean_env(), **(extra_env or {}), **build.env}
    process = subprocess.Popen(
        [
            *build.command,
            "serve",
            "--port",
            str(port),
            "--database-url",
            database_url,
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, _ = asyncio.run(_get(port, "/healthz"))
                if status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("server did not start")
        url = ServerUrl(f"http://127.0.0.1:{port}/v1/")
        url.pid = process.pid
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _get(port: int, path: str) -> tuple[int, bytes]:
    connection = HttpConnection("127.0.0.1", port)
    try:
        return await connection.request("GET", path, {})
    finally:
        await connection.close()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()
