"""Who is calling: the merchant secret key of `Authorization: Bearer`, the API version, and the
per-key rate limit. Every `/v1/` management route depends on `authenticate`."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import select

from lava_server.api.context import state_of
from lava_server.db.models import ApiKey
from lava_server.errors import InvalidRequest, RateLimited, Unauthorized
from lava_server.state import AppState

SUPPORTED_API_VERSIONS = ("2025-04-28.v1", "2025-04-21.v1", "2025-03-27.v1")
SECRET_KEY_PREFIXES = ("aks_live_", "aks_test_")


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


async def find_key(state: AppState, secret_key: str) -> Caller | None:
    """The active key with this secret, compared by hash in constant time."""
    if not secret_key.startswith(SECRET_KEY_PREFIXES) or len(secret_key) > 200:
        return None
    digest = hash_secret_key(secret_key)
    async with state.db.read() as session:
        row = (
            await session.execute(
                select(ApiKey.id, ApiKey.merchant_id, ApiKey.livemode, ApiKey.key_hash).where(
                    ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None)
                )
            )
        ).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        return None
    return Caller(merchant_id=row.merchant_id, livemode=row.livemode, key_id=row.id)


async def authenticate(request: Request) -> Caller:
    """FastAPI dependency of every management route."""
    check_api_version(request)
    token = bearer_token(request)
    if token is None:
        raise Unauthorized(
            "Missing secret key: send `Authorization: Bearer <secret key>`.",
            param="Authorization",
        )
    state: AppState = request.app.state.lava
    caller = await find_key(state, token)
    if caller is None:
        raise Unauthorized("Invalid or revoked secret key.", param="Authorization")
    decision = state.rate_limiter.hit(caller.key_id)
    state_of(request.scope)["rate_limit"] = decision
    if not decision.allowed:
        raise RateLimited(
            f"Rate limit of {decision.limit} requests per minute exceeded; retry after the "
            "time in Retry-After."
        )
    return caller
