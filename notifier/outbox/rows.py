"""An outbox row as it is queued and as a worker claims it: plain data, no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from notifier.locales import Language
from notifier.purposes import Purpose
from notifier.vocabulary import Channel, OutboxState


@dataclass(frozen=True, slots=True)
class NewOutboxRow:
    """A message to queue: what it is about, for whom, on which channel, and when."""

    shipment_id: int
    status_event_id: int | None  # the event it answers, if any
    channel: Channel
    purpose: Purpose
    template: str
    locale: Language
    recipient: str
    due_at: datetime
    rebooking_id: int | None = None  # the recipient's choice it answers, if any
    state: OutboxState = OutboxState.PENDING
    last_error: str | None = None  # for rows recorded as suppressed: why


@dataclass(frozen=True, slots=True)
class ClaimedRow:
    """A row this worker holds until its lease ends, as stored (its texts unchecked)."""

    id: int
    shipment_id: int
    status_event_id: int | None
    rebooking_id: int | None
    channel: str
    purpose: str
    template: str
    locale: str
    recipient: str
    attempts: int  # including this one


@dataclass(frozen=True, slots=True)
class ReceiptCheck:
    """An SMS still `sent` past its receipt's deadline, which this worker is to ask about."""

    id: int
    provider_id: str
    checks: int  # including this one
