"""`POST /v1/chat/completions` and `POST /v1/messages`: our own OpenAI- and Anthropic-shaped chat
endpoints (`docs/forward-proxy.md#gateway`). A client SDK points its base URL at us
(`openai.OpenAI(base_url=".../v1")`, `anthropic.Anthropic(base_url="...")`) with its Lava
credential as the API key, and calls any priced model.

The model of the body picks the provider (`proxy.rewrite.target.target_for_model`, the one home
of that rule; with a spend key, among the providers its `allowed_providers` allow); the call
then goes the rewrite door's way (`RewriteProxy.relay`): a forward call to the provider's chat
endpoint, translated both ways when the client's shape is not the provider's.
The credential, the hold, the relay, the usage and the settlement are the forward proxy's: the
client's headers go on unchanged, so whatever `/v1/forward` accepts as a credential works here.

Refused before anything is sent or held, in the API's error shape: another method (405), no
credential (401), a body that is not a JSON object (400 `body`), no model or one that is not a
string (400 `model`), a model no reachable provider prices (404 `model_not_found`, `model`).
"""

from __future__ import annotations

from typing import Final

from starlette.types import Receive, Scope, Send

from lava_server.api.context import read_body
from lava_server.errors import (
    ApiError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    error_response,
    note_failed_auth,
)
from lava_server.proxy.rewrite.route import RewriteProxy, parse_body, require_credential
from lava_server.proxy.rewrite.target import Shape, gateway_providers, target_for_model
from lava_server.spend_keys.allowance import is_spend_key
from lava_server.timeutil import utcnow

CHAT_COMPLETIONS_PATH: Final = "/v1/chat/completions"
MESSAGES_PATH: Final = "/v1/messages"
GATEWAY_PATHS: Final[dict[str, Shape]] = {
    CHAT_COMPLETIONS_PATH: "openai",
    MESSAGES_PATH: "anthropic",
}
_MAX_MODEL_LENGTH: Final = 255


class ModelNotFound(NotFound):
    code = "model_not_found"


class GatewayProxy:
    """The two gateway doors, on top of the rewrite door (and so the forward proxy) of the same
    process. `scope["path"]` is one of :data:`GATEWAY_PATHS`."""

    def __init__(self, rewrite: RewriteProxy) -> None:
        self.rewrite = rewrite
        self.prices = rewrite.forward.prices
        self.providers = gateway_providers()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._gateway(scope, receive, send)
        except ApiError as error:
            note_failed_auth(scope, error)
            response = error_response(
                error.status, error.code, error.message, error.param, error.headers
            )
            await response(scope, receive, send)

    async def _gateway(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        client = GATEWAY_PATHS[path]
        if scope["method"] != "POST":
            raise MethodNotAllowed(f"Only POST is allowed on {path}.", headers={"allow": "POST"})
        credential = require_credential(scope)
        providers = self.providers
        if is_spend_key(credential):
            # A key that allows some providers only is served by one of those, when one of
            # them prices the model (the forward proxy checks the key again).
            grant = await self.rewrite.forward.grants.authorize(credential, utcnow())
            if grant.allowed_providers is not None:
                allowed = grant.allowed_providers
                providers = tuple(p for p in providers if p.name in allowed) or providers
        body = await read_body(receive)
        if body is None:
            return  # the client left before sending its request
        value = parse_body(body)
        if value is None:
            raise InvalidRequest("The request body must be a JSON object.", param="body")
        model = value.get("model")
        if not isinstance(model, str) or not model.strip():
            raise InvalidRequest(
                "model is required: a string naming the model to call (it picks the provider).",
                param="model",
            )
        if len(model) > _MAX_MODEL_LENGTH:
            raise InvalidRequest(
                f"model must be at most {_MAX_MODEL_LENGTH} characters.",
                param="model",
            )
        target = target_for_model(client, model, self.prices, providers)
        if target is None:
            raise ModelNotFound(
                f"No provider reachable through {path} has a price for model {model!r}: "
                "GET /v1/models lists the models that can be called (the operator can add a "
                "price with `lava prices add PROVIDER MODEL ...`). Nothing was sent or charged.",
                param="model",
            )
        await self.rewrite.relay(scope, receive, send, target, body, value)
