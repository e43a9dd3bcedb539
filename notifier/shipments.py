"""A shipment as the rest of notifier reads it back: one typed, frozen record of its row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from notifier.vocabulary import REASON_BY_VALUE, STATUS_BY_VALUE, Reason, Status


@dataclass(frozen=True, slots=True)
class ShipmentRecord:
    """A shipments row: the parcel's current status and the latest facts known about it.

    Ingest folds events into a mutable `tracking.ShipmentState`; everything that reads a
    shipment afterwards (dispatch, pages, slips, bookings) gets this.
    """

    id: int
    carrier: str
    tracking_number: str
    generation: int
    status: Status
    reason: Reason | None
    status_occurred_at: datetime
    first_event_at: datetime
    depot: str | None
    route_stop: int | None
    next_attempt_date: date | None
    next_attempt_window: str | None
    held_until: date | None
    pickup_point: str | None
    estimated_delivery: date | None
    recipient_name: str | None
    recipient_postcode: str | None
    recipient_locale: str | None
    sender_name: str | None
    recipient_address: str | None = None  # line breaks between its lines: address_lines()

    @classmethod
    def from_mapping(cls, row: Mapping[Any, Any], *, id_key: str = "id") -> ShipmentRecord:
        """From a row's mapping by column name; `id_key` names the column holding its id
        where a joined row's `id` is another table's."""
        values = {name: row[name] for name in _COLUMNS}
        values["id"] = row[id_key]
        values["status"] = STATUS_BY_VALUE[row["status"]]
        reason = row["reason"]
        values["reason"] = REASON_BY_VALUE[reason] if reason else None
        return cls(**values)

    @property
    def recipient_address_lines(self) -> list[str]:
        return address_lines(self.recipient_address)


_COLUMNS = tuple(f.name for f in fields(ShipmentRecord) if f.name != "id")


def address_lines(address: str | None) -> list[str]:
    """A stored recipient address as its lines (line1, line2, city: those given)."""
    return address.split("\n") if address else []


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A stored status event, as far as a message about it needs to know."""

    id: int
    status: Status
    reason: Reason | None
    occurred_at: datetime

    @classmethod
    def from_mapping(cls, row: Mapping[Any, Any]) -> EventRecord:
        reason = row["reason"]
        return cls(
            id=row["id"],
            status=STATUS_BY_VALUE[row["status"]],
            reason=REASON_BY_VALUE[reason] if reason else None,
            occurred_at=row["occurred_at"],
        )
