"""Promises: booked callbacks and slots, neighbour and safe-place instructions, announced
next attempts, each with its window and one state (issue 13).

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "promises",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("rebooking_id", sa.Integer(), nullable=True),
        sa.Column("status_event_id", sa.Integer(), nullable=True),
        sa.Column("depot", sa.String(length=64), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kept_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("broken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("excused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("excuse", sa.String(length=16), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=100), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(rebooking_id IS NULL) <> (status_event_id IS NULL)", name="ck_promise_source"
        ),
        sa.ForeignKeyConstraint(["rebooking_id"], ["rebookings.id"]),
        sa.ForeignKeyConstraint(["shipment_id"], ["shipments.id"]),
        sa.ForeignKeyConstraint(["status_event_id"], ["status_events.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_promises_shipment_id", "promises", ["shipment_id"], unique=False)
    op.create_index("ix_promises_state_window_end", "promises", ["state", "window_end"])
    op.create_index("ix_promises_window_start", "promises", ["window_start"])
    op.create_index(
        "uq_promise_rebooking",
        "promises",
        ["kind", "rebooking_id"],
        unique=True,
        sqlite_where=sa.text("rebooking_id IS NOT NULL"),
        postgresql_where=sa.text("rebooking_id IS NOT NULL"),
    )
    op.create_index(
        "uq_promise_status_event",
        "promises",
        ["kind", "status_event_id"],
        unique=True,
        sqlite_where=sa.text("status_event_id IS NOT NULL"),
        postgresql_where=sa.text("status_event_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_promise_status_event", table_name="promises")
    op.drop_index("uq_promise_rebooking", table_name="promises")
    op.drop_index("ix_promises_window_start", table_name="promises")
    op.drop_index("ix_promises_state_window_end", table_name="promises")
    op.drop_index("ix_promises_shipment_id", table_name="promises")
    op.drop_table("promises")
