"""The fake Stripe's HTTP side: keys, idempotency, routes, expansion, the ``/_fake/`` controls."""

from __future__ import annotations

import base64
import binascii
import copy
import html
import json
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from lava_server.testing.fake_stripe.errors import StripeError, invalid, no_such
from lava_server.testing.fake_stripe.events import API_VERSION, Events, WebhookConfig
from lava_server.testing.fake_stripe.forms import parse_form
from lava_server.testing.fake_stripe.params import choice, integer
from lava_server.testing.fake_stripe.store import REFUND_REASONS, Call, Store, new_id

JSON = dict[str, Any]

STATIC = Path(__file__).parent / "static"
KEY_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_", "pk_test_", "pk_live_")
PUBLISHABLE_REFUSED = (
    "This API call cannot be made with a publishable API key. Please use a secret API key. You "
    "can find a list of your API keys at https://dashboard.stripe.com/account/apikeys."
)
NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Idempotency-Key, "
    "Stripe-Version, Stripe-Account",
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Max-Age": "300",
}

Handler = Callable[[Store, Call, JSON, tuple[str, ...], str], JSON]


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    publishable: bool = False  # Stripe.js may call it with a publishable key


def _routes(events: Events) -> list[Endpoint]:
    def ep(method: str, path: str, handler: Handler, publishable: bool = False) -> Endpoint:
        regex = "^" + re.sub(r"\{\w+\}", r"([^/]+)", path) + "$"
        return Endpoint(method, re.compile(regex), handler, publishable)

    return [
        ep("POST", "/v1/customers", lambda s, c, p, a, u: s.create_customer(p, c)),
        ep(
            "GET",
            "/v1/customers",
            lambda s, c, p, a, u: s.list(
                "cus_",
                u,
                c,
                _only(p, ("limit", "starting_after", "ending_before", "email", "created")),
                email=p.get("email") or None,
            ),
        ),
        ep("GET", "/v1/customers/{id}", lambda s, c, p, a, u: s._get_kind(a[0], "cus_", c, "id")),
        ep("POST", "/v1/customers/{id}", lambda s, c, p, a, u: s.update_customer(a[0], p, c)),
        ep(
            "GET",
            "/v1/customers/{id}/payment_methods",
            lambda s, c, p, a, u: s.list_payment_methods(a[0], p, c, u),
        ),
        ep(
            "POST",
            "/v1/payment_methods",
            lambda s, c, p, a, u: s.create_payment_method(p, c),
            publishable=True,
        ),
        ep(
            "GET",
            "/v1/payment_methods",
            lambda s, c, p, a, u: s.list_payment_methods(None, p, c, u),
        ),
        ep(
            "GET",
            "/v1/payment_methods/{id}",
            lambda s, c, p, a, u: s._get_kind(a[0], "pm_", c, "payment_method"),
        ),
        ep(
            "POST",
            "/v1/payment_methods/{id}/attach",
            lambda s, c, p, a, u: s.attach_payment_method(a[0], p, c),
        ),
        ep(
            "POST",
            "/v1/payment_methods/{id}/detach",
            lambda s, c, p, a, u: s.detach_payment_method(a[0], p, c),
        ),
        ep("POST", "/v1/payment_intents", lambda s, c, p, a, u: s.create_payment_intent(p, c)),
        ep("GET", "/v1/payment_intents", lambda s, c, p, a, u: s.list_payment_intents(p, c, u)),
        ep(
            "GET",
            "/v1/payment_intents/{id}",
            lambda s, c, p, a, u: s.payment_intent(a[0], c, _client_secret(p)),
            publishable=True,
        ),
        ep(
            "POST",
            "/v1/payment_intents/{id}",
            lambda s, c, p, a, u: s.update_payment_intent(a[0], p, c),
        ),
        ep(
            "POST",
            "/v1/payment_intents/{id}/confirm",
            lambda s, c, p, a, u: s.confirm_payment_intent(a[0], p, c),
            publishable=True,
        ),
        ep(
            "POST",
            "/v1/payment_intents/{id}/cancel",
            lambda s, c, p, a, u: s.cancel_payment_intent(a[0], p, c),
        ),
        ep("POST", "/v1/setup_intents", lambda s, c, p, a, u: s.create_setup_intent(p, c)),
        ep(
            "GET",
            "/v1/setup_intents/{id}",
            lambda s, c, p, a, u: s.setup_intent(a[0], c, _client_secret(p)),
            publishable=True,
        ),
        ep(
            "POST",
            "/v1/setup_intents/{id}/confirm",
            lambda s, c, p, a, u: s.confirm_setup_intent(a[0], p, c),
            publishable=True,
        ),
        ep(
            "POST",
            "/v1/setup_intents/{id}/cancel",
            lambda s, c, p, a, u: s.cancel_setup_intent(a[0], p, c),
        ),
        ep("GET", "/v1/charges", lambda s, c, p, a, u: s.list_charges(p, c, u)),
        ep("GET", "/v1/charges/{id}", lambda s, c, p, a, u: s.charge(a[0], c)),
        ep("POST", "/v1/refunds", lambda s, c, p, a, u: s.create_refund(p, c)),
        ep("GET", "/v1/refunds", lambda s, c, p, a, u: s.list_refunds(p, c, u)),
        ep("GET", "/v1/refunds/{id}", lambda s, c, p, a, u: s._get_kind(a[0], "re_", c, "refund")),
        ep("GET", "/v1/disputes", lambda s, c, p, a, u: s.list_disputes(p, c, u)),
        ep("GET", "/v1/disputes/{id}", lambda s, c, p, a, u: s.dispute(a[0], c)),
        ep(
            "POST",
            "/v1/disputes/{id}/close",
            lambda s, c, p, a, u: s.close_dispute(s.dispute(a[0], c)["id"], "lost", c),
        ),
        ep("GET", "/v1/events", lambda s, c, p, a, u: events.list_events(p, u, c.livemode)),
        ep("GET", "/v1/events/{id}", lambda s, c, p, a, u: _event(events, a[0], c)),
    ]


def _only(params: JSON, allowed: tuple[str, ...]) -> JSON:
    from lava_server.testing.fake_stripe.params import check

    check(params, allowed)
    return params


def _client_secret(params: JSON) -> str | None:
    value = params.get("client_secret")
    return value if isinstance(value, str) and value else None


def _event(events: Events, event_id: str, call: Call) -> JSON:
    event = events.events.get(event_id)
    if event is None or event["livemode"] != call.livemode:
        raise no_such("event", event_id, "id")
    return event


def _redact(key: str) -> str:
    head = next((p for p in KEY_PREFIXES if key.startswith(p)), "")
    return head + "*" * max(0, len(key) - len(head) - 4) + key[-4:]


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, indent=2).encode()


class FakeStripe:
    """The fake's state and handlers. ``create_fake_stripe_app`` exposes it as
    ``app.state.fake_stripe``; tests may read :attr:`store`, :attr:`events`, :attr:`requests`."""

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        webhook_secret: str = "whsec_fake",
        publishable_key: str | None = None,
        max_attempts: int = 4,
        retry_seconds: float = 0.5,
        api_version: str = API_VERSION,
        max_recorded: int = 1000,
    ) -> None:
        self.publishable_key = publishable_key
        self.events = Events(
            WebhookConfig(
                url=webhook_url,
                secret=webhook_secret,
                max_attempts=max_attempts,
                retry_seconds=retry_seconds,
            ),
            api_version,
        )
        self.store = Store(self.events.emit)
        self.endpoints = _routes(self.events)
        self.requests: deque[JSON] = deque(maxlen=max(1, max_recorded))
        self._sequence = 0
        self._idempotency: dict[tuple[str, str], tuple[str, int, bytes]] = {}

    def reset(self) -> None:
        self.store.reset()
        self.events.reset()
        self.requests.clear()
        self._idempotency.clear()

    # -- Stripe's API ------------------------------------------------------------------------

    def _authenticate(self, request: Request, params: JSON) -> tuple[str, Call] | StripeError:
        header = request.headers.get("authorization", "")
        key = ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            key = value.strip()
        elif scheme.lower() == "basic":
            try:
                key = base64.b64decode(value.strip()).decode().partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                key = ""
        form_key = params.pop("key", None)
        if not key and isinstance(form_key, str):
            key = form_key  # Stripe.js sends its publishable key in the form
        if not key:
            return StripeError(401, NO_KEY)
        prefix = next((p for p in KEY_PREFIXES if key.startswith(p)), None)
        if prefix is None or len(key) <= len(prefix) or not key.isascii() or " " in key:
            return StripeError(401, f"Invalid API Key provided: {_redact(key)}")
        publishable = prefix.startswith("pk_")
        if publishable and self.publishable_key and key != self.publishable_key:
            return StripeError(401, f"Invalid API Key provided: {_redact(key)}")
        call = Call(
            livemode="_live_" in prefix,
            publishable=publishable,
            base_url=str(request.base_url).rstrip("/"),
        )
        return key, call

    async def api(self, request: Request) -> Response:
        started = time.time()
        request_id = new_id("req_", 14)
        version = request.headers.get("stripe-version") or self.events.api_version
        headers = {"Request-Id": request_id, "Stripe-Version": version, **CORS}
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=CORS)
        raw = await request.body()
        query = request.url.query
        params = parse_form(
            query if request.method in ("GET", "DELETE") else raw.decode("utf-8", "replace")
        )
        if request.method == "POST" and query:
            for name, value in parse_form(query).items():
                params.setdefault(name, value)
        idempotency_key = request.headers.get("idempotency-key")
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        record: JSON = {
            "method": request.method,
            "path": request.url.path,
            "query": query,
            "params": copy.deepcopy(params),
            "idempotency_key": idempotency_key,
            "time": started,
        }
        status, body, replayed = self._answer(request, params, request_id, idempotency_key, record)
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        record["status"] = status
        record["replayed"] = replayed
        self._record(record)
        return Response(body, status, headers, "application/json")

    def _answer(
        self,
        request: Request,
        params: JSON,
        request_id: str,
        idempotency_key: str | None,
        record: JSON,
    ) -> tuple[int, bytes, bool]:
        auth = self._authenticate(request, params)
        if isinstance(auth, StripeError):
            return auth.status, _dumps(auth.body()), False
        api_key, call = auth
        record["api_key"] = api_key
        record["livemode"] = call.livemode
        record["publishable"] = call.publishable
        path = request.url.path.rstrip("/") or "/"
        endpoint, args = self._resolve(request.method, path)
        if endpoint is None:
            error = StripeError(
                404,
                f"Unrecognized request URL ({request.method}: {path}). Please see "
                "https://stripe.com/docs or we can help at https://support.stripe.com/.",
            )
            return 404, _dumps(error.body()), False
        if call.publishable and not endpoint.publishable:
            return 403, _dumps(StripeError(403, PUBLISHABLE_REFUSED).body()), False
        expand = params.pop("expand", None)
        fingerprint = ""
        use_key = request.method == "POST" and bool(idempotency_key)
        if use_key:
            assert idempotency_key is not None
            fingerprint = json.dumps([request.method, path, params], sort_keys=True)
            stored = self._idempotency.get((api_key, idempotency_key))
            if stored is not None:
                if stored[0] != fingerprint:
                    error = StripeError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters "
                        "they were first used with. Try using a key other than "
                        f"'{idempotency_key}' if you meant to execute a different request.",
                        type="idempotency_error",
                    )
                    return 400, _dumps(error.body()), False
                return stored[1], stored[2], True
        call = Call(
            livemode=call.livemode,
            publishable=call.publishable,
            request_id=request_id,
            idempotency_key=idempotency_key,
            base_url=call.base_url,
        )
        url = path
        keep = True
        try:
            result = endpoint.handler(self.store, call, params, args, url)
            body = _dumps(self._expand(result, expand))
            status = 200
        except StripeError as error:
            status, body, keep = error.status, _dumps(error.body()), error.kept
        if use_key and keep:
            assert idempotency_key is not None
            self._idempotency[(api_key, idempotency_key)] = (fingerprint, status, body)
        return status, body, False

    def _resolve(self, method: str, path: str) -> tuple[Endpoint | None, tuple[str, ...]]:
        for endpoint in self.endpoints:
            if endpoint.method != method:
                continue
            match = endpoint.pattern.match(path)
            if match:
                return endpoint, match.groups()
        return None, ()

    def _expand(self, result: JSON, expand: Any) -> JSON:
        """A copy of ``result`` with the ids named in ``expand[]`` (``a.b`` paths; ``data.`` for a
        list's items) replaced by their objects."""
        result = copy.deepcopy(result)
        if not isinstance(expand, list):
            return result
        for path in expand:
            if isinstance(path, str):
                self._expand_path(result, path.split("."))
        return result

    def _expand_path(self, node: Any, parts: list[str]) -> None:
        if not parts:
            return
        head, rest = parts[0], parts[1:]
        if isinstance(node, dict) and node.get("object") == "list" and head == "data":
            for item in node["data"]:
                self._expand_path(item, rest)
            return
        if not isinstance(node, dict) or head not in node:
            return
        value = node[head]
        if isinstance(value, str) and value in self.store.objects:
            node[head] = value = copy.deepcopy(self.store.objects[value])
        self._expand_path(value, rest)

    def _record(self, record: JSON) -> None:
        self._sequence += 1
        record["seq"] = self._sequence
        self.requests.append(record)

    # -- controls ----------------------------------------------------------------------------

    async def control(self, request: Request) -> Response:
        """The ``/_fake/...`` routes (see the package docstring)."""
        path = request.url.path.rstrip("/")
        method = request.method
        if method == "OPTIONS":
            return Response(status_code=204, headers=CORS)
        try:
            params = await _control_params(request)
            call = Call(livemode=False, base_url=str(request.base_url).rstrip("/"))
            result = await self._control(method, path, params, call)
        except StripeError as error:
            return Response(_dumps(error.body()), error.status, CORS, "application/json")
        if isinstance(result, Response):
            return result
        return Response(_dumps(result), 200, CORS, "application/json")

    async def _control(self, method: str, path: str, params: JSON, call: Call) -> Any:
        parts = path.split("/")[2:]  # after "/_fake"
        store = self.store
        if method == "GET" and parts == ["health"]:
            return {"ok": True}
        if method == "POST" and parts == ["reset"]:
            self.reset()
            return {"ok": True}
        if parts == ["requests"]:
            if method == "DELETE":
                self.requests.clear()
                return {"ok": True}
            return {"object": "list", "data": list(self.requests)}
        if parts == ["webhook"]:
            if method == "POST":
                self._configure_webhook(params)
            return self.events.config.public()
        if method == "GET" and parts == ["deliveries"]:
            event = params.get("event")
            attempts = [a for a in self.events.attempts if not event or a["event"] == event]
            return {"object": "list", "data": attempts}
        if method == "POST" and parts == ["drain"]:
            pending = await self.events.drain(_number(params, "timeout", 10.0))
            return {"pending": pending}
        if method == "POST" and len(parts) == 3 and parts[0] == "events" and parts[2] == "deliver":
            ids = [self._event_id(parts[1])]
            return await self._redeliver(ids, params, concurrently_default=False)
        if method == "POST" and parts == ["events", "deliver"]:
            wanted = params.get("events")
            if not isinstance(wanted, list) or not wanted:
                raise invalid("events", "Give the ids of the events to deliver in `events`.")
            ids = [self._event_id(str(e)) for e in wanted]
            return await self._redeliver(ids, params, concurrently_default=True)
        if method == "POST" and len(parts) == 3 and parts[0] == "charges":
            charge = store.objects.get(parts[1])
            if charge is None or charge.get("object") != "charge":
                raise no_such("charge", parts[1], "charge")
            charge_call = Call(livemode=charge["livemode"], base_url=call.base_url)
            if parts[2] == "refund":
                strings = _strings(params)
                reason = choice(strings, "reason", REFUND_REASONS)
                return store.refund(charge, integer(strings, "amount"), reason, {}, charge_call)
            if parts[2] == "dispute":
                return store.open_dispute(parts[1], _strings(params), charge_call)
        if method == "POST" and len(parts) == 3 and parts[0] == "disputes" and parts[2] == "close":
            status = params.get("status") or params.get("outcome")
            if status not in ("won", "lost"):
                raise invalid("status", "status must be won or lost")
            return store.close_dispute(parts[1], str(status), call)
        if (
            len(parts) == 3
            and parts[0] in ("payment_intents", "setup_intents")
            and parts[2] == "authenticate"
            and method == "POST"
        ):
            return self._authenticate_intent(parts[1], params, call)
        if len(parts) == 2 and parts[0] == "three_d_secure":
            if method == "GET":
                return self._challenge_page(parts[1], params)
            return self._answer_challenge(parts[1], params, call)
        raise StripeError(404, f"Unknown control {method} {path}")

    def _authenticate_intent(self, intent_id: str, params: JSON, call: Call) -> JSON:
        result = params.get("result") or params.get("outcome")
        if result not in ("complete", "fail"):
            raise invalid("result", "result must be complete or fail")
        return self.store.authenticate(intent_id, result == "complete", call)

    def _challenge_page(self, intent_id: str, params: JSON) -> Response:
        intent = self.store.objects.get(intent_id)
        if intent is None or intent["object"] not in ("payment_intent", "setup_intent"):
            raise no_such("intent", intent_id, "intent")
        return_url = params.get("return_url")
        page = (STATIC / "challenge.html").read_text()
        page = page.replace("{{intent}}", html.escape(intent_id))
        page = page.replace(
            "{{return_url}}", html.escape(return_url if isinstance(return_url, str) else "")
        )
        return HTMLResponse(page, headers=CORS)

    def _answer_challenge(self, intent_id: str, params: JSON, call: Call) -> Any:
        """The challenge page's buttons: with a ``return_url``, back there as Stripe redirects
        (``payment_intent``, ``payment_intent_client_secret``, ``redirect_status``)."""
        return_url = params.get("return_url")
        if not (isinstance(return_url, str) and return_url.startswith(("http://", "https://"))):
            return self._authenticate_intent(intent_id, params, call)
        try:
            intent = self._authenticate_intent(intent_id, params, call)
        except StripeError:
            intent = self.store.objects.get(intent_id) or {}
        if not intent:
            raise no_such("intent", intent_id, "intent")
        prefix = "payment_intent" if intent["object"] == "payment_intent" else "setup_intent"
        target = urlsplit(return_url)
        query = urlencode(
            [
                *parse_qsl(target.query, keep_blank_values=True),
                (prefix, intent["id"]),
                (f"{prefix}_client_secret", intent["client_secret"]),
                ("redirect_status", "succeeded" if intent["status"] == "succeeded" else "failed"),
            ]
        )
        return RedirectResponse(urlunsplit(target._replace(query=query)), 303)

    def _event_id(self, event_id: str) -> str:
        if event_id not in self.events.events:
            raise no_such("event", event_id, "event")
        return event_id

    async def _redeliver(self, ids: list[str], params: JSON, *, concurrently_default: bool) -> JSON:
        times = int(_number(params, "times", 1))
        concurrently = params.get("concurrently")
        together = (
            concurrently_default if concurrently is None else concurrently in (True, "true", "1")
        )
        attempts = await self.events.redeliver(ids, times, together)
        return {"object": "list", "data": attempts}

    def _configure_webhook(self, params: JSON) -> None:
        config = self.events.config
        if "url" in params:
            url = params["url"]
            if url and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
                raise invalid("url", "url must be an http:// or https:// URL, or null")
            config.url = url or None
        if params.get("secret"):
            config.secret = str(params["secret"])
        if "enabled_events" in params:
            events = params["enabled_events"]
            config.enabled_events = (
                [str(e) for e in events] if isinstance(events, list) else [str(events)]
            )
        if "max_attempts" in params:
            config.max_attempts = max(1, int(_number(params, "max_attempts", 4)))
        if "retry_seconds" in params:
            config.retry_seconds = max(0.0, _number(params, "retry_seconds", 0.5))
        if "timeout_seconds" in params:
            config.timeout_seconds = max(0.1, _number(params, "timeout_seconds", 10.0))

    # -- Stripe.js ---------------------------------------------------------------------------

    async def stripe_js(self, request: Request) -> Response:
        script = (STATIC / "stripe.js").read_bytes()
        return Response(
            script,
            200,
            {"Cache-Control": "no-cache", **CORS},
            "application/javascript; charset=utf-8",
        )


def _number(params: JSON, name: str, default: float) -> float:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise invalid(name, f"{name} must be a number") from None


def _strings(params: JSON) -> JSON:
    """JSON values as the form's strings (``true`` for ``True``)."""
    return {
        k: (str(v).lower() if isinstance(v, bool) else str(v))
        for k, v in params.items()
        if v is not None and not isinstance(v, (dict, list))
    }


async def _control_params(request: Request) -> JSON:
    params = parse_form(request.url.query)
    raw = await request.body()
    if not raw:
        return params
    if "json" in request.headers.get("content-type", ""):
        try:
            body = json.loads(raw)
        except ValueError:
            raise StripeError(400, "The body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise StripeError(400, "The body must be a JSON object.")
        params.update(body)
        return params
    params.update(parse_form(raw.decode("utf-8", "replace")))
    return params


def create_fake_stripe_app(
    *,
    webhook_url: str | None = None,
    webhook_secret: str = "whsec_fake",
    publishable_key: str | None = None,
    max_attempts: int = 4,
    retry_seconds: float = 0.5,
    api_version: str = API_VERSION,
    max_recorded: int = 1000,
) -> Starlette:
    """The fake Stripe as an ASGI app (see the package docstring). The :class:`FakeStripe` is
    ``app.state.fake_stripe``."""
    fake = FakeStripe(
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        publishable_key=publishable_key,
        max_attempts=max_attempts,
        retry_seconds=retry_seconds,
        api_version=api_version,
        max_recorded=max_recorded,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await fake.events.start()
        try:
            yield
        finally:
            await fake.events.stop()

    methods = ["GET", "POST", "DELETE", "OPTIONS"]
    app = Starlette(
        routes=[
            Route("/v3", fake.stripe_js, methods=["GET"]),
            Route("/v3/", fake.stripe_js, methods=["GET"]),
            Route("/_fake/{path:path}", fake.control, methods=methods),
            Route("/v1/{path:path}", fake.api, methods=methods),
        ],
        lifespan=lifespan,
    )
    app.state.fake_stripe = fake
    return app


def run(
    host: str = "127.0.0.1",
    port: int = 12111,
    *,
    webhook_url: str | None = None,
    webhook_secret: str = "whsec_fake",
    publishable_key: str | None = None,
    log_level: str = "warning",
) -> None:
    """Serve the fake Stripe with uvicorn until interrupted."""
    import uvicorn

    app = create_fake_stripe_app(
        webhook_url=webhook_url, webhook_secret=webhook_secret, publishable_key=publishable_key
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
