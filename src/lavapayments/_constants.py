"""Defaults shared by the sync and async clients."""

from __future__ import annotations

from typing import Final

API_VERSION: Final = "2025-04-28.v1"
"""The API version this SDK speaks (sent as ``X-Lava-API-Version``)."""

LIVE_BASE_URL: Final = "https://api.lavapayments.com/v1/"
SANDBOX_BASE_URL: Final = "https://sandbox-api.lavapayments.com/v1/"
SANDBOX_KEY_PREFIX: Final = "aks_test_"

DEFAULT_TIMEOUT: Final = 60.0
DEFAULT_MAX_RETRIES: Final = 2

INITIAL_RETRY_DELAY: Final = 0.5
MAX_RETRY_DELAY: Final = 8.0
# A server asking for a longer wait than this gets an immediate error instead of a silent stall.
MAX_RETRY_AFTER: Final = 60.0

REQUEST_ID_HEADER: Final = "x-lava-request-id"
