"""Including the API's module-level routers in an app, their routes shared by every app of the
process.

FastAPI builds an included router's routes (their pydantic schemas, each `TypedDict` answer and
error envelope again) at the first request that reaches them, once per app: 0.1-0.4 s of a new
server's first requests, and of every test's (each test makes its app). A router defined at
module level is the same for every app, so it is included once per process and its routes are
shared: their first request is paid once.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute

_INCLUDED: dict[int, tuple[APIRouter, tuple[BaseRoute, ...]]] = {}  # id(router): (router, routes)


def include(app: FastAPI, router: APIRouter) -> None:
    """`app.include_router(router)` for a module-level router (one made per app would be kept
    alive here for nothing: include it the usual way)."""
    found = _INCLUDED.get(id(router))
    if found is None:
        # What `include_router` would add besides the routes (start-up and shutdown handlers, a
        # lifespan) is not shared: the API's routers have none.
        assert not router.on_startup and not router.on_shutdown, router.prefix
        holder = APIRouter()
        holder.include_router(router)
        found = _INCLUDED[id(router)] = (router, tuple(holder.routes))
    app.router.routes.extend(found[1])
