"""The normalised vocabulary (design sections 4, 6, 7, 9): statuses, reasons, channels,
rebooking options, outbox states and the native event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class Status(StrEnum):
    """Where the parcel is."""

    CREATED = "CREATED"
    IN_TRANSIT = "IN_TRANSIT"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    DELIVERY_ATTEMPTED = "DELIVERY_ATTEMPTED"
    AVAILABLE_FOR_PICKUP = "AVAILABLE_FOR_PICKUP"
    DELIVERED = "DELIVERED"
    EXCEPTION = "EXCEPTION"
    RETURNING = "RETURNING"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"


class Reason(StrEnum):
    """Why a delivery stalled."""

    RECIPIENT_ABSENT = "RECIPIENT_ABSENT"
    ADDRESS_INACCESSIBLE = "ADDRESS_INACCESSIBLE"
    BUSINESS_CLOSED = "BUSINESS_CLOSED"
    REFUSED = "REFUSED"
    ADDRESS_INCORRECT = "ADDRESS_INCORRECT"
    SIGNATURE_REQUIRED = "SIGNATURE_REQUIRED"
    PAYMENT_REQUIRED = "PAYMENT_REQUIRED"
    DAMAGED = "DAMAGED"
    DELAYED = "DELAYED"
    CUSTOMS = "CUSTOMS"
    WEATHER = "WEATHER"
    OTHER = "OTHER"


# Members by their stored text: a dict lookup, several times cheaper than Status(text),
# for code that turns thousands of stored or transferred values back into members.
STATUS_BY_VALUE = {status.value: status for status in Status}
REASON_BY_VALUE = {reason.value: reason for reason in Reason}

# Nothing about an earlier state is sent after one of these (design section 4).
TERMINAL_STATUSES = frozenset({Status.DELIVERED, Status.RETURNING, Status.CANCELLED})


class Channel(StrEnum):
    """How a message reaches its recipient."""

    SMS = "sms"
    EMAIL = "email"


class RebookOption(StrEnum):
    """What a recipient may choose instead of the next attempt (design section 9)."""

    SLOT = "slot"
    PICKUP = "pickup"
    NEIGHBOUR = "neighbour"
    SAFE_PLACE = "safe_place"
    CALLBACK = "callback"
    DISPUTE = "dispute"


class PromiseKind(StrEnum):
    """What was promised (design section 9a): four rebooking choices, with their own
    stored text, and the next attempt a missed-delivery event announced."""

    CALLBACK = RebookOption.CALLBACK.value
    SLOT = RebookOption.SLOT.value
    NEIGHBOUR = RebookOption.NEIGHBOUR.value
    SAFE_PLACE = RebookOption.SAFE_PLACE.value
    NEXT_ATTEMPT = "next_attempt"


class PromiseState(StrEnum):
    """A promise's one state. A late delivery or call leaves it BROKEN, with kept_at set
    ("broken, then kept"): the recipient waited, and a count once reported never shrinks."""

    OPEN = "open"
    KEPT = "kept"
    BROKEN = "broken"
    EXCUSED = "excused"


class PromiseExcuse(StrEnum):
    """Why a promise stopped binding before its window ended."""

    REPLACED = "replaced"  # the recipient made a newer choice
    REBOOKED = "rebooked"  # a slot or pickup chosen instead of the announced attempt
    DELIVERED = "delivered"  # the parcel arrived before a callback's window ended
    ATTEMPTED = "attempted"  # the courier came in the window and found nobody in


class CallbackOutcome(StrEnum):
    """What a callback made by the depot's staff came to."""

    REACHED = "reached"
    NO_ANSWER = "no_answer"
    WRONG_NUMBER = "wrong_number"


class OutboxState(StrEnum):
    """Life of an outbox row (design section 7)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    DEAD = "dead"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"


class ContactKind(StrEnum):
    PHONE = "PHONE"
    EMAIL = "EMAIL"


KIND_BY_VALUE = {kind.value: kind for kind in ContactKind}
# The kind of address each channel sends to.
CHANNEL_CONTACT = {Channel.SMS: ContactKind.PHONE, Channel.EMAIL: ContactKind.EMAIL}


@dataclass(frozen=True, slots=True)
class ContactPoint:
    """A phone number or email address as checked at ingestion.

    An invalid one is kept (with the reason) so ops can see why nobody was told.
    """

    kind: ContactKind
    value: str  # normalised (E.164, or the checked email) when valid; as given otherwise
    valid: bool
    invalid_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """One status event in the native shape (design section 5), validated and normalised."""

    source: str
    event_id: str
    carrier: str
    tracking_number: str
    status: Status
    raw_status: str
    occurred_at: datetime  # aware, UTC
    reason: Reason | None = None
    raw_reason: str | None = None
    depot: str | None = None
    route_stop: int | None = None
    next_attempt_date: date | None = None
    next_attempt_window: str | None = None
    held_until: date | None = None
    pickup_point: str | None = None
    estimated_delivery: date | None = None
    recipient_name: str | None = None
    # Shown only as its first characters, so recipients can tell the parcel is theirs.
    recipient_postcode: str | None = None
    # For the depot only (a dispute to act on, the day's bookings), never on a public
    # page: the street lines given (line1, line2, city), one clean line each, joined by
    # line breaks (shipments.address_lines splits them).
    recipient_address: str | None = None
    recipient_locale: str | None = None
    sender_name: str | None = None
    contacts: tuple[ContactPoint, ...] = ()
    payload: str = ""  # the raw payload as received, JSON text
