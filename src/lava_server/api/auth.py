"""Who is calling: the merchant secret key of `Authorization: Bearer`, the API version, and the
per-key rate limit. Every `/v1/` management route depends on `authenticate`."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Depends, Request, Security
from fastapi.security import HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import Headers
from starlette.types import Scope

from lava_server.api import repository
from lava_server.api.context import MERCHANT_KEY, state_of
from lava_server.errors import InvalidCredentials, InvalidRequest, RateLimited
from lava_server.logs import MERCHANT
from lava_server.metrics import RATE_LIMIT_REFUSALS

if TYPE_CHECKING:
    from lava_server.api.state import AppState

SUPPORTED_API_VERSIONS = ("2025-04-28.v1", "2025-04-21.v1", "2025-03-27.v1")
SECRET_KEY_PREFIXES = ("aks_live_", "aks_test_")
_SECRET_KEY_REFUSALS = RATE_LIMIT_REFUSALS.labels("secret_key")

# The routers' `dependencies=[secret_key]`: declares `Authorization: Bearer` in /openapi.json
# (`authenticate` does the checking; this one never refuses anything).
secret_key = Security(
    HTTPBearer(
        scheme_name="secretKey",
        description="A merchant secret key: `aks_test_...` (sandbox) or `aks_live_...`.",
        auto_error=False,
    )
)


@dataclass(frozen=True)
class Caller:
    """An authenticated merchant key; `livemode` is False for `aks_test_` keys."""

    merchant_id: str
    livemode: bool
    key_id: str


def hash_secret_key(secret_key: str) -> str:
    return hashlib.sha256(secret_key.encode()).hexdigest()


def check_api_version(request: Request) -> None:
    version = request.headers.get("x-lava-api-version")
    if version is not None and version not in SUPPORTED_API_VERSIONS:
        raise InvalidRequest(
            f"Unsupported X-Lava-API-Version {version!r}; supported versions: "
            + ", ".join(SUPPORTED_API_VERSIONS)
            + " (or omit the header).",
            param="X-Lava-API-Version",
        )


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def key_hash_of(secret_key: str) -> str | None:
    """The hash a key is stored under, or None when it cannot be a secret key at all."""
    if not secret_key.startswith(SECRET_KEY_PREFIXES) or len(secret_key) > 200:
        return None
    return hash_secret_key(secret_key)


async def find_keys(session: AsyncSession, digests: Sequence[str]) -> dict[str, Caller]:
    """The active keys among these hashes (compared in constant time once found)."""
    if not digests:
        return {}
    rows = await repository.active_keys(session, digests)
    return {
        row.key_hash: Caller(merchant_id=row.merchant_id, livemode=row.livemode, key_id=row.id)
        for row in rows
        if any(hmac.compare_digest(row.key_hash, digest) for digest in digests)
    }


def invalid_key() -> InvalidCredentials:
    return InvalidCredentials("Invalid or revoked secret key.", param="Authorization")


async def presented_key(request: Request) -> str:
    """FastAPI dependency: the hash of the presented secret key, after the checks that need no
    database (API version, header shape, rate limit). `authenticate` then looks the key up; the
    metering hot path looks it up inside its own transaction instead."""
    check_api_version(request)
    token = bearer_token(request)
    if token is None:
        raise InvalidCredentials(
            "Missing secret key: send `Authorization: Bearer <secret key>`.",
            param="Authorization",
        )
    digest = key_hash_of(token)
    if digest is None:
        raise invalid_key()
    state: AppState = request.app.state.lava
    decision = state.rate_limiter.hit(digest)
    state_of(request.scope)["rate_limit"] = decision
    if not decision.allowed:
        _SECRET_KEY_REFUSALS.inc()
        raise RateLimited(
            f"Rate limit of {decision.limit} requests per minute exceeded; retry after the "
            "time in Retry-After."
        )
    return digest


async def authenticate(request: Request, digest: str = Depends(presented_key)) -> Caller:
    """FastAPI dependency of every management route: the calling merchant key."""
    scope_state = state_of(request.scope)
    known: tuple[str, Caller] | None = scope_state.get(_VERIFIED)
    if known is not None and known[0] == digest:
        caller: Caller | None = known[1]  # looked up a moment ago by `verified_caller`
    else:
        state: AppState = request.app.state.lava
        async with state.db.read() as session:
            caller = (await find_keys(session, [digest])).get(digest)
    if caller is None:
        raise invalid_key()
    scope_state[MERCHANT_KEY] = caller.merchant_id  # for the request's log lines
    MERCHANT.set(caller.merchant_id)
    return caller


_VERIFIED = "lava_verified_caller"


async def verified_caller(state: AppState, scope: Scope) -> Caller | None:
    """The caller of an API request when its secret key is active and within its rate limit;
    None otherwise, without raising or counting anything: the request then goes on to its route,
    which answers the failure. The idempotency middleware asks this before it stores anything;
    `authenticate` reuses the answer."""
    headers = Headers(scope=scope)
    version = headers.get("x-lava-api-version")
    if version is not None and version not in SUPPORTED_API_VERSIONS:
        return None
    scheme, _, token = headers.get("authorization", "").partition(" ")
    digest = key_hash_of(token.strip()) if scheme.lower() == "bearer" else None
    if digest is None or state.rate_limiter.used(digest) >= state.rate_limiter.per_minute:
        return None
    async with state.db.read() as session:
        caller = (await find_keys(session, [digest])).get(digest)
    if caller is not None:
        state_of(scope)[_VERIFIED] = (digest, caller)
    return caller
