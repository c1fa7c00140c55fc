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


def _app(shut_down: list[str], arrived: threading.Event | None = None) -> Starlette:
    async def slow(request: Request) -> PlainTextResponse:
        if arrived is not None:
            arrived.set()
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
    assert stopped < 0.1, stopped  # uvicorn's own waits a fixed 0.1 s, plus its beat
    assert shut_down == ["lifespan"]


def _stop_during_a_call(seconds: str, grace: float) -> tuple[str, float]:
    """Stop the server once a call that takes `seconds` has reached it: how the call ended, and
    how long the stop took."""
    shut_down: list[str] = []
    arrived = threading.Event()
    server = ServerThread(_app(shut_down, arrived), shutdown_timeout=grace).start()
    ends: list[str] = []

    def call() -> None:
        try:
            answer = httpx.get(f"{server.url}/slow", params={"seconds": seconds}, timeout=10)
            ends.append(f"{answer.status_code} {answer.text}")
        except httpx.HTTPError as error:
            ends.append(type(error).__name__)

    caller = threading.Thread(target=call)
    caller.start()
    assert arrived.wait(10)  # in flight: a stop before it arrived would refuse the connection
    started = time.monotonic()
    server.stop()
    stopped = time.monotonic() - started
    caller.join(10)
    assert shut_down == ["lifespan"]
    assert len(ends) == 1, ends
    return ends[0], stopped


def test_an_answer_in_flight_is_finished_before_the_stop() -> None:
    end, stopped = _stop_during_a_call("0.5", grace=5)
    assert end == "200 done"
    assert 0.3 < stopped < 3  # it waited for the rest of the answer (0.5 s)


def test_an_answer_longer_than_the_grace_time_is_cancelled() -> None:
    end, stopped = _stop_during_a_call("30", grace=1)
    assert end != "200 done", end  # cut off, not answered
    assert 0.9 < stopped < 5  # after the grace time, not the call's 30 s
