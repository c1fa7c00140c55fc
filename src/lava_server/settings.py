"""Server settings: one pydantic-settings class, read from `LAVA_*` environment variables."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from functools import cached_property
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.exc import ArgumentError

from lava_server.db.engine import async_url
from lava_server.pricing import MAX_AMOUNT

DEFAULT_DATABASE_URL = "sqlite:///./lava.db"


class Settings(BaseSettings):
    """Every setting of the server. Each field `x` is read from the variable `LAVA_X`."""

    model_config = SettingsConfigDict(env_prefix="LAVA_", extra="ignore")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLite (`sqlite:///path`) or PostgreSQL (`postgresql://...`) URL.",
    )
    host: str = Field("127.0.0.1", description="Address `lava serve` listens on.")
    port: int = Field(8787, ge=0, le=65535, description="Port `lava serve` listens on.")
    public_url: str = Field(
        "",
        description="Public base URL of this server (default: http://HOST:PORT/); "
        "used in checkout tokens and printed for clients.",
    )
    service_charge_rate: Decimal = Field(
        Decimal("0.019"), ge=0, le=1, description="Platform service charge, a share of the fee."
    )
    rate_limit_per_minute: int = Field(
        1000, ge=1, description="Requests per minute per secret key on management routes."
    )
    auth_failures_per_minute: int = Field(
        30,
        ge=1,
        description="Failed authentications (bad or revoked secret keys, undecodable forward "
        "tokens) allowed per client address and minute; past it the address gets 429 until "
        "the minute ends.",
    )
    dashboard_sign_in_failures_per_minute: int = Field(
        5,
        ge=1,
        description="Failed dashboard sign-ins allowed per account and minute; past it that "
        "account's sign-in answers 429 until the minute ends.",
    )
    dashboard_sign_in_failures_per_ip_per_minute: int = Field(
        20,
        ge=1,
        description="Failed dashboard sign-ins allowed per client address and minute, whatever "
        "the accounts tried.",
    )
    dashboard_session_hours: int = Field(
        12, ge=1, description="How long a dashboard sign-in lasts before signing in again."
    )
    dashboard_link_minutes: int = Field(
        30, ge=1, description="How long a one-time dashboard sign-in link stays usable."
    )
    redis_url: str = Field(
        "",
        description="Redis URL (`redis://host:6379/0`) to share the rate limit across server "
        "processes; empty: each process counts alone.",
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body accepted on API routes (bytes)."
    )
    max_forward_body_bytes: int = Field(
        33_554_432,
        ge=1024,
        description="Largest request body accepted on /v1/forward (bytes): provider calls carry "
        "images and documents.",
    )
    idempotency_ttl_hours: int = Field(
        24, ge=1, description="How long an Idempotency-Key and its first answer are kept."
    )
    db_pool_size: int = Field(
        20, ge=1, description="Database connections kept open per server process (PostgreSQL)."
    )
    db_pool_timeout_seconds: float = Field(
        10,
        gt=0,
        description="How long a request waits for a free database connection when all are busy "
        "(PostgreSQL); then it is answered 503 `database_unavailable`.",
    )
    checkout_session_ttl_hours: int = Field(
        24, ge=1, le=24 * 30, description="How long a checkout session can be completed."
    )
    checkout_min_amount: Decimal = Field(
        Decimal("1.00"), gt=0, description="Smallest amount (USD) a checkout or autopay adds."
    )
    checkout_max_amount: Decimal = Field(
        Decimal("10000.00"),
        gt=0,
        le=MAX_AMOUNT,
        description="Largest amount (USD) a checkout or autopay adds.",
    )
    payment_provider: Literal["sandbox", "stripe"] = Field(
        "sandbox",
        description="Payment provider of live objects (sandbox ones always use sandbox): "
        "`sandbox` means none, and live mode is not configured.",
    )
    stripe_secret_key: str = Field(
        "",
        description="Stripe secret key (payment_provider=stripe); only a live key (sk_live_, "
        "rk_live_) serves live objects.",
    )
    code_sender_live: str = Field(
        "",
        pattern=r"^((twilio|smtp)(,(twilio|smtp))?)?$",
        description="What sends the one-time codes of live checkouts: `twilio` (SMS), `smtp` "
        "(email) or `twilio,smtp` (the customer chooses); empty: none, and live mode is not "
        "configured.",
    )
    code_sender_sandbox: str = Field(
        "log",
        pattern=r"^(log|(twilio|smtp)(,(twilio|smtp))?)$",
        description="What sends the one-time codes of sandbox checkouts: `log` (the server log "
        "and the page show them), or `twilio`, `smtp`, `twilio,smtp` to try a real sender.",
    )
    code_log_channels: str = Field(
        "phone",
        pattern=r"^(phone|email|phone,email|email,phone)$",
        description="Where the `log` sender pretends to send sandbox codes: `phone`, `email`, "
        "or `phone,email` (the sandbox page then lets the customer choose).",
    )
    twilio_account_sid: str = Field(
        "", description="Twilio account SID (`AC...`), for codes by SMS."
    )
    twilio_auth_token: str = Field("", description="Twilio auth token of that account.")
    twilio_from: str = Field(
        "",
        description="Sender of the SMS codes: a Twilio phone number (E.164, `+1...`) or a "
        "Messaging Service SID (`MG...`).",
    )
    twilio_base_url: str = Field(
        "https://api.twilio.com",
        description="Base URL of Twilio's REST API (a fake Twilio's in tests and demos).",
    )
    smtp_url: str = Field(
        "",
        description="SMTP server for codes by email: `smtp://user:pass@host:587` (STARTTLS when "
        "the server offers it) or `smtps://user:pass@host:465` (TLS from the start).",
    )
    smtp_from: str = Field("", description="From address of the emailed codes.")
    code_sends_per_hour: int = Field(
        5, ge=1, description="One-time codes sent to one phone number or email address per hour."
    )
    code_sends_per_client_per_hour: int = Field(
        20, ge=1, description="One-time codes one client address may have sent per hour."
    )
    stripe_publishable_key: str = Field(
        "",
        description="Stripe publishable key (pk_live_/pk_test_) the checkout page gives "
        "Stripe.js; the same mode as stripe_secret_key.",
    )
    stripe_webhook_secret: str = Field(
        "",
        description="Signing secret (whsec_...) of the Stripe webhook endpoint "
        "`https://<public>/v1/stripe/webhook`.",
    )
    stripe_api_base: str = Field(
        "https://api.stripe.com",
        description="Stripe's API address, without /v1 (the fake Stripe's, in tests and demos).",
    )
    stripe_js_url: str = Field(
        "https://js.stripe.com/v3/",
        description="Where the checkout page loads Stripe.js from (the fake's /v3/ in tests).",
    )
    separate_worker: bool = Field(
        False,
        description="True when `lava worker` runs renewals and autopay; else `lava serve` does.",
    )
    worker_interval_seconds: float = Field(
        5.0, gt=0, le=3600, description="Pause between two rounds of the worker."
    )
    process_heartbeat_seconds: float = Field(
        10.0,
        gt=0,
        le=600,
        description="How often a `lava serve` process records that it is alive.",
    )
    abandoned_after_seconds: float = Field(
        60.0,
        gt=0,
        description=(
            "A forward call whose server process has not been seen alive for this long is "
            "abandoned: the worker releases its hold, charging nothing."
        ),
    )
    autopay_cooldown_seconds: int = Field(
        300,
        ge=0,
        description="Least time between two autopay top-ups of one wallet, and after a "
        "declined auto top-up of a credit bundle before the next.",
    )
    autopay_max_per_period: int = Field(
        5,
        ge=1,
        description="Most autopay top-ups of one wallet per usage period, and auto top-up "
        "credit bundles of one subscription per cycle.",
    )
    webhooks_allow_http: bool = Field(
        False,
        description="Let sandbox webhook endpoints use plain http:// to a loopback address (tests "
        "and local development); live endpoints are always https:// to public addresses.",
    )
    webhook_balance_coalesce_s: float = Field(
        60.0,
        gt=0,
        le=86400,
        description="Debits of one wallet within this many seconds make one balance event.",
    )
    webhook_low_balance_threshold: Decimal = Field(
        Decimal("1.00"),
        ge=0,
        description="A wallet whose balance falls below this (USD) sends one low-balance event "
        "per crossing.",
    )
    webhook_retry_delays: str = Field(
        "60,300,1800,7200,18000,36000,43200",
        pattern=r"^[0-9]+(\.[0-9]+)?(,[0-9]+(\.[0-9]+)?)*$",
        description="Seconds between a failed webhook attempt and the next (the last repeats), "
        "each with up to 20 % jitter.",
    )
    webhook_give_up_seconds: float = Field(
        3 * 86400.0,
        gt=0,
        description="A delivery still failing this long after its event is marked failed; an "
        "endpoint failing this long is disabled.",
    )
    webhook_retention_days: float = Field(
        30.0,
        gt=0,
        description="Days a webhook attempt (and a finished delivery and its event) is kept.",
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Seconds a webhook receiver has to answer."
    )
    webhook_concurrency: int = Field(
        64, ge=1, description="Webhook deliveries in flight at once per process (all endpoints)."
    )
    webhook_endpoint_concurrency: int = Field(
        4, ge=1, description="Webhook deliveries in flight at once per process to one endpoint."
    )
    webhook_poll_seconds: float = Field(
        0.5, gt=0, le=60, description="How often the delivery worker looks for due deliveries."
    )
    log_level: str = Field("info", description="Log level: debug, info, warning, error.")
    log_format: Literal["text", "json"] = Field(
        "text",
        description="Log lines as text, or `json`: one JSON object a line (time, level, logger, "
        "message, and request id, merchant, route, status and duration when known).",
    )
    log_requests: bool = Field(
        False,
        description="Log one line per answered request (method, route, status, duration); "
        "off by default, as it costs a little on the hot paths.",
    )
    metrics_token: str = Field(
        "",
        description="Bearer token that `GET /metrics` requires (Prometheus' text format); "
        "empty: /metrics answers 404.",
    )
    upstream_connect_timeout: float = Field(
        10.0, gt=0, description="Forward proxy: seconds to connect to a provider (TCP and TLS)."
    )
    upstream_first_byte_timeout: float = Field(
        600.0,
        gt=0,
        description="Forward proxy: seconds to wait for a provider's status and headers (a "
        "non-streamed answer of a long generation only starts when it is done).",
    )
    upstream_idle_timeout: float = Field(
        120.0, gt=0, description="Forward proxy: longest silence between two chunks of an answer."
    )
    model_prices_file: str = Field(
        "",
        description="Forward proxy: operator file of model prices (TOML or JSON) for models the "
        "price library lacks or prices differently; see lava_server/model_prices/book.py.",
    )
    model_prices_refresh_seconds: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="How often each server process reloads the model prices added with "
        "`lava prices add` (a new price is in force everywhere within this time).",
    )
    unknown_model: Literal["refuse", "estimate", "free"] = Field(
        "refuse",
        description="A billed call of a model without a price: refuse (400 before anything is "
        "sent or stored), estimate (priced like the dearest known model of its provider, "
        "marked lava_price_estimated) or free (provider cost 0, logged once).",
    )

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        try:
            async_url(value)
        except (ArgumentError, ValueError):
            # The message leaves the URL out: it may hold a password.
            raise ValueError(
                "database_url must be sqlite:///path or "
                "postgresql://user:password@host:port/database"
            ) from None
        return value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, value: str) -> str:
        if value and len(value) < 16:
            raise ValueError("metrics_token must be empty or at least 16 characters")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("redis_url must be empty or a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().lower()
        if level not in ("debug", "info", "warning", "error", "critical"):
            raise ValueError("log_level must be debug, info, warning, error or critical")
        return level

    @field_validator("twilio_base_url")
    @classmethod
    def _twilio_base(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("twilio_base_url must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, value: str) -> str:
        if value and (
            not value.startswith(("smtp://", "smtps://")) or not urlsplit(value).hostname
        ):
            raise ValueError(
                "smtp_url must be empty or smtp://[user:pass@]host[:port] or smtps://..."
            )
        return value

    @field_validator("twilio_from")
    @classmethod
    def _twilio_from(cls, value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(r"\+[1-9][0-9]{7,14}|MG[0-9a-fA-F]{32}", value):
            raise ValueError(
                "twilio_from must be a phone number in E.164 form (+14155550100) or a "
                "Messaging Service SID (MG followed by 32 hex digits)"
            )
        return value

    @model_validator(mode="after")
    def _code_senders(self) -> Settings:
        wanted = {*self.code_sender_live.split(","), *self.code_sender_sandbox.split(",")}
        if "twilio" in wanted:
            for name in ("twilio_account_sid", "twilio_auth_token", "twilio_from"):
                if not getattr(self, name):
                    raise ValueError(f"the twilio code sender needs LAVA_{name.upper()}")
        if "smtp" in wanted and not (self.smtp_url and self.smtp_from):
            raise ValueError("the smtp code sender needs LAVA_SMTP_URL and LAVA_SMTP_FROM")
        return self

    @model_validator(mode="after")
    def _amount_limits(self) -> Settings:
        if self.checkout_min_amount > self.checkout_max_amount:
            raise ValueError("checkout_min_amount must not exceed checkout_max_amount")
        if self.payment_provider == "stripe" and not self.stripe_secret_key:
            raise ValueError("payment_provider=stripe needs stripe_secret_key")
        for name in ("stripe_api_base", "stripe_js_url"):
            if not getattr(self, name).startswith(("https://", "http://")):
                raise ValueError(f"{name} must be an http(s) URL")
        if self.stripe_publishable_key and not self.stripe_publishable_key.startswith(
            ("pk_live_", "pk_test_")
        ):
            raise ValueError("stripe_publishable_key must start with pk_live_ or pk_test_")
        if self.stripe_webhook_secret and not self.stripe_webhook_secret.startswith("whsec_"):
            raise ValueError("stripe_webhook_secret must start with whsec_")
        return self

    @cached_property
    def base_url(self) -> str:
        """The URL clients use as their base (`http://127.0.0.1:8787/v1/`)."""
        return self.public_base + "v1/"

    @cached_property
    def public_base(self) -> str:
        """Public root URL of the server, with a trailing slash."""
        if self.public_url:
            return self.public_url.rstrip("/") + "/"
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    @classmethod
    def variable_names(cls) -> frozenset[str]:
        """The environment variable of each setting (`LAVA_DATABASE_URL`, ...)."""
        return frozenset(f"LAVA_{name.upper()}" for name in cls.model_fields)

    @classmethod
    def family_env(cls) -> dict[str, str]:
        """The `LAVA_*` variables that are not settings of this class: the per-provider families
        (`LAVA_UPSTREAM_<PROVIDER>`, `LAVA_PROVIDER_KEY_<PROVIDER>`), whose names share a prefix
        with settings such as `LAVA_UPSTREAM_CONNECT_TIMEOUT`."""
        own = cls.variable_names()
        return {
            key: value
            for key, value in os.environ.items()
            if key.upper().startswith("LAVA_") and key.upper() not in own
        }

    @classmethod
    def prefixed_env(cls, prefix: str) -> dict[str, str]:
        """`LAVA_<PREFIX>_<NAME>=value` variables (not settings) as `{name.lower(): value}`."""
        full = f"LAVA_{prefix}_"
        return {
            key[len(full) :].lower(): value
            for key, value in cls.family_env().items()
            if key.startswith(full) and value
        }
