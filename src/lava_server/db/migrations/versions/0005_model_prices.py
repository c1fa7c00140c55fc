"""model prices added with `lava prices add`

Adds `model_prices`: the operator's prices of models (provider, model, the price file's keys as
JSON), which every server process reloads every `LAVA_MODEL_PRICES_REFRESH_SECONDS`.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import lava_server.db.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "model_prices",
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column(
            "prices",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", lava_server.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "model"),
    )


def downgrade() -> None:
    op.drop_table("model_prices")
