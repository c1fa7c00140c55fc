"""The OpenAPI description of `/v1/forward` (`forward_paths()`, added to /openapi.json by
`api.openapi`): FastAPI cannot describe it, since it is a raw ASGI endpoint."""

from __future__ import annotations

from typing import Any

from lava_server.proxy.routes import FORWARD_PATH, METHODS
from lava_server.proxy.upstream import MAX_U_LENGTH

_ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "forwardToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A forward token (`lava.generate_forward_token(...)`), given to the "
        "provider's SDK as its API key. Also accepted as `x-api-key`, `x-goog-api-key`, "
        "`xi-api-key` or `?key=`, the way each provider's SDK sends its key.",
    },
    "forwardTokenXApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
    "forwardTokenGoogle": {"type": "apiKey", "in": "header", "name": "x-goog-api-key"},
    "forwardTokenElevenLabs": {"type": "apiKey", "in": "header", "name": "xi-api-key"},
    "forwardTokenQuery": {"type": "apiKey", "in": "query", "name": "key"},
}

_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "u",
        "in": "query",
        "required": True,
        "description": "The provider's URL: one of the allowed providers' base URLs and a path "
        "under it (`https://api.openai.com/v1/chat/completions`), or the base URL alone when "
        "the path follows `/v1/forward/`. Any other URL is refused (400) and nothing is sent.",
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_U_LENGTH},
        "example": "https://api.openai.com/v1/chat/completions",
    },
    {
        "name": "metadata",
        "in": "query",
        "required": False,
        "description": "Metadata stored on the request, a JSON object of strings (at most 100 "
        "pairs, keys `[A-Za-z0-9_]{1,255}`, values of 1 to 255 characters); the "
        "`x-lava-metadata` header wins over it.",
        "schema": {"type": "string"},
        "example": '{"user_id":"u1"}',
    },
    {
        "name": "x-lava-metadata",
        "in": "header",
        "required": False,
        "description": "The same metadata, as a header.",
        "schema": {"type": "string"},
        "example": '{"user_id":"u1"}',
    },
]

_REFUSALS = {
    "400": "The URL in `u` is not allowed, the metadata is not valid, or there is no key for "
    "the provider (`param` says which).",
    "401": "No forward token, or a token whose secret key or connection is unknown, revoked or "
    "deleted.",
    "402": "The wallet cannot cover the worst case of the call and the product's overdraft is "
    "`block`.",
    "403": "A secret of another merchant, or of the other mode (live/test).",
    "404": "The token's product does not exist.",
    "413": "The request body is larger than `LAVA_MAX_FORWARD_BODY_BYTES`.",
    "502": "The provider could not be reached (`upstream_error`); nothing was charged.",
    "504": "The provider did not answer in time (`upstream_timeout`); nothing was charged.",
}


def _responses() -> dict[str, Any]:
    responses: dict[str, Any] = {
        "default": {
            "description": "The provider's answer, relayed unchanged (status, headers and body: "
            "JSON, an event stream, audio...), without hop-by-hop headers and `set-cookie`. "
            "`x-lava-request-id` is the stored request: `GET /v1/requests/{request_id}`.",
        }
    }
    for status, meaning in _REFUSALS.items():
        responses[status] = {
            "description": f"Refused by Lava before anything was sent: {meaning} A provider's "
            "own answer with this status is relayed unchanged instead.",
            "content": {
                "application/json": {
                    "schema": {"anyOf": [_ENVELOPE, {"description": "The provider's own answer."}]}
                }
            },
        }
    return responses


def _operation(method: str, with_path: bool) -> dict[str, Any]:
    parameters = list(_PARAMETERS)
    if with_path:
        parameters.insert(
            0,
            {
                "name": "path",
                "in": "path",
                "required": True,
                "description": "More of the provider's path, appended to the path of `u` "
                "(`/v1/forward/chat/completions?u=https://api.openai.com/v1`).",
                "schema": {"type": "string"},
            },
        )
    operation: dict[str, Any] = {
        "tags": ["forward"],
        "summary": "Forward a call to an AI provider, metered and billed to a wallet",
        "description": "Reserves the worst case of the call in the wallet, sends the call to "
        "the provider with a real provider key, relays the answer chunk by chunk, and bills "
        "the usage that the provider reported.",
        "operationId": f"forward{'_path' if with_path else ''}_{method.lower()}",
        "parameters": parameters,
        "security": [{name: []} for name in SECURITY_SCHEMES],
        "responses": _responses(),
    }
    if method in ("POST", "PUT", "PATCH"):
        operation["requestBody"] = {
            "required": False,
            "description": "The provider API's own request body, sent on as it is (JSON, or a "
            "form with a file for transcriptions).",
            "content": {
                "application/json": {
                    "schema": {"type": "object"},
                    "example": {
                        "model": "gpt-4o-mini",
                        "messages": [{"role": "user", "content": "Hello!"}],
                    },
                }
            },
        }
    return operation


def forward_paths() -> dict[str, dict[str, Any]]:
    return {
        FORWARD_PATH: {method.lower(): _operation(method, False) for method in METHODS},
        FORWARD_PATH + "/{path}": {method.lower(): _operation(method, True) for method in METHODS},
    }
