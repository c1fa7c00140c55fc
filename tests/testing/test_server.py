"""`lava_server.testing.serve_in_thread`: the suite's servers stop at once when idle, and still
let an answer in flight finish, or cancel it after the grace time."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from lava_server.testing import ServerThread


def _app(shut_down: list[str]) -> Starlette:
    async def slow(request: Request) -> PlainTextResponse:
        await asyncio.sleep(float(request.query_params["seconds"]))
        return PlainTextResponse("done")

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        shut_down.append("lifespan")

    return Starlette(routes=[Route("/slow", slow)], lifespan=lifespan)


def test_an_idle_server_stops_at_once_and_runs_its_shutdown() -> None:
    shut_down: list[str] = []
    server = ServerThread(_app(shut_down)).start()
    with httpx.Client() as http:  # a kept-alive connection, idle when the stop comes
        assert http.get(f"{server.url}/slow", params={"seconds": "0"}).text == "done"
        started = time.monotonic()
        server.stop()
        stopped = time.monotonic() - started
    assert stopped < 0.08, stopped  # uvicorn's own beat and grace took 0.15-0.2 s
    assert shut_down == ["lifespan"]


def test_an_answer_in_flight_is_finished_before_the_stop() -> None:
    shut_down: list[str] = []
    server = ServerThread(_app(shut_down), shutdown_timeout=5).start()
    answers: list[str] = []

    def call() -> None:
        answers.append(httpx.get(f"{server.url}/slow", params={"seconds": "0.5"}).text)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.2)
    server.stop()
    caller.join(5)
    assert answers == ["done"]
    assert shut_down == ["lifespan"]


def test_an_answer_longer_than_the_grace_time_is_cancelled() -> None:
    shut_down: list[str] = []
    server = ServerThread(_app(shut_down), shutdown_timeout=1).start()
    ends: list[str] = []

    def call() -> None:
        try:
            answer = httpx.get(f"{server.url}/slow", params={"seconds": "30"}, timeout=10)
            ends.append(f"{answer.status_code} {answer.text}")
        except httpx.HTTPError as error:
            ends.append(type(error).__name__)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.2)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3
    caller.join(10)
    assert len(ends) == 1 and ends != ["200 done"], ends  # cut off, not answered
    assert shut_down == ["lifespan"]
