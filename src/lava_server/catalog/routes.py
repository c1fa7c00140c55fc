"""`GET /v1/models` (`docs/current-api.md#models`): every model the price table knows a price
for. No key needed; with a spend key (`Authorization: Bearer lava_sk_...` or `x-api-key`) only
the models and providers its allowlists allow (null: all), and 401 for a key that is unknown,
revoked or rotated away. Any other credential is ignored (the list is public).

OpenAI's list format, or Anthropic's when the request carries `anthropic-version` (what the
`anthropic` client's `models.list()` sends), so both clients pointed at our base URL can list."""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

from fastapi import APIRouter, Depends, Request
from typing_extensions import TypedDict

from lava_server.api.schemas import closed, errors
from lava_server.api.state import AppState, get_state
from lava_server.model_prices.book import PriceBook
from lava_server.spend_keys import allowance

ANTHROPIC_EPOCH = "1970-01-01T00:00:00Z"  # as `created` 0: the release date is not known


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


@closed
class AnthropicModel(TypedDict):
    type: Literal["model"]
    id: str
    display_name: str
    created_at: str


@closed
class AnthropicModelList(TypedDict):
    data: list[AnthropicModel]
    has_more: bool
    first_id: str | None
    last_id: str | None


def models_of(
    prices: PriceBook,
    allowed_models: Collection[str] | None = None,
    allowed_providers: Collection[str] | None = None,
) -> RestModelList:
    """One item per model and provider; prefix patterns (`gpt-4o*`) are left out, and a price
    for any provider (`*`) is owned by `lava`. `allowed_*`: a spend key's allowlists (None: all;
    names compared as written), a `lava` item is kept only when every provider is allowed."""
    seen: set[tuple[str, str]] = set()
    models = None if allowed_models is None else set(allowed_models)
    providers = None if allowed_providers is None else set(allowed_providers)
    data: list[RestModel] = []
    for entry in prices.entries():
        if entry.model.endswith("*"):
            continue
        owner = "lava" if entry.provider == "*" else entry.provider
        if (entry.model, owner) in seen:
            continue
        if models is not None and entry.model not in models:
            continue
        if providers is not None and owner not in providers:
            continue
        seen.add((entry.model, owner))
        data.append({"id": entry.model, "object": "model", "created": 0, "owned_by": owner})
    return {"object": "list", "data": data}


def anthropic_list(models: RestModelList) -> AnthropicModelList:
    """The same models in Anthropic's list format: one item per model name, one page."""
    data: list[AnthropicModel] = []
    seen: set[str] = set()
    for model in models["data"]:
        if model["id"] in seen:
            continue
        seen.add(model["id"])
        data.append(
            {
                "type": "model",
                "id": model["id"],
                "display_name": model["id"],
                "created_at": ANTHROPIC_EPOCH,
            }
        )
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def spend_key_of(request: Request) -> str | None:
    """The `lava_sk_` key the request carries (bearer or `x-api-key`), if any."""
    bearer = request.headers.get("authorization", "")
    scheme, _, value = bearer.partition(" ")
    for candidate in (
        value.strip() if scheme.lower() == "bearer" else "",
        request.headers.get("x-api-key", "").strip(),
    ):
        if allowance.is_spend_key(candidate):
            return candidate
    return None


def router_with(prices: PriceBook) -> APIRouter:
    # No key, but an address blocked for failed authentications is refused here too (429).
    router = APIRouter(prefix="/v1/models", tags=["models"], responses=errors(429))

    @router.get(
        "",
        summary="List the models with a price (no key; a spend key filters by its allowlists)",
        description="OpenAI's list format; Anthropic's when the request carries "
        "`anthropic-version`. With a spend key (`lava_sk_`, bearer or `x-api-key`), only the "
        "models and providers it allows.",
        responses=errors(401),
    )
    async def list_models(
        request: Request, state: AppState = Depends(get_state)
    ) -> RestModelList | AnthropicModelList:
        key = spend_key_of(request)
        if key is None:
            found = models_of(prices)
        else:
            grant = await allowance.lookup(state.db, key)
            found = models_of(prices, grant.allowed_models, grant.allowed_providers)
        if "anthropic-version" in request.headers:
            return anthropic_list(found)
        return found

    return router
