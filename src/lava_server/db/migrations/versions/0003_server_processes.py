"""server processes and the forward calls they have in flight

Adds `server_processes` (the `lava serve` processes alive, with their heartbeat), the column
`requests.process_id` (the process that forwarded a call) and a partial index over the pending
requests, for the worker that releases the holds of calls whose process died.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lava_server.db.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table(
        "server_processes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", lava_server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", lava_server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # Plain ALTER TABLE on both databases (no batch copy of a table that can be large).
    op.add_column("requests", sa.Column("process_id", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_requests_pending",
        "requests",
        ["seq"],
        unique=False,
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_requests_pending", table_name="requests", sqlite_where=PENDING, postgresql_where=PENDING
    )
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("process_id")
    op.drop_table("server_processes")
