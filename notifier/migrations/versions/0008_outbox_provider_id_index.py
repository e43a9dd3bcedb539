"""Delivery receipts find their message by the provider's id: index it.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_outbox_provider_id", "outbox", ["provider_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_provider_id", table_name="outbox")
