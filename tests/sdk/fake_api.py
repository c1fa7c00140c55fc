"""An in-memory stand-in for the Lava API, speaking its wire format (docs/api.md), for SDK tests.

It is the "server" of the contract tests until the real one exists: an ``httpx`` handler, so it
runs behind ``httpx.MockTransport`` or, through ``http_server.serve``, over real HTTP. It checks
what a client must send (auth, version header, JSON bodies, query encodings) and answers with the
documented shapes, status codes and error bodies.
"""

from __future__ import annotations

import itertools
import json
import threading
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx

from . import payloads

SUPPORTED_VERSIONS = ("2025-03-27.v1", "2025-04-21.v1", "2025-04-28.v1")
TEN_PLACES = Decimal("0.0000000001")
FEE_PER_TOKEN = Decimal("0.000001")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.param = status, code, message, param


def money(value: Decimal) -> str:
    return format(value.quantize(TEN_PLACES), "f")


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_time(text: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "invalid_request", f"{name} must be an ISO 8601 timestamp", name)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class FakeLavaAPI:
    """One sandbox merchant and its objects, in memory."""

    def __init__(self, secret_key: str = "aks_test_sdk_contract") -> None:
        self.secret_key = secret_key
        self.merchant_id = "mer_test_01FAKEMERCHANT"
        self.received: list[httpx.Request] = []
        self.checkout_sessions: dict[str, dict[str, Any]] = {}
        self.connections: dict[str, dict[str, Any]] = {}
        self.deleted_connection_secrets: set[str] = set()
        self.products: dict[str, str] = {}  # product secret -> product id
        self.requests: dict[str, dict[str, Any]] = {}
        self.configs: dict[str, dict[str, Any]] = {}
        self.active_subscriptions: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, tuple[str, str, httpx.Response]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # -- seeding (what the public API cannot create) --------------------------------------------

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_test_01FAKE{next(self._ids):010d}"

    def add_connection(self, reference_id: str | None = None) -> dict[str, Any]:
        connection = payloads.connection(
            connection_id=self.new_id("con"),
            connection_secret=self.new_id("cons"),
            reference_id=reference_id,
            created_at=now_iso(),
        )
        if reference_id is None:
            del connection["reference_id"]
        self.connections[connection["connection_id"]] = connection
        return connection

    def add_product(self) -> tuple[str, str]:
        product_id, product_secret = self.new_id("prd"), self.new_id("ps")
        self.products[product_secret] = product_id
        return product_id, product_secret

    def add_active_subscription(self, subscription_config_id: str, connection_id: str) -> str:
        config = self.configs[subscription_config_id]
        connection = self.connections[connection_id]
        subscription = payloads.active_subscription(
            active_subscription_id=self.new_id("as"),
            wallet_id=self.new_id("wal"),
            subscription_config_id=subscription_config_id,
            started_at=now_iso(),
            billing_anchor=datetime.now(timezone.utc).day,
            created_at=now_iso(),
            subscription_config=config,
        )
        subscription["wallet"].update(
            wallet_id=subscription["wallet_id"], active_balance=connection["wallet"]["balance"]
        )
        self.active_subscriptions[subscription["active_subscription_id"]] = subscription
        return str(subscription["active_subscription_id"])

    # -- HTTP ---------------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        with self._lock:
            self.received.append(request)
            request_id = self.new_id("req")
            try:
                response = self._handle(request)
            except ApiError as exc:
                error = payloads.error(exc.status, exc.code, exc.message)
                if exc.param:
                    error["error"]["param"] = exc.param
                response = httpx.Response(exc.status, json=error)
        response.headers["x-lava-request-id"] = request_id
        return response

    def _handle(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {self.secret_key}":
            raise ApiError(401, "unauthorized", "Missing or unknown secret key")
        version = request.headers.get("x-lava-api-version")
        if version is not None and version not in SUPPORTED_VERSIONS:
            raise ApiError(
                400,
                "invalid_request",
                f"Unknown API version {version}; supported: {', '.join(SUPPORTED_VERSIONS)}",
            )
        path = request.url.path
        if not path.startswith("/v1/"):
            raise ApiError(404, "not_found", f"No route {path}")
        route = path.removeprefix("/v1/")
        body: dict[str, Any] = {}
        if request.content:
            try:
                body = json.loads(request.content)
            except ValueError:
                raise ApiError(400, "invalid_request", "Body is not JSON")
        if request.method == "POST" and (key := request.headers.get("idempotency-key")):
            canonical = json.dumps(body, sort_keys=True)
            if key in self.idempotency:
                stored_route, stored_body, stored = self.idempotency[key]
                if (stored_route, stored_body) != (route, canonical):
                    raise ApiError(409, "conflict", "Idempotency-Key reused with another body")
                return httpx.Response(stored.status_code, content=stored.content)
            response = self._route(request.method, route, request.url.params, body)
            self.idempotency[key] = (route, canonical, response)
            return response
        return self._route(request.method, route, request.url.params, body)

    def _route(
        self, method: str, route: str, query: httpx.QueryParams, body: dict[str, Any]
    ) -> httpx.Response:
        parts = route.split("/")
        match method, parts:
            case "POST", ["checkout_sessions"]:
                return self.create_checkout_session(body)
            case "GET", ["checkout_sessions"]:
                return self.list_page(self.checkout_sessions, query, ("reference_id",))
            case "GET", ["checkout_sessions", object_id]:
                return ok(self.get(self.checkout_sessions, object_id, "Checkout session"))
            case "GET", ["connections"]:
                return self.list_page(self.connections, query, ("reference_id",))
            case "GET", ["connections", object_id]:
                return ok(self.get(self.connections, object_id, "Connection"))
            case "DELETE", ["connections", object_id]:
                connection = self.connections.pop(self.id_in(self.connections, object_id))
                self.deleted_connection_secrets.add(connection["connection_secret"])
                return ok({"success": True})
            case "GET", ["requests"]:
                filters = self.metadata_filters(query)
                return self.list_page(
                    self.requests,
                    query,
                    ("connection_id", "product_id"),
                    lambda r: all(r["metadata"].get(k) == v for k, v in filters),
                )
            case "POST", ["requests"]:
                return self.create_request(body)
            case "GET", ["requests", object_id]:
                return ok(self.get(self.requests, object_id, "Request"))
            case "GET", ["usage"]:
                return self.usage(query)
            case "GET", ["subscription-configs"]:
                return ok(list(self.configs.values()))
            case "POST", ["subscription-configs"]:
                return self.create_config(body)
            case "PUT", ["subscription-configs", object_id]:
                return self.update_config(object_id, body)
            case "DELETE", ["subscription-configs", object_id]:
                config_id = self.id_in(self.configs, object_id)
                if any(
                    s["subscription_config_id"] == config_id and s["status"] == "active"
                    for s in self.active_subscriptions.values()
                ):
                    raise ApiError(409, "conflict", "Active subscriptions use this config")
                del self.configs[config_id]
                return ok({"success": True})
            case "GET", ["active-subscriptions"]:
                return ok(list(self.active_subscriptions.values()))
            case "DELETE", ["active-subscriptions", object_id]:
                # Cancelling takes effect at the end of the cycle (docs/current-api.md
                # #subscriptions): the subscription stays active until then.
                self.get(self.active_subscriptions, object_id, "Subscription")
                return ok({"success": True})
        raise ApiError(404, "not_found", f"No route {method} /v1/{route}")

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def id_in(store: dict[str, dict[str, Any]], object_id: str) -> str:
        if object_id not in store:
            raise ApiError(404, "not_found", f"{object_id} not found")
        return object_id

    def get(self, store: dict[str, dict[str, Any]], object_id: str, kind: str) -> dict[str, Any]:
        if object_id not in store:
            raise ApiError(404, "not_found", f"{kind} {object_id} not found")
        return store[object_id]

    def list_page(
        self,
        store: dict[str, dict[str, Any]],
        query: httpx.QueryParams,
        filters: tuple[str, ...],
        keep: Any = None,
    ) -> httpx.Response:
        try:
            limit = int(query.get("limit", "10"))
        except ValueError:
            raise ApiError(400, "invalid_request", "limit must be an integer", "limit")
        if not 1 <= limit <= 100:
            raise ApiError(400, "invalid_request", "limit must be between 1 and 100", "limit")
        entries = list(reversed(store.items()))  # newest first
        for name in filters:
            if (wanted := query.get(name)) is not None:
                entries = [(i, item) for i, item in entries if item.get(name) == wanted]
        if keep is not None:
            entries = [(i, item) for i, item in entries if keep(item)]
        if (cursor := query.get("cursor")) is not None:
            ids = [object_id for object_id, _ in entries]
            if cursor not in ids:
                raise ApiError(400, "invalid_request", "Malformed cursor", "cursor")
            entries = entries[ids.index(cursor) + 1 :]
        chunk, has_more = entries[:limit], len(entries) > limit
        next_cursor = chunk[-1][0] if has_more else None
        return ok(payloads.page([item for _, item in chunk], next_cursor))

    @staticmethod
    def metadata_filters(query: httpx.QueryParams) -> list[tuple[str, str]]:
        raw = query.get("metadata_filters")
        if raw is None:
            return []
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            parsed = list(parsed.items())
        if not isinstance(parsed, list) or not all(
            isinstance(p, list | tuple) and len(p) == 2 and all(isinstance(x, str) for x in p)
            for p in parsed
        ):
            raise ApiError(400, "invalid_request", "metadata_filters must be a JSON array of pairs")
        return [(k, v) for k, v in parsed]

    @staticmethod
    def require(body: dict[str, Any], *names: str) -> None:
        for name in names:
            if not isinstance(body.get(name), str) or not body[name]:
                raise ApiError(400, "invalid_request", f"{name} is required", name)

    def create_checkout_session(self, body: dict[str, Any]) -> httpx.Response:
        self.require(body, "checkout_mode", "origin_url")
        mode = body["checkout_mode"]
        if mode not in ("onboarding", "topup", "subscription"):
            raise ApiError(400, "invalid_request", "Unknown checkout_mode", "checkout_mode")
        if mode == "topup":
            self.require(body, "connection_id")
            self.get(self.connections, body["connection_id"], "Connection")
        if mode == "subscription":
            self.require(body, "subscription_config_id")
            self.get(self.configs, body["subscription_config_id"], "Subscription config")
        session = {
            "checkout_session_id": self.new_id("cs"),
            "checkout_session_token": self.new_id("css"),
            "checkout_mode": mode,
            "origin_url": body["origin_url"],
            **{
                name: body[name]
                for name in ("connection_id", "reference_id", "subscription_config_id")
                if name in body
            },
            "created_at": now_iso(),
        }
        self.checkout_sessions[session["checkout_session_id"]] = session
        return ok(session, 201)

    def create_request(self, body: dict[str, Any]) -> httpx.Response:
        self.require(body, "request_id", "connection_secret", "product_secret")
        counts = {
            name: body.get(name, 0)
            for name in (
                "input_tokens",
                "output_tokens",
                "input_characters",
                "output_characters",
                "input_seconds",
                "output_seconds",
            )
        }
        for name, value in counts.items():
            if not isinstance(value, int) or value < 0:
                raise ApiError(400, "invalid_request", f"{name} must be an integer >= 0", name)
        if existing := self.requests.get(body["request_id"]):
            usage = existing["model_usage"]
            if any(usage[name] != value for name, value in counts.items()):
                raise ApiError(409, "conflict", "request_id reused with other counts")
            return ok(existing, 200)
        connection = next(
            (
                c
                for c in self.connections.values()
                if c["connection_secret"] == body["connection_secret"]
            ),
            None,
        )
        if connection is None:
            raise ApiError(401, "unauthorized", "Unknown or revoked connection secret")
        product_id = self.products.get(body["product_secret"])
        if product_id is None:
            raise ApiError(404, "not_found", "Unknown product secret", "product_secret")
        tokens = counts["input_tokens"] + counts["output_tokens"]
        fee = FEE_PER_TOKEN * tokens
        zero = money(Decimal(0))
        record = payloads.request(
            request_id=body["request_id"],
            connection_id=connection["connection_id"],
            product_id=product_id,
            provider="merchant",
            provider_key_type="unmanaged",
            endpoint="POST /v1/requests",
            model_usage={
                **counts,
                "total_tokens": tokens,
                "total_characters": counts["input_characters"] + counts["output_characters"],
                "total_seconds": counts["input_seconds"] + counts["output_seconds"],
                "input_cost": zero,
                "output_cost": zero,
                "total_cost": zero,
                "payer": "wallet",
            },
            fee={
                "amount": money(fee),
                "rate_type": "fixed",
                "token_basis": "input+output",
                "breakdown": [
                    {
                        "tier": {"start": 0, "rate": money(Decimal(1)), "type": "tokens_1m"},
                        "tokens": tokens,
                        "characters": 0,
                        "seconds": 0,
                        "cost": money(fee),
                    }
                ],
            },
            service_charge={"amount": zero, "payer": "merchant"},
            total_request_cost=money(fee),
            total_wallet_cost=money(fee),
            total_merchant_cost=zero,
            metadata=dict(body.get("metadata") or {}),
            created_at=now_iso(),
        )
        for optional in ("model", "response_id", "timestamp"):
            del record[optional]
        balance = Decimal(connection["wallet"]["balance"]) - fee
        connection["wallet"]["balance"] = money(balance)
        self.requests[record["request_id"]] = record
        return ok(record, 201)

    def usage(self, query: httpx.QueryParams) -> httpx.Response:
        if "start" not in query:
            raise ApiError(400, "invalid_request", "start is required", "start")
        start = parse_time(query["start"], "start")
        end = parse_time(query["end"], "end") if "end" in query else datetime.now(timezone.utc)
        if end < start or end - start > timedelta(days=366):
            raise ApiError(400, "invalid_request", "end must follow start within 366 days", "end")
        filters = self.metadata_filters(query)
        tz = start.tzinfo
        chosen = [
            r
            for r in self.requests.values()
            if r["status"] == "completed"
            and all(r.get(n) == query[n] for n in ("connection_id", "product_id") if n in query)
            and all(r["metadata"].get(k) == v for k, v in filters)
            and start <= parse_time(r["created_at"], "created_at") <= end
        ]
        items = []
        day: date = start.astimezone(tz).date()
        while day <= end.astimezone(tz).date():
            day_start = datetime(day.year, day.month, day.day, tzinfo=tz)
            day_end = day_start + timedelta(days=1)
            todays = [
                r
                for r in chosen
                if day_start <= parse_time(r["created_at"], "created_at").astimezone(tz) < day_end
            ]
            items.append(
                {
                    "date": day.isoformat(),
                    "start": day_start.isoformat(),
                    "end": day_end.isoformat(),
                    **sums(todays),
                }
            )
            day += timedelta(days=1)
        return ok({"items": items, "totals": sums(chosen)})

    def create_config(self, body: dict[str, Any]) -> httpx.Response:
        self.require(body, "name", "period_amount", "rollover_type")
        config = {
            "subscription_config_id": self.new_id("sc"),
            "merchant_id": self.merchant_id,
            "name": body["name"],
            "period_amount": money(self.period_amount(body["period_amount"])),
            "rollover_type": self.rollover_type(body["rollover_type"]),
            "created_at": now_iso(),
        }
        self.configs[config["subscription_config_id"]] = config
        return ok(config, 201)

    def update_config(self, object_id: str, body: dict[str, Any]) -> httpx.Response:
        config = self.get(self.configs, object_id, "Subscription config")
        if "name" in body:
            config["name"] = body["name"]
        if "period_amount" in body:
            config["period_amount"] = money(self.period_amount(body["period_amount"]))
        if "rollover_type" in body:
            config["rollover_type"] = self.rollover_type(body["rollover_type"])
        return ok(config)

    @staticmethod
    def period_amount(value: object) -> Decimal:
        try:
            amount = Decimal(str(value)) if isinstance(value, str) else None
        except ArithmeticError:
            amount = None
        if amount is None or not Decimal(0) < amount <= Decimal(10000):
            raise ApiError(
                400,
                "invalid_request",
                "period_amount must be a decimal string in (0, 10000]",
                "period_amount",
            )
        return amount

    @staticmethod
    def rollover_type(value: object) -> str:
        if value not in ("full", "none"):
            raise ApiError(400, "invalid_request", "rollover_type must be full or none")
        return str(value)


def sums(requests: list[dict[str, Any]]) -> dict[str, Any]:
    def total(get: Any) -> str:
        return money(sum((Decimal(get(r)) for r in requests), Decimal(0)))

    return {
        "total_requests": len(requests),
        "total_usage_tokens": sum(r["model_usage"]["total_tokens"] for r in requests),
        "total_usage_cost": total(lambda r: r["model_usage"]["total_cost"]),
        "total_fee_amount": total(lambda r: r["fee"]["amount"]),
        "total_service_charge_amount": total(lambda r: r["service_charge"]["amount"]),
        "total_request_cost": total(lambda r: r["total_request_cost"]),
        "total_wallet_cost": total(lambda r: r["total_wallet_cost"]),
        "total_merchant_cost": total(lambda r: r["total_merchant_cost"]),
    }


def ok(body: object, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)
