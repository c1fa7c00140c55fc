"""the indexes of the webhook retention purge

The hourly purge (`webhooks.repository.purge_before`) deletes the events left without
deliveries: for each old event, `NOT EXISTS` a delivery of it, and on PostgreSQL the foreign
key's check of each deleted event, looked for its deliveries without an index, reading every
delivery for every event (8,000 events kept by a pending delivery took 1.4 s on SQLite, 2,000
took 0.18 s: it grows with their product, under the write lock). `ix_webhook_deliveries_event`
finds them. `ix_webhook_attempts_attempted` lets the purge's first statement delete the old
attempts without reading all of them.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_webhook_deliveries_event", "webhook_deliveries", ["event_id"])
    op.create_index("ix_webhook_attempts_attempted", "webhook_attempts", ["attempted_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_attempts_attempted", table_name="webhook_attempts")
    op.drop_index("ix_webhook_deliveries_event", table_name="webhook_deliveries")
