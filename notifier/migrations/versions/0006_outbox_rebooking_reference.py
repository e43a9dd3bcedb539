"""Outbox rows name the booking they answer in a column, not inside the purpose text;
event-less rows get unique keys of their own.

"rebooked:42" becomes purpose rebooking_confirmed with rebooking_id 42, "dispute:43"
becomes dispute_forward with rebooking_id 43. The unique constraint on (shipment,
event, channel, purpose) treats a NULL event as distinct from every other on both
databases, so rows without an event are kept unique by two partial indexes.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENTLESS = "status_event_id IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("rebooking_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_outbox_rebooking_id_rebookings", "rebookings", ["rebooking_id"], ["id"]
        )
    for prefix, purpose in (("rebooked:", "rebooking_confirmed"), ("dispute:", "dispute_forward")):
        start = len(prefix) + 1
        op.execute(
            f"UPDATE outbox SET rebooking_id = CAST(substr(purpose, {start}) AS INTEGER), "  # noqa: S608
            f"purpose = '{purpose}' WHERE purpose LIKE '{prefix}%'"
        )
    op.create_index(
        "uq_outbox_eventless_booking",
        "outbox",
        ["shipment_id", "channel", "purpose", "rebooking_id"],
        unique=True,
        sqlite_where=sa.text(f"{_EVENTLESS} AND rebooking_id IS NOT NULL"),
        postgresql_where=sa.text(f"{_EVENTLESS} AND rebooking_id IS NOT NULL"),
    )
    op.create_index(
        "uq_outbox_eventless",
        "outbox",
        ["shipment_id", "channel", "purpose"],
        unique=True,
        sqlite_where=sa.text(f"{_EVENTLESS} AND rebooking_id IS NULL"),
        postgresql_where=sa.text(f"{_EVENTLESS} AND rebooking_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_outbox_eventless", table_name="outbox")
    op.drop_index("uq_outbox_eventless_booking", table_name="outbox")
    for prefix, purpose in (("rebooked:", "rebooking_confirmed"), ("dispute:", "dispute_forward")):
        op.execute(
            f"UPDATE outbox SET purpose = '{prefix}' || CAST(rebooking_id AS TEXT) "  # noqa: S608
            f"WHERE purpose = '{purpose}' AND rebooking_id IS NOT NULL"
        )
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("fk_outbox_rebooking_id_rebookings", type_="foreignkey")
        batch.drop_column("rebooking_id")
