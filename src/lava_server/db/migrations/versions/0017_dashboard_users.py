"""dashboard users and sessions

The merchant dashboard (`/dashboard/`): its users (email, Argon2 password hash, role, a pending
one-time sign-in link) and their server-side sessions.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lava_server.db.types

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dashboard_users",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("sign_in_token_hash", sa.String(length=64), nullable=True),
        sa.Column("sign_in_token_expires_at", lava_server.db.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", lava_server.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", lava_server.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
        sa.UniqueConstraint("sign_in_token_hash"),
    )
    op.create_index("ix_dashboard_users_merchant", "dashboard_users", ["merchant_id"])
    op.create_table(
        "dashboard_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", lava_server.db.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", lava_server.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["dashboard_users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dashboard_sessions_user", "dashboard_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_dashboard_sessions_user", table_name="dashboard_sessions")
    op.drop_table("dashboard_sessions")
    op.drop_index("ix_dashboard_users_merchant", table_name="dashboard_users")
    op.drop_table("dashboard_users")
