"""The schema. Every table lives here; Alembic migrations in `migrations/` create them.

Money columns are `Money` (exact on both databases), timestamps `UTCDateTime`. Objects that belong
to a merchant carry `livemode`: a sandbox (`aks_test_`) key sees only `livemode = false` rows.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lava_server.db.types import Money, UTCDateTime, WideCount, WideMoney

# An auto-incrementing 64-bit key (SQLite only auto-increments an INTEGER PRIMARY KEY).
SerialKey = BigInteger().with_variant(Integer(), "sqlite")
JSONDoc = JSON().with_variant(JSONB(), "postgresql")
ZERO = Decimal(0)


class Base(DeclarativeBase):
    pass


class SoftDeleted(Base):
    """A table whose rows a merchant deletes by setting `deleted_at`: the row stays, because
    what happened before (requests, subscriptions, checkouts) still names it."""

    __abstract__ = True

    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @classmethod
    def not_deleted(cls) -> ColumnElement[bool]:
        """The condition for rows not deleted. On the table's own column, so that it serves
        Core statements too without putting them on the ORM's slower compile path."""
        return table_of(cls).c.deleted_at.is_(None)


class Merchant(Base):
    __tablename__ = "merchants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiKey(Base):
    """A merchant secret key, stored only as its SHA-256."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    livemode: Mapped[bool] = mapped_column(Boolean)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    name: Mapped[str] = mapped_column(String(255), default="Secret key")


class Product(SoftDeleted):
    """A pricing configuration (`docs/pricing.md`); requests name it by its secret."""

    __tablename__ = "products"
    __table_args__ = (
        Index("ix_products_merchant", "merchant_id", "livemode", "id"),
        Index(
            "uq_products_meter_slug",
            "merchant_id",
            "livemode",
            "meter_slug",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(255))
    secret: Mapped[str] = mapped_column(String(128), unique=True)
    rate_type: Mapped[str] = mapped_column(String(16))
    token_basis: Mapped[str] = mapped_column(String(16))
    tiers: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc)
    base_cost_payer: Mapped[str] = mapped_column(String(16))
    service_charge_payer: Mapped[str] = mapped_column(String(16))
    overdraft: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    meter_slug: Mapped[str] = mapped_column(String(128))


class Wallet(Base):
    """A customer's prepaid balance. `balance` always equals the sum of its ledger entries;
    `held` is the sum of open holds of in-flight forwarded calls."""

    __tablename__ = "wallets"
    __table_args__ = (
        UniqueConstraint("livemode", "phone", name="uq_wallets_phone"),
        # The worker's round: the wallets with autopay on (migration 0022).
        Index(
            "ix_wallets_autopay",
            "id",
            sqlite_where=text("autopay_enabled IS 1"),
            postgresql_where=text("autopay_enabled IS true"),
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    livemode: Mapped[bool] = mapped_column(Boolean)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    first_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    last_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    balance: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    held: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    autopay_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    autopay_threshold: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    autopay_amount: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Added by migration 0016: set while a dispute of a payment that funded it is open (calls
    # and reports are refused, 402 `wallet_frozen`).
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Added by migration 0018 (`docs/checkout-and-wallets.md#dunning`): since when autopay's
    # charges have been declined, how many retries were made, and when the next one is due.
    autopay_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    autopay_retries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    autopay_retry_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), nullable=True, index=True
    )
    # Added by migration 0002 (subscriptions): the part of `balance` that is period credit
    # (spent before purchased credit; the sum of its `CreditGrant.remaining`), when the earliest
    # of it expires, and the subscription cycle that sets the wallet's usage periods
    # (`periods.usage_period`).
    period_credit: Mapped[Decimal] = mapped_column(Money(), default=ZERO, server_default="0")
    period_credit_expires_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), nullable=True, index=True
    )
    cycle_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cycle_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Connection(SoftDeleted):
    """A merchant's link to a customer's wallet; the current API's customer. The contact is the
    connection's own (copied from the wallet when made through checkout), so that a merchant's
    changes never reach another merchant's view of a shared wallet."""

    __tablename__ = "connections"
    __table_args__ = (
        Index("ix_connections_merchant", "merchant_id", "livemode", "id"),
        Index("ix_connections_reference", "merchant_id", "livemode", "reference_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    wallet_id: Mapped[str] = mapped_column(ForeignKey("wallets.id"), index=True)
    reference_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    secret: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    first_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    last_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONDoc, nullable=True)


class SpendKey(SoftDeleted):
    """A spend key (`docs/current-api.md#spend-keys`): a `lava_sk_` key, stored only as its
    SHA-256, that spends one wallet within its limits. Without a connection it spends the
    merchant's own account. `current_*` count from `*_cycle_started_at` (stale once its cycle
    is over: `periods.limit_cycle_is_stale`), `total_*` for the key's whole life."""

    __tablename__ = "spend_keys"
    __table_args__ = (Index("ix_spend_keys_merchant", "merchant_id", "livemode", "id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_preview: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    request_shape: Mapped[str] = mapped_column(String(16))
    connection_id: Mapped[str | None] = mapped_column(ForeignKey("connections.id"), nullable=True)
    meter_id: Mapped[str | None] = mapped_column(ForeignKey("products.id"), nullable=True)
    allowed_models: Mapped[list[str] | None] = mapped_column(JSONDoc, nullable=True)
    allowed_providers: Mapped[list[str] | None] = mapped_column(JSONDoc, nullable=True)
    spend_limit: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    spend_cycle: Mapped[str | None] = mapped_column(String(8), nullable=True)
    request_limit: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    request_cycle: Mapped[str | None] = mapped_column(String(8), nullable=True)
    rate_limit_rpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rate_limit_burst: Mapped[int | None] = mapped_column(Integer, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    current_spend: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    total_spend: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    spend_cycle_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    current_requests: Mapped[int] = mapped_column(BigInteger, default=0)
    total_requests: Mapped[int] = mapped_column(BigInteger, default=0)
    request_cycle_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # When a call was last refused for each limit: one `spend_key.limit_reached` event per cycle.
    spend_limit_reached_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    request_limit_reached_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Request(Base):
    """One metered call: merchant-reported (`POST /v1/requests`) or forwarded."""

    __tablename__ = "requests"
    __table_args__ = (
        UniqueConstraint("merchant_id", "livemode", "request_id", name="uq_requests_request_id"),
        Index("ix_requests_merchant", "merchant_id", "livemode", "seq"),
        Index("ix_requests_connection", "connection_id", "seq"),
        Index("ix_requests_product", "product_id", "seq"),
        Index("ix_requests_spend_key", "spend_key_id", "seq"),
        # The forward calls in flight, for the sweeper of abandoned ones (`proxy.abandoned`).
        Index(
            "ix_requests_pending",
            "seq",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    seq: Mapped[int] = mapped_column(SerialKey, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(255))
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    connection_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    product_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    wallet_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(64))
    provider_key_type: Mapped[str] = mapped_column(String(16))
    model: Mapped[str | None] = mapped_column(String(255), nullable=True)
    endpoint: Mapped[str] = mapped_column(String(512))
    response_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    input_characters: Mapped[int] = mapped_column(BigInteger, default=0)
    output_characters: Mapped[int] = mapped_column(BigInteger, default=0)
    input_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    output_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    input_cost: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    output_cost: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    total_cost: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    model_payer: Mapped[str] = mapped_column(String(16))
    fee_amount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    rate_type: Mapped[str] = mapped_column(String(16))
    token_basis: Mapped[str] = mapped_column(String(16))
    fee_breakdown: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc)
    service_charge_amount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    service_charge_payer: Mapped[str] = mapped_column(String(16))
    total_request_cost: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    total_wallet_cost: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    total_merchant_cost: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    hold_amount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    request_metadata: Mapped[dict[str, str]] = mapped_column("metadata", JSONDoc)
    fingerprint: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The server process that forwarded the call (`ServerProcess.id`), for the sweeper.
    process_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The spend key that made the call (it reserved `hold_amount` of the key's allowance).
    spend_key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ServerProcess(Base):
    """A running `lava serve` process. It stamps the forward calls it has in flight with its id
    and says it is alive every few seconds; the worker releases the holds of the calls of a
    process that stopped saying so (`proxy.abandoned`)."""

    __tablename__ = "server_processes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ModelPrice(Base):
    """A model's provider price added with `lava prices add`. Every server process loads them
    all every `LAVA_MODEL_PRICES_REFRESH_SECONDS` (`model_prices.service`)."""

    __tablename__ = "model_prices"

    provider: Mapped[str] = mapped_column(String(64), primary_key=True)  # ours, or "*"
    model: Mapped[str] = mapped_column(String(255), primary_key=True)  # lower case; "x*": prefix
    # The price file's keys, prices as decimal strings (`model_prices.book.check_price`).
    prices: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerEntry(Base):
    """One side of a money movement. Append-only; the entries of one `txn_id` sum to zero.

    `account` names who gains (positive) or loses (negative): `wallet:<id>`, `merchant:<id>`,
    `provider:<name>`, `platform`, `funding:<source>`.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_txn", "txn_id"),
        Index("ix_ledger_wallet", "wallet_id"),
        Index("ix_ledger_account", "account"),
    )

    id: Mapped[int] = mapped_column(SerialKey, primary_key=True, autoincrement=True)
    txn_id: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(128))
    wallet_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    kind: Mapped[str] = mapped_column(String(32))
    livemode: Mapped[bool] = mapped_column(Boolean)
    request_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TierUsage(Base):
    """Units a connection has used on a product in one usage period (graduated tiers)."""

    __tablename__ = "tier_usage"

    connection_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    units: Mapped[int] = mapped_column(BigInteger, default=0)


class UsageBucket(Base):
    """Usage roll-up per 15 minutes (every real UTC offset is a multiple of 15 minutes); `bucket`
    is the start of the quarter hour in unix seconds, so that day arithmetic is integer math.

    Each request adds to four rows: its connection and product, its connection for any product
    (`product_id = ''`), its product for any connection (`connection_id = ''`), and the merchant
    as a whole; so every `GET /v1/usage` without metadata filters reads one series. Its sums
    are wide (`WideMoney`, `WideCount`): many requests add up past what one amount may be.
    """

    __tablename__ = "usage_buckets"
    __table_args__ = (
        # The customers' series for any product, by time (the dashboard's top customers of a
        # day): only the rows that sum over every product, so most roll-up writes skip it.
        Index(
            "ix_usage_buckets_any_product",
            "merchant_id",
            "livemode",
            "bucket",
            sqlite_where=text("product_id = ''"),
            postgresql_where=text("product_id = ''"),
        ),
    )

    merchant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    livemode: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    connection_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # unix seconds, UTC
    total_requests: Mapped[int] = mapped_column(BigInteger, default=0)
    total_usage_tokens: Mapped[int] = mapped_column(WideCount(), default=0)
    total_usage_cost: Mapped[Decimal] = mapped_column(WideMoney(), default=ZERO)
    total_fee_amount: Mapped[Decimal] = mapped_column(WideMoney(), default=ZERO)
    total_service_charge_amount: Mapped[Decimal] = mapped_column(WideMoney(), default=ZERO)
    total_request_cost: Mapped[Decimal] = mapped_column(WideMoney(), default=ZERO)
    total_wallet_cost: Mapped[Decimal] = mapped_column(WideMoney(), default=ZERO)
    total_merchant_cost: Mapped[Decimal] = mapped_column(WideMoney(), default=ZERO)


class IdempotencyKey(Base):
    """The first answer to a POST carrying `Idempotency-Key`. `status_code` is NULL while the
    first request is still being processed."""

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # Added by migration 0020: the server process running the first request. A claim whose
    # process died before answering is taken over by a retry (`api/idempotency.py`).
    process_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class SubscriptionConfig(SoftDeleted):
    """A plan a merchant sells: `period_amount` charged each period, granted as period credit."""

    __tablename__ = "subscription_configs"
    __table_args__ = (
        Index("ix_subscription_configs_merchant", "merchant_id", "livemode", "id"),
        Index(
            "uq_subscription_configs_free",
            "merchant_id",
            "livemode",
            unique=True,
            sqlite_where=text("is_free"),
            postgresql_where=text("is_free"),
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(255))
    period_amount: Mapped[Decimal] = mapped_column(Money())
    rollover_type: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Added by migration 0010 (the current API's plans, `docs/current-api.md#plans`): the
    # credit a period grants (at most `period_amount`), how often it renews, whether bought
    # bundle credit outlives a cycle, the bundle new subscriptions top up with, and whether
    # this is the merchant's $0 Free plan (one per merchant and mode).
    billing_interval: Mapped[str] = mapped_column(String(8), server_default="month")
    included_credit: Mapped[Decimal] = mapped_column(Money())
    bundle_rollover_type: Mapped[str] = mapped_column(String(8), server_default="full")
    default_auto_top_up_bundle_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    is_free: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class PlanMeter(Base):
    """A meter (product) linked to a plan; a plan with no links covers every meter."""

    __tablename__ = "plan_meters"

    plan_id: Mapped[str] = mapped_column(ForeignKey("subscription_configs.id"), primary_key=True)
    meter_id: Mapped[str] = mapped_column(ForeignKey("products.id"), primary_key=True)


class CreditBundle(SoftDeleted):
    """Credit a plan's subscribers can buy: `cost` paid, `credit_amount` granted as bundle
    credit (spent after the cycle's credit). `position` keeps the plan's order."""

    __tablename__ = "credit_bundles"
    __table_args__ = (Index("ix_credit_bundles_plan", "plan_id", "position"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("subscription_configs.id"))
    merchant_id: Mapped[str] = mapped_column(String(64))
    livemode: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(255))
    cost: Mapped[Decimal] = mapped_column(Money())
    credit_amount: Mapped[Decimal] = mapped_column(Money())
    position: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CheckoutSession(Base):
    """A hosted checkout (`docs/checkout-and-wallets.md`) and where its customer is in it.

    `connection_id` is the one given at creation (topup, subscription) or the one the checkout
    created. The one-time code is kept only as a hash (`sandbox_code` holds it in clear for
    sandbox sessions, whose page shows it)."""

    __tablename__ = "checkout_sessions"
    __table_args__ = (
        Index("ix_checkout_sessions_merchant", "merchant_id", "livemode", "id"),
        Index("ix_checkout_sessions_reference", "merchant_id", "livemode", "reference_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    mode: Mapped[str] = mapped_column(String(16))
    origin_url: Mapped[str] = mapped_column(String(2048))
    reference_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    connection_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    subscription_config_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    secret: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    wallet_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    first_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    last_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sandbox_code: Mapped[str | None] = mapped_column(String(8), nullable=True)
    code_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    code_attempts: Mapped[int] = mapped_column(Integer, default=0)
    codes_sent: Mapped[int] = mapped_column(Integer, default=0)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    amount: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    autopay_threshold: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    autopay_amount: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    payment_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Added by migration 0010: the bundle a `credit_bundle` checkout buys.
    credit_bundle_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Added by migration 0015: where the code went, `phone` or `email` (the customer's choice).
    code_channel: Mapped[str | None] = mapped_column(String(8), nullable=True)


class CodeSend(Base):
    """A one-time code sent, counted against the hourly limits (`checkout.send_limits`) when
    they are not kept in Redis: one row per limit it counts against. `key` is `to:` and a hash
    of the phone number or email address, or `client:` and the client address."""

    __tablename__ = "code_sends"
    __table_args__ = (
        Index("ix_code_sends_key", "key", "sent_at"),
        Index("ix_code_sends_sent_at", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(80))
    token: Mapped[str] = mapped_column(String(32))  # one send's rows, to take them back
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PaymentMethod(Base):
    """A card saved with the payment provider (renewals and autopay charge it)."""

    __tablename__ = "payment_methods"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    wallet_id: Mapped[str] = mapped_column(ForeignKey("wallets.id"), index=True)
    livemode: Mapped[bool] = mapped_column(Boolean)
    provider: Mapped[str] = mapped_column(String(16))
    provider_method_id: Mapped[str] = mapped_column(String(255))
    brand: Mapped[str] = mapped_column(String(32))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column(Integer)
    exp_year: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Added by migration 0018: removed at the provider (Stripe's `payment_method.detached`);
    # never charged again.
    detached_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Payment(Base):
    """One charge through a payment provider, from its claim to its outcome.

    `idempotency_key` names the logical charge (a checkout session's payment step and attempt, a
    subscription's period, an autopay top-up) and is passed to the provider, so that retrying a
    charge never charges twice; the wallet is credited in the transaction that records success.
    At most one autopay charge per wallet is pending at a time (`uq_payments_autopay_pending`),
    and one auto top-up (`credit_bundle_id`) per subscription (`uq_payments_top_up_pending`).
    """

    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_wallet", "wallet_id", "purpose", "created_at"),
        Index("ix_payments_merchant", "merchant_id", "livemode", "id"),  # its pages (0022)
        Index("ix_payments_due", "status", "next_attempt_at"),
        Index(
            "uq_payments_autopay_pending",
            "wallet_id",
            unique=True,
            sqlite_where=text("purpose = 'autopay' AND status = 'pending'"),
            postgresql_where=text("purpose = 'autopay' AND status = 'pending'"),
        ),
        Index(
            "uq_payments_top_up_pending",
            "active_subscription_id",
            unique=True,
            sqlite_where=text("purpose = 'auto_top_up' AND status = 'pending'"),
            postgresql_where=text("purpose = 'auto_top_up' AND status = 'pending'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    livemode: Mapped[bool] = mapped_column(Boolean)
    wallet_id: Mapped[str] = mapped_column(ForeignKey("wallets.id"))
    merchant_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    purpose: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Money())
    status: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(16))
    payment_method_id: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    provider_payment_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    checkout_session_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    active_subscription_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    period_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    credit_bundle_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    failure_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    failure_message: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ActiveSubscription(Base):
    """A wallet's subscription to a merchant's plan. Periods start on `billing_anchor` (the day
    of month of `started_at`, clamped to short months) at `started_at`'s time of day. A wallet
    has at most one active subscription (`uq_active_subscriptions_wallet`)."""

    __tablename__ = "active_subscriptions"
    __table_args__ = (
        Index("ix_active_subscriptions_merchant", "merchant_id", "livemode", "id"),
        Index("ix_active_subscriptions_due", "status", "current_period_end"),
        Index(
            "uq_active_subscriptions_wallet",
            "wallet_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    wallet_id: Mapped[str] = mapped_column(ForeignKey("wallets.id"))
    connection_id: Mapped[str] = mapped_column(String(64))
    subscription_config_id: Mapped[str] = mapped_column(ForeignKey("subscription_configs.id"))
    payment_method_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    billing_anchor: Mapped[int] = mapped_column(Integer)
    period_index: Mapped[int] = mapped_column(Integer)
    current_period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    current_period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Added by migration 0010 (`docs/current-api.md#subscriptions`): the bundle bought when
    # credit runs out, and a change scheduled for `pending_at` (the cycle's end): a
    # `cancellation`, or a `downgrade` to `pending_plan_id`. Free plans have no payment method.
    auto_top_up_bundle_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pending_change: Mapped[str | None] = mapped_column(String(16), nullable=True)
    pending_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    pending_plan_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Added by migration 0018 (`docs/checkout-and-wallets.md#dunning`): since when the renewal
    # has been declined, how many retries were made, and when the next one is due.
    past_due_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    payment_retries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_payment_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CreditGrant(Base):
    """Period credit granted to a wallet by a subscription payment. `remaining` is what is left
    of it; it is spent before purchased credit, earliest expiry first, and what is left at
    `expires_at` (rollover `none`, or the last period of a cancelled subscription) leaves the
    wallet. `expires_at` NULL: it never expires (rollover `full` while the subscription runs)."""

    __tablename__ = "credit_grants"
    __table_args__ = (Index("ix_credit_grants_wallet", "wallet_id", "remaining"),)

    id: Mapped[int] = mapped_column(SerialKey, primary_key=True, autoincrement=True)
    wallet_id: Mapped[str] = mapped_column(ForeignKey("wallets.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    merchant_id: Mapped[str] = mapped_column(String(64))
    # NULL (since migration 0014) for a merchant's grant (`kind = 'grant'`), which has
    # `balance_operation_id` instead.
    active_subscription_id: Mapped[str | None] = mapped_column(
        String(64), index=True, nullable=True
    )
    payment_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount: Mapped[Decimal] = mapped_column(Money())
    remaining: Mapped[Decimal] = mapped_column(Money())
    # Added by migration 0010: `cycle` (a period's included credit) or `bundle` (bought credit,
    # spent after the cycle's); migration 0014: `grant` (a merchant's grant with an expiry,
    # spent like a cycle's credit, earliest expiry first).
    kind: Mapped[str] = mapped_column(String(8), server_default="cycle")
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    balance_operation_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class BalanceOperation(Base):
    """A merchant's grant of credit (`kind = 'grant'`) or signed correction (`'adjustment'`)
    to a connection's wallet (`docs/checkout-and-wallets.md#merchant-money-operations`). Its
    ledger transaction is `<id>`: the wallet against `merchant:<id>:grants` or
    `merchant:<id>:adjustments`. Added by migration 0014."""

    __tablename__ = "balance_operations"
    __table_args__ = (
        Index("ix_balance_operations_merchant", "merchant_id", "livemode", "id"),
        Index("ix_balance_operations_wallet", "wallet_id"),
        Index(
            "uq_balance_operations_key", "merchant_id", "livemode", "idempotency_key", unique=True
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    connection_id: Mapped[str] = mapped_column(String(64))
    wallet_id: Mapped[str] = mapped_column(ForeignKey("wallets.id"))
    amount: Mapped[Decimal] = mapped_column(Money())
    reason: Mapped[str] = mapped_column(String(500))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Added by migration 0020: the request's `Idempotency-Key`, kept with the operation in its
    # transaction, so that a retry replays it even when the first answer was never stored.
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)


class Dispute(Base):
    """A dispute (chargeback) of a payment, as the provider reports it: `open` freezes the
    wallet the payment funded; `won` or `lost` closes it (a lost one debits the wallet by its
    amount, as a refund made at the provider). Added by migration 0016."""

    __tablename__ = "disputes"
    __table_args__ = (Index("ix_disputes_wallet", "wallet_id", "status"),)

    provider: Mapped[str] = mapped_column(String(16), primary_key=True)
    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # the provider's (dp_...)
    livemode: Mapped[bool] = mapped_column(Boolean)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"))
    wallet_id: Mapped[str] = mapped_column(ForeignKey("wallets.id"))
    amount: Mapped[Decimal] = mapped_column(Money())
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Refund(Base):
    """Money given back on a payment through the provider that took it
    (`docs/checkout-and-wallets.md#refunds`). `pending`: the wallet is already debited (into
    `refunds:pending`) and the provider not yet sure; `succeeded`: the provider refunded
    (`refunds:pending` → `refunds:<provider>`); `failed`: the provider refused and the debit was
    given back. `request_key` is the merchant's `Idempotency-Key` (a retry reuses the row and
    its provider key); `provider_refund_id` is unique per provider, so a refund reported by the
    provider's webhook is booked once. Added by migration 0014."""

    __tablename__ = "refunds"
    __table_args__ = (
        Index("ix_refunds_payment", "payment_id"),
        Index("ix_refunds_merchant", "merchant_id", "livemode", "id"),
        UniqueConstraint("provider", "provider_refund_id", name="uq_refunds_provider_refund"),
        UniqueConstraint("merchant_id", "livemode", "request_key", name="uq_refunds_request"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    livemode: Mapped[bool] = mapped_column(Boolean)
    merchant_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"))
    wallet_id: Mapped[str] = mapped_column(ForeignKey("wallets.id"))
    amount: Mapped[Decimal] = mapped_column(Money())
    status: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(16))
    provider_refund_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    request_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    failure_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    failure_message: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebhookEndpoint(SoftDeleted):
    """Where a merchant wants events sent (`docs/webhooks.md`). `secret` signs every delivery;
    after a rotation `previous_secret` signs too until `previous_secret_expires_at`."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_merchant", "merchant_id", "livemode", "id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    livemode: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(String(2048))
    enabled_events: Mapped[list[str]] = mapped_column(JSONDoc)
    event_names: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    disabled_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    secret: Mapped[str] = mapped_column(String(128))
    previous_secret: Mapped[str | None] = mapped_column(String(128), nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), nullable=True
    )
    # Since when every attempt to this endpoint has failed (None: the last one succeeded).
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookOutbox(Base):
    """A change to report, written in the transaction of the change. The delivery worker turns
    each row (once `due_at` has come) into events and deliveries, then deletes it. A row whose
    `coalesce_key` is set stands for every change with that key (a wallet's debits of a window)."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (Index("ix_webhook_outbox_due", "due_at"),)

    id: Mapped[int] = mapped_column(SerialKey, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64))
    livemode: Mapped[bool] = mapped_column(Boolean)
    merchant_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    wallet_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    object_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc, nullable=True)
    coalesce_key: Mapped[str | None] = mapped_column(String(160), nullable=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookEvent(Base):
    """An event as sent: its payload's `data` rendered once, the same for every endpoint."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_merchant", "merchant_id", "livemode", "id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(64))
    livemode: Mapped[bool] = mapped_column(Boolean)
    type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookDelivery(Base):
    """One event to one endpoint, tried until it is delivered or given up (`failed`). A worker
    claims it by setting `lease_until`; a claim whose worker died comes back when it runs out."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
        # The retention purge: an old event's deliveries (migration 0021).
        Index("ix_webhook_deliveries_event", "event_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id"))
    event_type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebhookAttempt(Base):
    """One try of a delivery: what the receiver answered (its first 2 KB), or the error."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("ix_webhook_attempts_delivery", "delivery_id", "id"),
        Index("ix_webhook_attempts_attempted", "attempted_at"),  # the retention purge (0021)
    )

    id: Mapped[int] = mapped_column(SerialKey, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id"))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(String(2048))
    error: Mapped[str | None] = mapped_column(String(255), nullable=True)


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, for statements that skip the ORM on hot paths."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class DashboardUser(Base):
    """A person who signs in to the merchant dashboard (`dashboard/`): one merchant's, `admin`
    (every action) or `viewer` (reads only). `password_hash` is Argon2id (None until a password
    is set); `sign_in_token_hash` is the SHA-256 of a one-time sign-in link's token, cleared when
    the link is used. Added by migration 0017."""

    __tablename__ = "dashboard_users"
    __table_args__ = (Index("ix_dashboard_users_merchant", "merchant_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    role: Mapped[str] = mapped_column(String(16))
    sign_in_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    sign_in_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DashboardSession(Base):
    """A signed-in browser. `id` is the SHA-256 of the session cookie's value (the cookie alone
    holds the token); `csrf_token` is what every form of the session must send back. Signing
    out everywhere deletes every row of the user. Added by migration 0017."""

    __tablename__ = "dashboard_sessions"
    __table_args__ = (Index("ix_dashboard_sessions_user", "user_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("dashboard_users.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
