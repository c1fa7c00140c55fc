"""The exceptions raised by the SDK, all rooted at :class:`LavaError`.

::

    LavaError
    ├── APIError
    │   ├── APIConnectionError
    │   │   └── APITimeoutError
    │   ├── APIResponseValidationError
    │   └── APIStatusError
    │       ├── BadRequestError (400)
    │       ├── AuthenticationError (401)
    │       ├── InsufficientBalanceError (402)
    │       ├── PermissionDeniedError (403)
    │       ├── NotFoundError (404)
    │       ├── ConflictError (409)
    │       ├── UnprocessableEntityError (422)
    │       ├── RateLimitError (429)
    │       └── InternalServerError (>= 500)
"""

from __future__ import annotations

import httpx

from ._constants import REQUEST_ID_HEADER

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InsufficientBalanceError",
    "InternalServerError",
    "LavaError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "UnprocessableEntityError",
]


class LavaError(Exception):
    """Base class of every error the SDK raises (including bad client configuration)."""


class APIError(LavaError):
    """An error talking to the API: no answer, an unusable answer, or an error status.

    Attributes:
        message: a human-readable description (the server's own message for status errors).
        request: the ``httpx.Request`` that failed.
        body: the decoded JSON body of the answer (or its text), ``None`` when there was none.
        code: the API's machine-readable error code (``"not_found"``...), when known.
    """

    message: str
    request: httpx.Request
    body: object | None
    code: str | None

    def __init__(
        self,
        message: str,
        request: httpx.Request,
        *,
        body: object | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.body = body
        self.code = code


class APIConnectionError(APIError):
    """The API could not be reached (DNS, refused or reset connection, protocol error...)."""

    def __init__(self, *, request: httpx.Request, message: str = "Connection error.") -> None:
        super().__init__(message, request)


class APITimeoutError(APIConnectionError):
    """The API did not answer within the timeout."""

    def __init__(self, *, request: httpx.Request) -> None:
        super().__init__(request=request, message="Request timed out.")


class APIResponseValidationError(APIError):
    """A successful answer whose body is not the JSON shape the SDK expects."""

    response: httpx.Response
    status_code: int

    def __init__(
        self, *, response: httpx.Response, body: object | None, message: str | None = None
    ) -> None:
        super().__init__(
            message or "The API answered with a body that does not match the expected schema.",
            response.request,
            body=body,
        )
        self.response = response
        self.status_code = response.status_code


class APIStatusError(APIError):
    """The API answered with a 4xx or 5xx status.

    Attributes:
        status_code: the HTTP status.
        code: the API's error code (``error.code`` of the body), e.g. ``"insufficient_balance"``.
        message: the API's error message (``error.message``).
        param: the input field at fault (``error.param``), when the API names one.
        request_id: the ``x-lava-request-id`` header of the answer, to quote to support.
        body: the decoded JSON body of the answer.
        response: the ``httpx.Response``.
    """

    response: httpx.Response
    status_code: int
    request_id: str | None
    param: str | None

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        body: object | None,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message, response.request, body=body, code=code)
        self.response = response
        self.status_code = response.status_code
        self.request_id = response.headers.get(REQUEST_ID_HEADER)
        self.param = param

    def __str__(self) -> str:
        text = f"Error code: {self.status_code}"
        if self.code:
            text += f" ({self.code})"
        text += f" - {self.message}"
        if self.request_id:
            text += f" [request_id: {self.request_id}]"
        return text


class BadRequestError(APIStatusError):
    """400: the request is malformed or a field breaks a rule (see ``param``)."""


class AuthenticationError(APIStatusError):
    """401: missing or unknown secret key (or a revoked connection secret)."""


class InsufficientBalanceError(APIStatusError):
    """402: the wallet cannot cover the charge and overdraft is blocked."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not do this."""


class NotFoundError(APIStatusError):
    """404: no such object (for this key's mode: live and sandbox never mix)."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the current state (reused idempotency key...)."""


class UnprocessableEntityError(APIStatusError):
    """422: the body is well-formed but not acceptable."""


class RateLimitError(APIStatusError):
    """429: too many requests; retried automatically, honouring ``Retry-After``."""


class InternalServerError(APIStatusError):
    """5xx: the server (or an upstream provider behind it) failed."""


STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientBalanceError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The exception class for an HTTP error status."""
    if status_code >= 500:
        return InternalServerError
    return STATUS_ERRORS.get(status_code, APIStatusError)
