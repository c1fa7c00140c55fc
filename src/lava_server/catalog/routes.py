"""`GET /v1/models` (`docs/current-api.md#models`): every model the price table knows a price
for, in OpenAI's list format. No key needed."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from typing_extensions import TypedDict

from lava_server.api.schemas import closed, errors
from lava_server.model_prices.book import PriceBook


@closed
class RestModel(TypedDict):
    """`created` is 0: the price table does not know when a model came out."""

    id: str
    object: Literal["model"]
    created: int
    owned_by: str


@closed
class RestModelList(TypedDict):
    object: Literal["list"]
    data: list[RestModel]


def models_of(prices: PriceBook) -> RestModelList:
    """One item per model and provider; prefix patterns (`gpt-4o*`) are left out, and a price
    for any provider (`*`) is owned by `lava`."""
    seen: set[tuple[str, str]] = set()
    data: list[RestModel] = []
    for entry in prices.entries():
        if entry.model.endswith("*"):
            continue
        owner = "lava" if entry.provider == "*" else entry.provider
        if (entry.model, owner) in seen:
            continue
        seen.add((entry.model, owner))
        data.append({"id": entry.model, "object": "model", "created": 0, "owned_by": owner})
    return {"object": "list", "data": data}


def router_with(prices: PriceBook) -> APIRouter:
    # No key, but an address blocked for failed authentications is refused here too (429).
    router = APIRouter(prefix="/v1/models", tags=["models"], responses=errors(429))

    @router.get("", summary="List the models with a price (OpenAI's list format, no key)")
    async def list_models() -> RestModelList:
        return models_of(prices)

    return router
