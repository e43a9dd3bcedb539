"""Every table's SQLAlchemy handle, taken once from the models: the one place SQL finds them."""

from __future__ import annotations

from sqlalchemy import Table

from notifier.db import models


def _table(model: type) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


SHIPMENTS = _table(models.ShipmentRow)
CONTACTS = _table(models.ContactPointRow)
EVENTS = _table(models.StatusEventRow)
OUTBOX = _table(models.OutboxRow)
OPT_OUTS = _table(models.OptOutRow)
LINKS = _table(models.RebookingLinkRow)
SLOTS = _table(models.DeliverySlotRow)
REBOOKINGS = _table(models.RebookingRow)
UNSUBSCRIBE_TOKENS = _table(models.UnsubscribeTokenRow)
INBOUND = _table(models.InboundMessageRow)
PROMISES = _table(models.PromiseRow)
SEND_PACE = _table(models.SendPaceRow)
FEEDBACK_LINKS = _table(models.FeedbackLinkRow)
FEEDBACK = _table(models.FeedbackRow)

# A shipment's columns bar its id and timestamps: for joins whose row has other ids and
# timestamps of its own; `ShipmentRecord.from_mapping(row, id_key=...)` reads them back.
SHIPMENT_FACTS = tuple(c for c in SHIPMENTS.c if c.name not in ("id", "created_at", "updated_at"))
