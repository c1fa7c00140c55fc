"""spend keys: `lava_sk_` keys that spend one wallet within limits

New table `spend_keys` (`docs/current-api.md#spend-keys`): the key's SHA-256 and preview, its
settings (status, request shape, allowlists, spend/request/rate limits, expiry), what it is
bound to (a customer's connection and a meter, or neither: the merchant's own account), and
its usage counters with the start of each counter's cycle. Soft deleted (revoke).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import lava_server.db.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _money() -> lava_server.db.types.Money:
    return lava_server.db.types.Money(precision=38, scale=10)


def _time(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, lava_server.db.types.UTCDateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "spend_keys",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("key_preview", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request_shape", sa.String(length=16), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=True),
        sa.Column("meter_id", sa.String(length=64), nullable=True),
        sa.Column("allowed_models", _JSON, nullable=True),
        sa.Column("allowed_providers", _JSON, nullable=True),
        sa.Column("spend_limit", _money(), nullable=True),
        sa.Column("spend_cycle", sa.String(length=8), nullable=True),
        sa.Column("request_limit", sa.BigInteger(), nullable=True),
        sa.Column("request_cycle", sa.String(length=8), nullable=True),
        sa.Column("rate_limit_rpm", sa.Integer(), nullable=True),
        sa.Column("rate_limit_burst", sa.Integer(), nullable=True),
        _time("expires_at", nullable=True),
        sa.Column("current_spend", _money(), nullable=False),
        sa.Column("total_spend", _money(), nullable=False),
        _time("spend_cycle_started_at", nullable=False),
        sa.Column("current_requests", sa.BigInteger(), nullable=False),
        sa.Column("total_requests", sa.BigInteger(), nullable=False),
        _time("request_cycle_started_at", nullable=False),
        _time("last_used_at", nullable=True),
        _time("created_at", nullable=False),
        _time("updated_at", nullable=False),
        _time("deleted_at", nullable=True),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"]),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"]),
        sa.ForeignKeyConstraint(["meter_id"], ["products.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    with op.batch_alter_table("spend_keys") as batch:
        batch.create_index("ix_spend_keys_merchant", ["merchant_id", "livemode", "id"])


def downgrade() -> None:
    op.drop_table("spend_keys")
