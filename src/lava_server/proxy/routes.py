"""`/v1/forward`: take a provider API call, bill it to a wallet, relay the provider's answer.

A raw ASGI endpoint rather than a FastAPI route: the answer is relayed chunk by chunk as it
arrives, the client's disconnect is watched while a stream runs, and the hot path stays free of
dependency injection and response models. The steps (`docs/forward-proxy.md`):

1. resolve and check the upstream URL (`proxy.upstream.resolve_forward`): 400, nothing sent;
2. the forward token, the provider key and the metadata (`proxy.credentials`): 400/401; or a
   spend key (`lava_sk_`, `spend_keys.allowance`): 401 unknown, 403 paused, expired, or a model
   or provider outside its allowlists;
3. reserve the worst case (`proxy.billing.reserve`): 401/403/404 for the secrets, 402;
4. send upstream (`proxy.client`): 502/504 and the hold released when there is no answer;
5. a 3xx/4xx/5xx answer is relayed as it is and the hold released (no charge, status `error`);
6. a 2xx answer is relayed chunk by chunk while its usage is read (`proxy.usage`); the response
   is completed for the client first and settled right after, so the client never waits for the
   bill. A stream that breaks off (the provider dropped, went idle, or the client left) is billed
   for what was used, never less than its input, with status `error`; a provider's drop is passed
   on to the client as a dropped connection.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Any, Final

import orjson
from starlette.types import Message, Receive, Scope, Send

from lava_server.api.context import read_body, state_of
from lava_server.api.token_buckets import TokenBuckets
from lava_server.db.engine import Database
from lava_server.errors import (
    ApiError,
    InvalidRequest,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    error_response,
    note_failed_auth,
)
from lava_server.metadata import check_metadata
from lava_server.metering.forward import Call, ForwardBilling, ForwardToken, Reservation
from lava_server.metrics import (
    FORWARD_CALLS,
    FORWARD_TTFB,
    FORWARD_UPSTREAM,
    HOLDS_IN_FLIGHT,
    RATE_LIMIT_REFUSALS,
    cached_children,
)
from lava_server.model_prices.book import ModelPricing, PriceBook
from lava_server.proxy.client import (
    UpstreamBroken,
    UpstreamClient,
    UpstreamNoAnswer,
    UpstreamResponse,
    UpstreamUnreachable,
)
from lava_server.proxy.credentials import (
    MANAGED,
    ProviderKeys,
    auth_header,
    decode_token,
    find_token,
    provider_key_for,
)
from lava_server.proxy.headers import client_headers, upstream_headers
from lava_server.proxy.upstream import (
    UpstreamTarget,
    UpstreamURLError,
    origins_from_env,
    resolve_forward,
)
from lava_server.proxy.usage import (
    Usage,
    UsageChunkFilter,
    add_stream_usage_option,
    detect_api,
    estimate_hold_usage,
    gemini_model_from_path,
    make_response_parser,
    multipart_field,
    warm_up,
)
from lava_server.settings import Settings
from lava_server.spend_keys.allowance import Grant, Grants, check_target, is_spend_key
from lava_server.timeutil import utcnow
from lava_server.untrusted import NUL, UntrustedJSONError, parse_json

log = logging.getLogger("lava_server.proxy")

FORWARD_PATH: Final = "/v1/forward"
METHODS: Final = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_PREFIX_LENGTH: Final = len(FORWARD_PATH)
_METADATA_HEADER: Final = b"x-lava-metadata"
_KEEP_TARGETS: Final = 4096
_BODY_END: Final[Message] = {"type": "http.response.body", "body": b"", "more_body": False}
_calls = cached_children(FORWARD_CALLS)
_ttfb = cached_children(FORWARD_TTFB)
_upstream = cached_children(FORWARD_UPSTREAM)
_SPEND_KEY_REFUSALS = RATE_LIMIT_REFUSALS.labels("spend_key")


class AbortConnection(Exception):
    """Raised after the answer has begun to make the server drop the client's connection: the
    provider dropped ours, and a clean end would tell the client its answer was complete."""


class ForwardProxy:
    """The `/v1/forward` endpoint of one server process, with its upstream client."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        prices: PriceBook,
        *,
        process_id: str | None = None,
    ) -> None:
        """`process_id`: this process's `ProcessHeartbeat` id, stamped on its calls."""
        self.settings = settings
        self.prices = prices
        self.process_id = process_id
        self.origins = origins_from_env(Settings.family_env())
        self.keys = ProviderKeys(Settings.prefixed_env("PROVIDER_KEY"))
        self.db = db
        self.billing = ForwardBilling(db, settings, prices)
        self.client = UpstreamClient(
            connect_timeout=settings.upstream_connect_timeout,
            first_byte_timeout=settings.upstream_first_byte_timeout,
            idle_timeout=settings.upstream_idle_timeout,
        )
        # Spend keys' rate limits: shared by every process through Redis when it is set.
        self.buckets = TokenBuckets(redis_url=settings.redis_url)
        self.grants = Grants(db)
        warm_up()
        self._background: set[asyncio.Task[Any]] = set()
        self._targets: dict[tuple[bytes, bytes], UpstreamTarget] = {}

    async def aclose(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.client.aclose()
        await self.billing.aclose()
        await self.buckets.aclose()

    async def _take_token(self, grant: Grant) -> None:
        """429 with `Retry-After` when the key's token bucket is empty (nothing reserved yet)."""
        assert grant.rate_limit_rpm is not None
        decision = await self.buckets.take(
            grant.key_id, grant.rate_limit_rpm, grant.rate_limit_burst
        )
        if not decision.allowed:
            _SPEND_KEY_REFUSALS.inc()
            raise RateLimited(
                f"The spend key {grant.key_id} allows {grant.rate_limit_rpm} calls a minute "
                f"(bursts of {decision.limit}); try again in {decision.retry_after} s.",
                param="rate_limit",
                headers=decision.headers(),
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._forward(scope, receive, send)
        except ApiError as error:
            note_failed_auth(scope, error)
            response = error_response(
                error.status, error.code, error.message, error.param, error.headers
            )
            await response(scope, receive, send)

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        target = self._target(scope["query_string"], raw_path[_PREFIX_LENGTH:])
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        header_map = dict(headers)
        raw_token = find_token(header_map, target.key)
        grant: Grant | None = None
        if is_spend_key(raw_token):
            grant = await self.grants.authorize(raw_token, utcnow())
            token = ForwardToken.of_spend_key(grant)
        else:
            token = decode_token(raw_token)
        metadata = _metadata(header_map.get(_METADATA_HEADER), target.metadata)
        provider = target.provider
        key, key_type = provider_key_for(token, provider, self.keys)
        body = await read_body(receive)
        if body is None:
            return  # the client left before sending its request
        body_json = _json_object(body)
        method: str = scope["method"]
        api = detect_api(provider.family, target.path)
        if api == "unknown" and key_type == MANAGED and method != "GET":
            raise InvalidRequest(
                f"{method} {target.path} is not a metered {provider.name} API; with the "
                "operator's managed key only metered APIs (and GET) are forwarded.",
                param="u",
            )
        model = body_json.get("model") if body_json is not None else None
        if api == "elevenlabs_tts" and body_json is not None:
            model = body_json.get("model_id")
        elif api == "openai_transcription" and body_json is None:
            content_type = header_map.get(b"content-type", b"").decode("latin-1")
            model = multipart_field(body, content_type, "model")
        if isinstance(model, str) and NUL in model:
            raise InvalidRequest("model must not contain NUL characters (\\u0000).", param="model")
        if not isinstance(model, str) or not model:
            model = gemini_model_from_path(target.path) if api == "gemini_generate" else None
        if grant is not None:
            check_target(grant, provider.name, model)
            if grant.rate_limit_rpm is not None:
                await self._take_token(grant)
        metering_only = not token.bills_customer and token.provider_key is not None
        pricing = self._pricing(api, method, provider.name, model, metering_only=metering_only)
        usage_filter: UsageChunkFilter | None = None
        if api == "chat_completions" and body_json is not None:
            rewritten = add_stream_usage_option(body, body_json, provider=provider.name)
            if rewritten is not None:
                body, usage_filter = rewritten, UsageChunkFilter()
        worst = estimate_hold_usage(
            api, provider.family, body_json, model, provider=provider.name, price_book=self.prices
        )
        request_id: str = state_of(scope)["request_id"]
        call = Call(
            request_id=request_id,
            provider=provider.name,
            provider_key_type=key_type,
            endpoint=f"{method} {target.path}"[:512],
            model=model[:255] if model else None,
            pricing=pricing,
            metadata=metadata,
            worst_case=worst,
            process_id=self.process_id,
        )
        reservation = await self.billing.reserve(token, call)
        HOLDS_IN_FLIGHT.inc()
        try:
            sent = time.perf_counter()
            try:
                response = await self.client.send(
                    method,
                    target.url,
                    upstream_headers(headers, auth_header(provider.family, key)),
                    body if body or method not in ("GET", "DELETE") else None,
                )
            except UpstreamNoAnswer as error:
                _calls(provider.name, "timeout").inc()
                await self.billing.release(reservation)
                raise UpstreamTimeout(error.message) from None
            except UpstreamUnreachable as error:
                _calls(provider.name, "unreachable").inc()
                await self.billing.release(reservation)
                raise UpstreamError(error.message) from None
            except BaseException:
                self._close_later(reservation, None)
                raise
            _ttfb(provider.name).observe(time.perf_counter() - sent)
            if response.status >= 300:
                await self._relay_refusal(response, reservation, send)
                _calls(provider.name, "refused").inc()
                _upstream(provider.name).observe(time.perf_counter() - sent)
                return
            parser = make_response_parser(
                api, body_json, response.headers, model=model, path=target.path
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": client_headers(
                        response.raw_headers, keep_length=usage_filter is None
                    ),
                }
            )
            streamed = "content-length" not in response.headers
            watch = _DisconnectWatch(receive, response) if streamed else None
            broken: UpstreamBroken | None = None
            try:
                try:
                    async for chunk in response.chunks():
                        parser.feed(chunk)
                        out = usage_filter.feed(chunk) if usage_filter is not None else chunk
                        if out:
                            await send(
                                {"type": "http.response.body", "body": out, "more_body": True}
                            )
                    if usage_filter is not None:
                        tail = usage_filter.close()
                        if tail:
                            await send(
                                {"type": "http.response.body", "body": tail, "more_body": True}
                            )
                except UpstreamBroken as error:
                    broken = error
                finally:
                    if watch is not None:
                        watch.stop()
                complete = broken is None and not (watch is not None and watch.disconnected)
                if complete:
                    await send(_BODY_END)
                    response.release()
                else:
                    response.close()
                usage = parser.finish(complete=complete)
            except BaseException:
                response.close()
                self._close_later(reservation, worst)
                raise
            _upstream(provider.name).observe(time.perf_counter() - sent)
            if not complete or parser.error is not None:
                usage = _at_least_input(usage, worst)
            outcome = "completed" if complete and not parser.error else "error"
            _calls(provider.name, outcome).inc()
            await self.billing.settle(reservation, usage, status=outcome)
            if broken is not None and not (watch is not None and watch.disconnected):
                raise AbortConnection(broken.message)
        finally:
            HOLDS_IN_FLIGHT.dec()

    def _pricing(
        self,
        api: str,
        method: str,
        provider: str,
        model: str | None,
        *,
        metering_only: bool,
    ) -> ModelPricing:
        """The model's prices, or what `LAVA_UNKNOWN_MODEL` says for a model without one (a 400
        before anything is held or sent under `refuse`). Only the calls that can be billed, POSTs
        to a metered API, are held to the rule; a metering-only token (no wallet is billed, the
        merchant's own key pays the provider, and no customer is billed) is never refused."""
        if api == "unknown" or method != "POST":
            return ModelPricing(provider, model or "", "unknown")
        rule = self.settings.unknown_model
        if metering_only and rule == "refuse":
            rule = "free"
        return self.prices.billed_price(provider, model, rule)

    def _target(self, query: bytes, path: bytes) -> UpstreamTarget:
        """`resolve_forward`, remembered: an app sends the same few URLs over and over. Targets
        that carry a forward token (`key=` in the query) are not kept."""
        found = self._targets.get((query, path))
        if found is not None:
            return found
        try:
            target = resolve_forward(
                query.decode("latin-1"), path.decode("latin-1"), origins=self.origins
            )
        except UpstreamURLError as error:
            raise InvalidRequest(error.message, param=error.param) from None
        if target.key is None:
            if len(self._targets) >= _KEEP_TARGETS:
                self._targets.clear()
            self._targets[(query, path)] = target
        return target

    async def _relay_refusal(
        self, response: UpstreamResponse, reservation: Reservation, send: Send
    ) -> None:
        """A provider's error (or redirect) before any byte: relayed as it is, nothing charged."""
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": client_headers(response.raw_headers, keep_length=True),
                }
            )
            try:
                async for chunk in response.chunks():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except UpstreamBroken as error:
                response.close()
                raise AbortConnection(error.message) from None
            await send(_BODY_END)
            response.release()
        finally:
            await self.billing.release(reservation)

    def _close_later(self, reservation: Reservation, worst: Usage | None) -> None:
        """Close a reservation from a task of its own (this one is being cancelled): release it
        when nothing was sent, else bill the input of the call."""

        async def close() -> None:
            if worst is None:
                await self.billing.release(reservation)
            else:
                usage = dataclasses.replace(worst, output_tokens=0, estimated=True)
                await self.billing.settle(reservation, usage, status="error")

        task = asyncio.get_running_loop().create_task(close())
        self._background.add(task)
        task.add_done_callback(self._background.discard)


class _DisconnectWatch:
    """Watches for the client leaving while a stream is relayed; then drops the upstream
    connection, which ends the relay and makes the provider stop generating."""

    __slots__ = ("_task", "disconnected")

    def __init__(self, receive: Receive, response: UpstreamResponse) -> None:
        self.disconnected = False

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    self.disconnected = True
                    response.close()
                    return

        self._task = asyncio.get_running_loop().create_task(watch())

    def stop(self) -> None:
        self._task.cancel()


def _json_object(body: bytes) -> dict[str, Any] | None:
    if not body or body.lstrip()[:1] != b"{":
        return None
    try:
        value = orjson.loads(body)
    except ValueError:  # orjson's JSONDecodeError is one
        return None
    return value if isinstance(value, dict) else None


def _metadata(header: bytes | None, query: str | None) -> dict[str, str]:
    """`x-lava-metadata` (or the `metadata` query parameter): a JSON object of string pairs."""
    if header is not None:
        param = "x-lava-metadata"
        try:
            raw: str | None = header.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest(f"{param} must be UTF-8 JSON.", param=param) from None
    else:
        param, raw = "metadata", query
    if raw is None:
        return {}
    problem = f"{param} must be a JSON object of string keys and string values"
    try:
        value = parse_json(raw)
    except UntrustedJSONError as error:
        raise InvalidRequest(f"{param}: {error}.", param=param) from None
    except ValueError:
        raise InvalidRequest(f"{problem}.", param=param) from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidRequest(f"{problem}.", param=param)
    try:
        return check_metadata(value)
    except ValueError as error:
        raise InvalidRequest(f"{param}: {error}.", param=param) from None


def _at_least_input(usage: Usage, worst: Usage) -> Usage:
    """A call that broke off is billed at least its input (`docs/forward-proxy.md`)."""
    if usage.input_tokens or usage.input_characters or usage.input_seconds:
        return usage
    return dataclasses.replace(
        usage,
        input_tokens=worst.input_tokens,
        input_characters=worst.input_characters,
        estimated=True,
    )
