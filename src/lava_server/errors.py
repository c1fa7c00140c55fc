"""API errors: typed exceptions that carry their HTTP status, and the JSON error envelope.

Every non-2xx answer has the body `{"error": {"message", "code", "status", "param"?}}`
(`docs/api.md#errors`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ConfigDict, Field, with_config
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from typing_extensions import NotRequired, TypedDict


class ApiError(Exception):
    """An error answer. Subclasses fix the status and code."""

    status: int = 400
    code: str = "invalid_request"

    def __init__(
        self, message: str, *, param: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = dict(headers or {})


class InvalidRequest(ApiError):
    status, code = 400, "invalid_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class InvalidCredentials(Unauthorized):
    """The caller's own credential (a secret key, a forward token) is missing, malformed,
    unknown or revoked: a failed authentication, which is counted per client address
    (`api.guard`). A valid key with a wrong connection secret is a plain `Unauthorized`."""


AUTH_FAILED = "lava_auth_failed"


def note_failed_auth(scope: MutableMapping[str, Any], error: Exception) -> None:
    """Mark the request of `scope` as a failed authentication when `error` says so (every place
    that turns an error into an answer calls this; `api.guard` reads the mark)."""
    if isinstance(error, InvalidCredentials):
        scope.setdefault("state", {})[AUTH_FAILED] = True


class InsufficientBalance(ApiError):
    status, code = 402, "insufficient_balance"


class RefundFailed(ApiError):
    """The payment provider refused a refund (`POST /v1/refunds`): nothing was refunded."""

    status, code = 402, "refund_failed"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class WalletFrozen(ApiError):
    """A dispute of a payment that funded the wallet is open (`docs/checkout-and-wallets.md`)."""

    status, code = 402, "wallet_frozen"


class SpendLimitReached(ApiError):
    """A spend key's `spend_limit` would be passed (`docs/current-api.md#spend-keys`)."""

    status, code = 402, "spend_limit_reached"


class SpendKeyPaused(Forbidden):
    code = "spend_key_paused"


class SpendKeyExpired(Forbidden):
    code = "spend_key_expired"


class ModelNotAllowed(Forbidden):
    code = "model_not_allowed"


class ProviderNotAllowed(Forbidden):
    code = "provider_not_allowed"


class NotFound(ApiError):
    status, code = 404, "not_found"


class MethodNotAllowed(ApiError):
    status, code = 405, "method_not_allowed"


class Conflict(ApiError):
    status, code = 409, "conflict"


class LiveModeNotConfigured(ApiError):
    status, code = 409, "live_mode_not_configured"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class RateLimited(ApiError):
    status, code = 429, "rate_limited"


class RequestLimitReached(RateLimited):
    """A spend key's `request_limit` is used up for its cycle."""

    code = "request_limit_reached"


class UpstreamError(ApiError):
    status, code = 502, "upstream_error"


class UpstreamTimeout(ApiError):
    status, code = 504, "upstream_timeout"


class BodyTooLarge(Exception):
    """Raised while reading a request body that grows past the limit."""


@with_config(ConfigDict(extra="forbid"))
class ErrorDetail(TypedDict):
    message: str
    code: Annotated[str, Field(pattern=r"^[a-z][a-z_]*$")]
    status: Annotated[int, Field(ge=400, le=599, description="The HTTP status of the answer.")]
    param: NotRequired[Annotated[str, Field(description="The field or header at fault.")]]


@with_config(ConfigDict(extra="forbid"))
class ErrorEnvelope(TypedDict):
    """The body of every error answer (its schema in /openapi.json)."""

    error: ErrorDetail


def error_body(status: int, code: str, message: str, param: str | None = None) -> bytes:
    error: ErrorDetail = {"message": message, "code": code, "status": status}
    if param is not None:
        error["param"] = param
    return json.dumps({"error": error}).encode()


async def send_error(
    send: Callable[[dict[str, Any]], Awaitable[None]],
    status: int,
    code: str,
    message: str,
    param: str | None = None,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """Send an error answer from ASGI middleware (which runs outside the app's handlers)."""
    body = error_body(status, code, message, param)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def error_response(
    status: int,
    code: str,
    message: str,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return Response(
        error_body(status, code, message, param),
        status_code=status,
        media_type="application/json",
        headers=dict(headers or {}),
    )


def field_path(loc: Sequence[int | str]) -> str:
    """`("body", "tiers", 1, "start")` → `tiers[1].start`."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "The request is not valid.", None
    first = errors[0]
    kind = first.get("type", "")
    loc = first.get("loc", ())
    if kind == "json_invalid":
        return "The request body is not valid JSON.", None
    param = field_path(loc) or None
    if kind == "missing" and param:
        message = f"{param} is required."
    elif kind == "extra_forbidden" and param:
        message = f"{param} is not a known field."
    elif kind in ("model_attributes_type", "model_type", "dict_type") and not param:
        return "The request body must be a JSON object.", None
    else:
        text = str(first.get("msg", "is not valid")).removeprefix("Value error, ")
        message = f"{param}: {text}" if param else text
    return message, param


def answer_for(exc: Exception) -> Response | None:
    """The error answer for the failures a route may raise on purpose (None for a bug)."""
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.param, exc.headers)
    if isinstance(exc, RequestValidationError):
        message, param = _validation_message(exc)
        return error_response(400, "invalid_request", message, param)
    if isinstance(exc, BodyTooLarge):
        return error_response(413, PayloadTooLarge.code, "The request body is too large.")
    return None


def install_error_handlers(app: FastAPI, *, base_url: str) -> None:
    """Route every failure a route raises on purpose through the error envelope (a bug, a 500,
    is answered by `api.context`, with its request id). `base_url`: the API's base URL, named
    by a 404 outside it (a client whose base URL lacks `/v1/` calls `/connections`)."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        note_failed_auth(request.scope, exc)
        return error_response(exc.status, exc.code, exc.message, exc.param, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        message, param = _validation_message(exc)
        return error_response(400, "invalid_request", message, param)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc.__cause__, BodyTooLarge):
            return error_response(413, PayloadTooLarge.code, "The request body is too large.")
        if exc.status_code == 404:
            if request.url.path.startswith(("/v1/", "/embed/")):
                return error_response(404, "not_found", "No such route.")
            return error_response(
                404,
                "not_found",
                f"No such route: the API's base URL is {base_url} "
                f"(for example GET {base_url}connections).",
            )
        if exc.status_code == 405:
            return error_response(
                405,
                MethodNotAllowed.code,
                "Method not allowed on this route.",
                headers=exc.headers,  # Allow: the methods it takes
            )
        if exc.status_code == 400:
            return error_response(400, "invalid_request", "The request body could not be read.")
        return error_response(exc.status_code, "error", str(exc.detail))

    @app.exception_handler(BodyTooLarge)
    async def _too_large(_request: Request, _exc: BodyTooLarge) -> Response:
        return error_response(413, PayloadTooLarge.code, "The request body is too large.")
