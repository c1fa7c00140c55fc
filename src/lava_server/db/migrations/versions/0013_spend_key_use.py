"""spending with spend keys

A forward call made with a spend key reserves against the key's limits in the same transaction
as the wallet's hold (`docs/current-api.md#spend-keys`). Adds `requests.spend_key_id` (the key
a call spent, so that its settlement, its release and the sweeper of abandoned calls give back
what the key reserved) and `spend_keys.spend_limit_reached_at` / `request_limit_reached_at` (the
`spend_key.limit_reached` event is written once per limit and cycle).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lava_server.db.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("spend_key_id", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_requests_spend_key", ["spend_key_id", "seq"])
    with op.batch_alter_table("spend_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("spend_limit_reached_at", lava_server.db.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("request_limit_reached_at", lava_server.db.types.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("spend_keys", schema=None) as batch_op:
        batch_op.drop_column("request_limit_reached_at")
        batch_op.drop_column("spend_limit_reached_at")
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index("ix_requests_spend_key")
        batch_op.drop_column("spend_key_id")
