"""Retries: connection errors, timeouts, 408/409/429/5xx, backoff with jitter, Retry-After, and one
Idempotency-Key per POST reused on its retries."""

from __future__ import annotations

import email.utils
import socket
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from lavapayments import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncLava,
    InternalServerError,
    Lava,
    RateLimitError,
)

from . import payloads
from .conftest import call
from .http_server import serve

Client = Lava | AsyncLava
Step = httpx.Response | type[httpx.TransportError]


class Script:
    """Answers requests with the given steps in order (a response, or a transport error)."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0)
        if isinstance(step, httpx.Response):
            return step
        raise step("scripted failure", request=request)


def fail(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=payloads.error(status, "boom", "scripted"), headers=headers)


def success() -> httpx.Response:
    return httpx.Response(200, json={"success": True})


def assert_backoff(delays: list[float]) -> None:
    """Exponential from 0.5 s, capped at 8 s, each reduced by up to 25 % of jitter."""
    for attempt, delay in enumerate(delays):
        ceiling = min(0.5 * 2**attempt, 8.0)
        assert 0.75 * ceiling <= delay <= ceiling, (attempt, delay)


async def test_connection_errors_are_retried(
    make_client: Callable[..., Client], sleeps: list[float]
) -> None:
    script = Script(httpx.ConnectError, httpx.RemoteProtocolError, success())
    client = make_client(script)
    assert (await call(client.connections.delete("con_1"))).success
    assert len(script.requests) == 3
    assert len(sleeps) == 2
    assert_backoff(sleeps)


async def test_connection_errors_give_up_after_max_retries(
    make_client: Callable[..., Client], sleeps: list[float]
) -> None:
    script = Script(httpx.ConnectError, httpx.ConnectError, httpx.ConnectError)
    client = make_client(script)
    with pytest.raises(APIConnectionError) as caught:
        await call(client.connections.delete("con_1"))
    assert not isinstance(caught.value, APITimeoutError)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert len(script.requests) == 3
    assert len(sleeps) == 2


async def test_timeouts_are_retried_then_raised(
    make_client: Callable[..., Client], sleeps: list[float]
) -> None:
    script = Script(httpx.ReadTimeout, success())
    assert (await call(make_client(script).connections.delete("con_1"))).success

    script = Script(httpx.ConnectTimeout, httpx.ReadTimeout, httpx.PoolTimeout)
    with pytest.raises(APITimeoutError):
        await call(make_client(script).connections.delete("con_1"))
    assert len(script.requests) == 3


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
async def test_retryable_statuses(
    status: int, make_client: Callable[..., Client], sleeps: list[float]
) -> None:
    """A server that fails twice before answering: the default two retries reach the answer."""
    script = Script(fail(status), fail(status), success())
    assert (await call(make_client(script).connections.delete("con_1"))).success
    assert len(script.requests) == 3
    assert_backoff(sleeps)


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 422])
async def test_client_errors_are_not_retried(
    status: int, make_client: Callable[..., Client], sleeps: list[float]
) -> None:
    script = Script(fail(status), success())
    with pytest.raises(APIStatusError) as caught:
        await call(make_client(script).connections.delete("con_1"))
    assert caught.value.status_code == status
    assert len(script.requests) == 1
    assert sleeps == []


async def test_last_error_is_raised_when_retries_run_out(
    make_client: Callable[..., Client], sleeps: list[float]
) -> None:
    script = Script(fail(503), fail(502), fail(500, **{"x-lava-request-id": "req_last"}))
    with pytest.raises(InternalServerError) as caught:
        await call(make_client(script).connections.delete("con_1"))
    assert caught.value.status_code == 500
    assert caught.value.request_id == "req_last"


async def test_backoff_grows_exponentially_and_is_capped(
    make_client: Callable[..., Client], sleeps: list[float]
) -> None:
    script = Script(*[fail(500)] * 7, success())
    await call(make_client(script, max_retries=7).connections.delete("con_1"))
    assert len(sleeps) == 7
    assert_backoff(sleeps)
    assert sleeps[-1] >= 6.0  # 8 s cap less jitter


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
    ],
)
async def test_retry_after_is_honoured(
    headers: dict[str, str],
    expected: float,
    make_client: Callable[..., Client],
    sleeps: list[float],
) -> None:
    script = Script(fail(429, **headers), success())
    await call(make_client(script).connections.delete("con_1"))
    assert sleeps == [expected]


async def test_retry_after_http_date(
    make_client: Callable[..., Client], sleeps: list[float]
) -> None:
    when = email.utils.formatdate(time.time() + 10, usegmt=True)
    script = Script(fail(503, **{"retry-after": when}), success())
    await call(make_client(script).connections.delete("con_1"))
    assert len(sleeps) == 1
    assert 8.0 <= sleeps[0] <= 10.0


async def test_unparsable_retry_after_falls_back_to_backoff(
    make_client: Callable[..., Client], sleeps: list[float]
) -> None:
    script = Script(fail(429, **{"retry-after": "soon"}), success())
    await call(make_client(script).connections.delete("con_1"))
    assert_backoff(sleeps)


async def test_retry_after_too_long_is_not_waited_for(
    make_client: Callable[..., Client], sleeps: list[float]
) -> None:
    script = Script(fail(429, **{"retry-after": "3600"}), success())
    with pytest.raises(RateLimitError):
        await call(make_client(script).connections.delete("con_1"))
    assert len(script.requests) == 1
    assert sleeps == []


async def test_x_should_retry_overrides_the_status(
    make_client: Callable[..., Client], sleeps: list[float]
) -> None:
    script = Script(fail(500, **{"x-should-retry": "false"}), success())
    with pytest.raises(InternalServerError):
        await call(make_client(script).connections.delete("con_1"))
    assert len(script.requests) == 1

    script = Script(fail(400, **{"x-should-retry": "true"}), success())
    assert (await call(make_client(script).connections.delete("con_1"))).success
    assert len(script.requests) == 2


async def test_max_retries_zero_and_with_options(
    make_client: Callable[..., Client], sleeps: list[float]
) -> None:
    script = Script(fail(500), success())
    with pytest.raises(InternalServerError):
        await call(make_client(script, max_retries=0).connections.delete("con_1"))
    assert len(script.requests) == 1

    script = Script(fail(500), fail(500), success())
    client = make_client(script)
    with pytest.raises(InternalServerError):
        await call(client.with_options(max_retries=1).connections.delete("con_1"))
    assert len(script.requests) == 2


async def test_post_keeps_one_idempotency_key_across_retries(
    make_client: Callable[..., Client],
) -> None:
    created = httpx.Response(201, json=payloads.subscription_config())
    script = Script(fail(500), httpx.ConnectError, fail(429), created)
    client = make_client(script, max_retries=3)
    await call(
        client.subscriptions.create_config(name="a", period_amount="1", rollover_type="full")
    )
    keys = {r.headers["idempotency-key"] for r in script.requests}
    assert len(script.requests) == 4
    assert len(keys) == 1

    script.steps = [httpx.Response(201, json=payloads.subscription_config())]
    await call(
        client.subscriptions.create_config(name="a", period_amount="1", rollover_type="full")
    )
    assert script.requests[-1].headers["idempotency-key"] not in keys  # a new call, a new key


async def test_callers_idempotency_key_wins(make_client: Callable[..., Client]) -> None:
    script = Script(fail(502), httpx.Response(201, json=payloads.checkout_session()))
    client = make_client(script)
    await call(
        client.checkout_sessions.create(
            checkout_mode="onboarding", origin_url="https://a.example", idempotency_key="order-42"
        )
    )
    assert [r.headers["idempotency-key"] for r in script.requests] == ["order-42", "order-42"]


async def test_retried_post_resends_the_same_body(make_client: Callable[..., Client]) -> None:
    script = Script(fail(503), httpx.Response(201, json=payloads.request()))
    await call(
        make_client(script).requests.create(
            request_id="r1", connection_secret="cons_test_a", product_secret="ps_test_b"
        )
    )
    assert script.requests[0].content == script.requests[1].content


async def test_get_has_no_idempotency_key_even_when_retried(
    make_client: Callable[..., Client],
) -> None:
    script = Script(fail(500), httpx.Response(200, json=payloads.connection()))
    await call(make_client(script).connections.retrieve("con_1"))
    assert all("idempotency-key" not in r.headers for r in script.requests)


# -- over real sockets -----------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_refused_connection_over_real_sockets(kind: str, sleeps: list[float]) -> None:
    base_url = f"http://127.0.0.1:{closed_port()}/v1/"
    client: Client = (Lava if kind == "sync" else AsyncLava)("aks_test_x", base_url=base_url)
    with pytest.raises(APIConnectionError) as caught:
        await call(client.connections.list())
    assert "aks_test_x" not in str(caught.value)
    assert len(sleeps) == 2


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_real_timeout_then_success(kind: str, sleeps: list[float]) -> None:
    release = threading.Event()
    calls: list[int] = []

    def slow_once(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            release.wait(5)  # outlives the client's timeout
        return httpx.Response(200, json={"success": True})

    with serve(slow_once) as url:
        client: Client = (Lava if kind == "sync" else AsyncLava)(
            "aks_test_x", base_url=f"{url}/v1/", timeout=0.2
        )
        try:
            assert (await call(client.connections.delete("con_1"))).success
        finally:
            release.set()
    assert len(calls) == 2
    assert len(sleeps) == 1
