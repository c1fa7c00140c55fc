"""one-time codes by SMS or email

Adds `checkout_sessions.code_channel` (where the customer chose to get the code: `phone` or
`email`) and `code_sends`, the codes sent in the last hour per destination and per client address
(the limits against SMS pumping, when they are not kept in Redis).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lava_server.db.types

revision: str = "0015"
# 0014 is another branch's; until it is merged this one follows 0013.
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("checkout_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code_channel", sa.String(length=8), nullable=True))
    op.create_table(
        "code_sends",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("sent_at", lava_server.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_code_sends_key", "code_sends", ["key", "sent_at"])
    op.create_index("ix_code_sends_sent_at", "code_sends", ["sent_at"])


def downgrade() -> None:
    op.drop_index("ix_code_sends_sent_at", table_name="code_sends")
    op.drop_index("ix_code_sends_key", table_name="code_sends")
    op.drop_table("code_sends")
    with op.batch_alter_table("checkout_sessions", schema=None) as batch_op:
        batch_op.drop_column("code_channel")
