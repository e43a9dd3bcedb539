"""Hearing back: unsubscribe tokens, inbound SMS, and reconciliation's bookkeeping.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unsubscribe_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "address", name="uq_unsubscribe_address"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["shipment_id"], ["shipments.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider_id"),
    )
    op.create_index("ix_inbound_sender_received", "inbound_messages", ["sender", "received_at"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(
            sa.Column("receipt_checks", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("receipt_checked_at", sa.DateTime(timezone=True)))
    op.create_index("ix_outbox_state_sent", "outbox", ["state", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_state_sent", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("receipt_checked_at")
        batch.drop_column("receipt_checks")
    op.drop_index("ix_inbound_sender_received", table_name="inbound_messages")
    op.drop_table("inbound_messages")
    op.drop_table("unsubscribe_tokens")
