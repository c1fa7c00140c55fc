"""/openapi.json: FastAPI's document of the routes, completed with what FastAPI cannot know.

- Paths served by raw ASGI endpoints (the forward proxy), and their security schemes, described
  by their owners.
- No 422 answers: a request that fails validation gets a 400 with the error envelope, which every
  route documents.
- The `x-lava-request-id` header, sent with every answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI

_REQUEST_ID = {
    "description": "The id of this call; for a forwarded call, of its stored request.",
    "required": True,
    "schema": {"type": "string"},
}


def install(
    app: FastAPI,
    *,
    paths: Mapping[str, dict[str, Any]],
    security_schemes: Mapping[str, dict[str, Any]],
) -> None:
    """Serve the completed document at `app.openapi_url`."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            document["paths"].update(paths)
            components = document.setdefault("components", {})
            components.setdefault("securitySchemes", {}).update(security_schemes)
            schemas = components.get("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            for operations in document["paths"].values():
                for operation in operations.values():
                    operation["responses"].pop("422", None)
                    for answer in operation["responses"].values():
                        answer.setdefault("headers", {})["x-lava-request-id"] = _REQUEST_ID
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
