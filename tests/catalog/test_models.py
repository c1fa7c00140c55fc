"""`GET /v1/models` of the current API, over HTTP on both databases: OpenAI's list format, from
the price table (the library's prices and the operator's file), without a key."""

from __future__ import annotations

import json

import httpx

from lava_server.app import create_app
from lava_server.settings import Settings


async def test_models_come_from_the_price_table_without_a_key(settings, db, tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "openai": {"house-model": {"input_mtok": "1", "output_mtok": "2"}},
                "*": {"any-model": {"input_mtok": "1", "output_mtok": "2"}},
                "anthropic": {"claude-x*": {"input_mtok": "1", "output_mtok": "2"}},
            }
        )
    )
    app = create_app(Settings(database_url=settings.database_url, model_prices_file=str(path)), db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lava.test") as client:
        response = await client.get("/v1/models")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list"
    models = {(m["id"], m["owned_by"]): m for m in body["data"]}
    assert models[("house-model", "openai")] == {
        "id": "house-model",
        "object": "model",
        "created": 0,
        "owned_by": "openai",
    }
    assert ("any-model", "lava") in models
    assert ("gpt-4o", "openai") in models  # the price library's
    assert any(owner == "anthropic" for _, owner in models)
    assert not any(model.endswith("*") for model, _ in models)  # patterns are not models
    assert len(models) == len(body["data"])
    assert all(set(m) == {"id", "object", "created", "owned_by"} for m in body["data"])


async def test_a_key_is_not_needed_but_a_bad_one_does_no_harm(client):
    plain = await client.get("/v1/models")
    with_key = await client.get("/v1/models", headers={"Authorization": "Bearer aks_test_nope"})
    assert plain.status_code == with_key.status_code == 200
    assert plain.json() == with_key.json()
