"""The OpenAPI description of `/v1/rewrite/{format}/{url}` (added to /openapi.json beside the
forward proxy's): a raw ASGI endpoint too (`docs/forward-proxy.md#rewrite`)."""

from __future__ import annotations

from typing import Any

from lava_server.proxy.rewrite.gateway import CHAT_COMPLETIONS_PATH, MESSAGES_PATH
from lava_server.proxy.rewrite.route import REWRITE_PATH
from lava_server.proxy.rewrite.target import CLIENT_FORMATS

_ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}

_REFUSALS = {
    "400": "The format is unknown or not supported yet (`google`, `bedrock`), the provider URL "
    "is not allowed or its shape cannot be translated, or the body cannot be translated "
    "(`param` names the field); or a refusal of `/v1/forward` (metadata, provider key).",
    "401": "No forward token, or a token whose secret key or connection is unknown, revoked or "
    "deleted.",
    "402": "The wallet cannot cover the worst case of the call and the product's overdraft is "
    "`block`.",
    "403": "A secret of another merchant, or of the other mode (live/test).",
    "404": "The token's product does not exist.",
    "405": "Another method than POST.",
    "413": "The request body is larger than `LAVA_MAX_FORWARD_BODY_BYTES`.",
    "502": "The provider could not be reached (`upstream_error`); nothing was charged.",
    "504": "The provider did not answer in time (`upstream_timeout`); nothing was charged.",
}


def _responses() -> dict[str, Any]:
    responses: dict[str, Any] = {
        "default": {
            "description": "The provider's answer in the client's shape (a chat completion or "
            "an Anthropic message, streamed or not); the same shape is relayed unchanged. "
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


def rewrite_paths() -> dict[str, dict[str, Any]]:
    operation: dict[str, Any] = {
        "tags": ["forward"],
        "summary": "Forward a call to an AI provider of another API shape, translated",
        "description": "A forward call whose request, answer and stream are translated "
        "between OpenAI's chat completions and Anthropic's messages. Metered and billed as "
        "`/v1/forward` is, from the provider's own usage.",
        "operationId": "rewrite_post",
        "parameters": [
            {
                "name": "format",
                "in": "path",
                "required": True,
                "description": "The shape the client sends and expects back. Only `openai` and "
                "`anthropic` are served; `google` and `bedrock` answer 400.",
                "schema": {"type": "string", "enum": list(CLIENT_FORMATS)},
            },
            {
                "name": "url",
                "in": "path",
                "required": True,
                "description": "The provider's URL, raw (`https://api.anthropic.com/v1/messages`), "
                "without its scheme, or percent-encoded.",
                "schema": {"type": "string"},
                "example": "https://api.anthropic.com/v1/messages",
            },
            {
                "name": "x-lava-metadata",
                "in": "header",
                "required": False,
                "description": "Metadata stored on the request, as on `/v1/forward`.",
                "schema": {"type": "string"},
            },
        ],
        "security": [{name: []} for name in ("forwardToken", "forwardTokenXApiKey")],
        "requestBody": {
            "required": True,
            "description": "A chat completions request (`format` `openai`) or a messages "
            "request (`format` `anthropic`).",
            "content": {
                "application/json": {
                    "schema": {"type": "object"},
                    "example": {
                        "model": "claude-haiku-4-5",
                        "messages": [{"role": "user", "content": "Hello!"}],
                    },
                }
            },
        },
        "responses": _responses(),
    }
    return {REWRITE_PATH + "/{format}/{url}": {"post": operation}}


_GATEWAY_REFUSALS = {
    **_REFUSALS,
    "400": "The body is not a JSON object (`param` `body`), has no `model` string (`model`), or "
    "cannot be translated (`param` names the field); or a refusal of `/v1/forward`.",
    "401": "No credential, or one that `/v1/forward` does not accept (unknown, revoked).",
    "404": "No reachable provider prices `model` (`model_not_found`, `param` `model`); or the "
    "token's product does not exist.",
}


def gateway_paths() -> dict[str, dict[str, Any]]:
    """`POST /v1/chat/completions` and `POST /v1/messages` (`proxy.rewrite.gateway`)."""
    paths: dict[str, dict[str, Any]] = {}
    for path, shape, example_model in (
        (CHAT_COMPLETIONS_PATH, "OpenAI's chat completions", "gpt-4o-mini"),
        (MESSAGES_PATH, "Anthropic's messages", "claude-haiku-4-5"),
    ):
        responses = _responses()
        for status, meaning in _GATEWAY_REFUSALS.items():
            responses[status]["description"] = (
                f"Refused by Lava before anything was sent: {meaning} A provider's own answer "
                "with this status is relayed unchanged instead."
            )
        paths[path] = {
            "post": {
                "tags": ["forward"],
                "summary": f"Call any priced model in {shape} shape; the model picks the provider",
                "description": "The model picks the provider: the first of openai, anthropic, "
                "then the other OpenAI-compatible providers in registry order, that prices it. "
                "The call is a forward call to that provider's chat endpoint, translated when its "
                "shape is not the client's, metered and billed as `/v1/forward` is.",
                "operationId": "gateway_" + path.rsplit("/", 1)[-1],
                "parameters": [
                    {
                        "name": "x-lava-metadata",
                        "in": "header",
                        "required": False,
                        "description": "Metadata stored on the request, as on `/v1/forward`.",
                        "schema": {"type": "string"},
                    }
                ],
                "security": [{name: []} for name in ("forwardToken", "forwardTokenXApiKey")],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "required": ["model"]},
                            "example": {
                                "model": example_model,
                                "max_tokens": 100,
                                "messages": [{"role": "user", "content": "Hello!"}],
                            },
                        }
                    },
                },
                "responses": responses,
            }
        }
    return paths
