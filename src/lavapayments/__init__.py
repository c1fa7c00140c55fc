"""Python SDK for the Lava Payments API.

::

    from lavapayments import Lava, AsyncLava
"""

from . import types, webhooks
from ._client import AsyncLava, Lava
from ._constants import API_VERSION
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InsufficientBalanceError,
    InternalServerError,
    LavaError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from ._logs import setup_logging as _setup_logging
from ._provider_urls import Providers
from ._response import APIResponse, AsyncStreamingAPIResponse, StreamingAPIResponse
from ._types import NOT_GIVEN, NotGiven
from ._version import __version__
from .pagination import AsyncCursorPage, AsyncPaginator, SyncCursorPage

__all__ = [
    "API_VERSION",
    "NOT_GIVEN",
    "APIConnectionError",
    "APIError",
    "APIResponse",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncCursorPage",
    "AsyncLava",
    "AsyncPaginator",
    "AsyncStreamingAPIResponse",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InsufficientBalanceError",
    "InternalServerError",
    "Lava",
    "LavaError",
    "NotFoundError",
    "NotGiven",
    "PermissionDeniedError",
    "Providers",
    "RateLimitError",
    "StreamingAPIResponse",
    "SyncCursorPage",
    "UnprocessableEntityError",
    "__version__",
    "types",
    "webhooks",
]

_setup_logging()
