"""The module-level routers are included once per process (`api/include.py`): every app of the
process serves the same route objects, and each app's answers and API document are its own."""

from __future__ import annotations

import httpx

from lava_server.app import create_app
from lava_server.db.engine import Database
from lava_server.products.routes import router as products_router
from lava_server.settings import Settings
from tests.conftest import MerchantKey


async def test_two_apps_share_the_routes_and_answer_from_their_own_database(
    settings: Settings, db: Database, merchant: MerchantKey
) -> None:
    other_db = Database(settings.database_url, pool_size=2)
    try:
        first, second = create_app(settings, db), create_app(settings, other_db)
        # Each route of the module-level routers is the very same object in both apps.
        assert sum(1 for a, b in zip(first.router.routes, second.router.routes) if a is b) >= 15
        for app in (first, second):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://lava.test") as http:
                created = await http.post(
                    "/v1/products",
                    json={
                        "name": "Chat",
                        "tiers": [{"start": 0, "rate": "2", "type": "tokens_1m"}],
                    },
                    headers=merchant.headers,
                )
                assert created.status_code == 201, created.text
                listed = await http.get("/v1/products", headers=merchant.headers)
                assert listed.status_code == 200
                refused = await http.get("/v1/products")
                assert refused.status_code == 401
        # Both apps wrote to the one database: the second one lists both products.
        assert len(listed.json()["data"]) == 2
        assert first.openapi()["paths"] == second.openapi()["paths"]
        assert any(p.startswith(products_router.prefix) for p in first.openapi()["paths"])
    finally:
        await other_db.dispose()
