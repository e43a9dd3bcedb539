"""Delivery slots with their capacity, and recipients' rebooking choices.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("depot", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("window", sa.String(length=11), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.CheckConstraint("booked >= 0 AND booked <= capacity", name="ck_delivery_slot_capacity"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("depot", "day", "window", name="uq_delivery_slot"),
    )
    op.create_table(
        "rebookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("submission", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("window", sa.String(length=11), nullable=True),
        sa.Column("pickup_point", sa.String(length=64), nullable=True),
        sa.Column("neighbour_name", sa.String(length=100), nullable=True),
        sa.Column("neighbour_door", sa.String(length=100), nullable=True),
        sa.Column("instructions", sa.String(length=500), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["link_id"], ["rebooking_links.id"]),
        sa.ForeignKeyConstraint(["shipment_id"], ["shipments.id"]),
        sa.ForeignKeyConstraint(["slot_id"], ["delivery_slots.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("link_id", "submission", name="uq_rebooking_submission"),
    )
    op.create_index("ix_rebookings_day", "rebookings", ["day"], unique=False)
    op.create_index("ix_rebookings_shipment_id", "rebookings", ["shipment_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_rebookings_shipment_id", table_name="rebookings")
    op.drop_index("ix_rebookings_day", table_name="rebookings")
    op.drop_table("rebookings")
    op.drop_table("delivery_slots")
