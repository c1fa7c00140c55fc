"""Error mapping: one class per status, carrying status_code, code, message, param, request_id and
the body; never a secret key in the text."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from lavapayments import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncLava,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InsufficientBalanceError,
    InternalServerError,
    Lava,
    LavaError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)

from . import payloads
from .conftest import call

Client = Lava | AsyncLava

STATUS_CLASSES = [
    (400, "invalid_request", BadRequestError),
    (401, "unauthorized", AuthenticationError),
    (402, "insufficient_balance", InsufficientBalanceError),
    (403, "forbidden", PermissionDeniedError),
    (404, "not_found", NotFoundError),
    (409, "conflict", ConflictError),
    (422, "unprocessable", UnprocessableEntityError),
    (429, "rate_limited", RateLimitError),
    (500, "internal_error", InternalServerError),
    (502, "upstream_error", InternalServerError),
    (504, "upstream_timeout", InternalServerError),
    (418, "teapot", APIStatusError),
]


def answer(status: int, body: object = None, **headers: str) -> Callable[..., httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


@pytest.mark.parametrize(("status", "code", "error_class"), STATUS_CLASSES)
async def test_status_maps_to_its_class(
    status: int, code: str, error_class: type[APIStatusError], make_client: Callable[..., Client]
) -> None:
    body = payloads.error(status, code, f"Something about {code}")
    body["error"]["param"] = "limit"
    client = make_client(answer(status, body, **{"x-lava-request-id": "req_123"}), max_retries=0)
    with pytest.raises(error_class) as caught:
        await call(client.connections.list())
    error = caught.value
    assert type(error) is error_class
    assert isinstance(error, APIStatusError | APIError | LavaError)
    assert error.status_code == status
    assert error.code == code
    assert error.message == f"Something about {code}"
    assert error.param == "limit"
    assert error.request_id == "req_123"
    assert error.body == body
    assert error.response.status_code == status
    assert error.request.url.path == "/v1/connections"
    assert (
        str(error)
        == f"Error code: {status} ({code}) - Something about {code} [request_id: req_123]"
    )


async def test_error_without_the_standard_body(make_client: Callable[..., Client]) -> None:
    client = make_client(answer(404, "<html>nope</html>"), max_retries=0)
    with pytest.raises(NotFoundError) as caught:
        await call(client.connections.retrieve("con_1"))
    assert caught.value.body == "<html>nope</html>"
    assert caught.value.code is None
    assert caught.value.message == "Not Found"
    assert caught.value.request_id is None

    client = make_client(answer(422, {"detail": "bad field"}), max_retries=0)
    with pytest.raises(UnprocessableEntityError) as caught_422:
        await call(client.connections.retrieve("con_1"))
    assert caught_422.value.message == "bad field"


async def test_secret_keys_never_appear_in_error_texts(make_client: Callable[..., Client]) -> None:
    key = "aks_test_topsecret123"
    echoed = payloads.error(401, "unauthorized", f"Unknown key {key} (also aks_live_other999)")
    client = make_client(answer(401, echoed), secret_key=key, max_retries=0)
    with pytest.raises(AuthenticationError) as caught:
        await call(client.connections.list())
    for text in (str(caught.value), repr(caught.value), caught.value.message):
        assert key not in text
        assert "aks_live_other999" not in text
        assert "aks_test_***" in text


async def test_malformed_success_bodies(make_client: Callable[..., Client]) -> None:
    client = make_client(answer(200, {"connection_id": "con_1"}))
    with pytest.raises(APIResponseValidationError) as caught:
        await call(client.connections.retrieve("con_1"))
    assert caught.value.status_code == 200
    assert caught.value.body == {"connection_id": "con_1"}

    client = make_client(answer(200, "not json"))
    with pytest.raises(APIResponseValidationError):
        await call(client.connections.retrieve("con_1"))


def test_hierarchy() -> None:
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(APIConnectionError, APIError)
    assert issubclass(APIResponseValidationError, APIError)
    for _, _, error_class in STATUS_CLASSES:
        assert issubclass(error_class, APIStatusError)
    assert issubclass(APIError, LavaError)
    assert issubclass(LavaError, Exception)
