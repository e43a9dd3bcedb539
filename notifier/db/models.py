"""The database tables: shipments, contacts, status events, the outbox, links, rebookings
and promises."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Dialect, Index, Text, UniqueConstraint, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from notifier.vocabulary import OutboxState


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the backend keeps.

    SQLite has no time zones and hands back naive values; storing naive UTC there and
    tagging it on the way out keeps every datetime in the code aware.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        assert isinstance(moment, datetime)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class ShipmentRow(SQLModel, table=True):
    """A parcel's current state: the newest event's status and the latest known facts.

    Carriers recycle tracking numbers, so (carrier, tracking_number) can have several
    generations; the highest is the live one.
    """

    __tablename__ = "shipments"
    __table_args__ = (
        UniqueConstraint("carrier", "tracking_number", "generation", name="uq_shipment_generation"),
        # The retention job's search: final for long enough and not yet anonymised.
        Index(
            "ix_shipments_to_anonymise",
            "status_occurred_at",
            sqlite_where=text("anonymised_at IS NULL"),
            postgresql_where=text("anonymised_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    carrier: str = Field(default="", max_length=64)
    tracking_number: str = Field(max_length=64)
    generation: int = Field(default=1)
    status: str = Field(max_length=32)
    reason: str | None = Field(default=None, max_length=32)
    status_occurred_at: datetime = Field(sa_type=UTCDateTime)
    first_event_at: datetime = Field(sa_type=UTCDateTime)
    depot: str | None = Field(default=None, max_length=64)
    route_stop: int | None = None
    next_attempt_date: date | None = None
    next_attempt_window: str | None = Field(default=None, max_length=32)
    held_until: date | None = None
    pickup_point: str | None = Field(default=None, max_length=64)
    estimated_delivery: date | None = None
    recipient_name: str | None = Field(default=None, max_length=200)
    recipient_postcode: str | None = Field(default=None, max_length=16)
    # The street lines, for the depot only: never on a page anyone with the link can open.
    recipient_address: str | None = Field(default=None, max_length=300)
    recipient_locale: str | None = Field(default=None, max_length=16)
    sender_name: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    # When retention cleared its recipient's data (privacy/retention.py); set by a
    # compare-and-set, so of several workers one does it.
    anonymised_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ContactPointRow(SQLModel, table=True):
    """A way to reach a shipment's recipient; invalid ones are kept with the reason."""

    __tablename__ = "contact_points"
    __table_args__ = (
        UniqueConstraint("shipment_id", "kind", "value", name="uq_contact_point"),
        # An SMS that comes in names only its sender: its parcels are found by the number.
        Index("ix_contact_points_kind_value", "kind", "value"),
    )

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = Field(foreign_key="shipments.id", index=True)
    kind: str = Field(max_length=8)
    value: str = Field(max_length=320)
    valid: bool
    invalid_reason: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)


class StatusEventRow(SQLModel, table=True):
    """Every event ever accepted, with the source's own payload and status code."""

    __tablename__ = "status_events"
    __table_args__ = (
        UniqueConstraint("source", "event_id", name="uq_status_event_source_id"),
        Index("ix_status_events_shipment_occurred", "shipment_id", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    event_id: str = Field(max_length=128)
    shipment_id: int = Field(foreign_key="shipments.id")
    status: str = Field(max_length=32)
    reason: str | None = Field(default=None, max_length=32)
    raw_status: str = Field(max_length=128)
    raw_reason: str | None = Field(default=None, max_length=128)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = Field(sa_type=UTCDateTime)
    payload: str = Field(sa_type=Text)


class OutboxRow(SQLModel, table=True):
    """One message to one recipient on one channel; the table is the send queue."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint(
            "shipment_id", "status_event_id", "channel", "purpose", name="uq_outbox_message"
        ),
        # The constraint above lets NULL events repeat (NULLs are distinct on both
        # databases): rows that answer no event are kept unique by these two.
        Index(
            "uq_outbox_eventless_booking",
            "shipment_id",
            "channel",
            "purpose",
            "rebooking_id",
            unique=True,
            sqlite_where=text("status_event_id IS NULL AND rebooking_id IS NOT NULL"),
            postgresql_where=text("status_event_id IS NULL AND rebooking_id IS NOT NULL"),
        ),
        Index(
            "uq_outbox_eventless",
            "shipment_id",
            "channel",
            "purpose",
            unique=True,
            sqlite_where=text("status_event_id IS NULL AND rebooking_id IS NULL"),
            postgresql_where=text("status_event_id IS NULL AND rebooking_id IS NULL"),
        ),
        Index("ix_outbox_state_due", "state", "due_at"),
        Index("ix_outbox_provider_id", "provider_id"),  # delivery receipts look rows up by it
        # Reconciliation asks the provider about SMS left in `sent` since long enough.
        Index("ix_outbox_state_sent", "state", "sent_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = Field(foreign_key="shipments.id", index=True)
    status_event_id: int | None = Field(default=None, foreign_key="status_events.id")
    # The recipient's choice a row answers (a confirmation, a dispute forwarded).
    rebooking_id: int | None = Field(default=None, foreign_key="rebookings.id")
    channel: str = Field(max_length=16)
    purpose: str = Field(max_length=64)
    template: str = Field(max_length=64)
    locale: str = Field(max_length=16)
    recipient: str = Field(max_length=320)
    subject: str | None = Field(default=None, max_length=300)
    # Rendered when sent (so a message reflects the shipment as it is then) and kept,
    # so ops can see exactly what went out.
    body: str | None = Field(default=None, sa_type=Text)
    body_html: str | None = Field(default=None, sa_type=Text)
    encoding: str | None = Field(default=None, max_length=8)
    segments: int | None = None
    state: str = Field(default=OutboxState.PENDING, max_length=16)
    attempts: int = Field(default=0)
    due_at: datetime = Field(sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    leased_by: str | None = Field(default=None, max_length=128)
    provider_id: str | None = Field(default=None, max_length=128)
    error_code: str | None = Field(default=None, max_length=32)
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # How often reconciliation asked the provider about a row still `sent`, and when last:
    # the compare-and-set on `receipt_checked_at` lets one worker of several ask at a time.
    receipt_checks: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    receipt_checked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OptOutRow(SQLModel, table=True):
    """An address that asked not to be messaged (STOP, unsubscribe, provider 21610)."""

    __tablename__ = "opt_outs"
    __table_args__ = (UniqueConstraint("channel", "address", name="uq_opt_out"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    address: str = Field(max_length=320)
    reason: str = Field(max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)


class UnsubscribeTokenRow(SQLModel, table=True):
    """The one-click unsubscribe address of one email address (RFC 8058).

    As with rebooking links, the token is never stored: only its hash (to look it up) and
    the random salt it is derived from with the server's secret key (to put it in the next
    email). Every email sent extends its expiry.
    """

    __tablename__ = "unsubscribe_tokens"
    __table_args__ = (UniqueConstraint("channel", "address", name="uq_unsubscribe_address"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    address: str = Field(max_length=320)
    salt: str = Field(max_length=64)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class InboundMessageRow(SQLModel, table=True):
    """A message a recipient sent us (an SMS reply), kept by the provider's id so a retry of
    the same message is answered once, and by sender and time for the per-number limit.

    The text itself is not kept: only what we made of it.
    """

    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_sender_received", "sender", "received_at"),)

    id: int | None = Field(default=None, primary_key=True)
    provider_id: str = Field(max_length=64, unique=True)  # Twilio's MessageSid
    channel: str = Field(max_length=16)
    sender: str = Field(max_length=32)
    kind: str = Field(max_length=16)  # stop, start, help, choice, status, limited, ...
    shipment_id: int | None = Field(default=None, foreign_key="shipments.id")
    received_at: datetime = Field(sa_type=UTCDateTime)


class RebookingLinkRow(SQLModel, table=True):
    """The rebooking link of one missed delivery, as printed on its slip and sent by SMS.

    The token and short code are never stored: only their hashes (to look them up) and
    the random salt they are derived from with the server's secret key (to print and
    send them again). A copy of the database alone yields no working link.
    """

    __tablename__ = "rebooking_links"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_rebooking_link_token"),
        UniqueConstraint("code_hash", name="uq_rebooking_link_code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = Field(foreign_key="shipments.id", index=True)
    status_event_id: int = Field(foreign_key="status_events.id")
    salt: str = Field(max_length=32)
    # Bumped when a derived short code collides with a live one.
    code_round: int = Field(default=0)
    token_hash: str = Field(max_length=64)
    code_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeliverySlotRow(SQLModel, table=True):
    """One depot's delivery window on one day, and how many rebookings it has taken.

    The CHECK is the last word on capacity: whatever the code path, the database refuses
    a booking past it.
    """

    __tablename__ = "delivery_slots"
    __table_args__ = (
        UniqueConstraint("depot", "day", "window", name="uq_delivery_slot"),
        CheckConstraint("booked >= 0 AND booked <= capacity", name="ck_delivery_slot_capacity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    depot: str = Field(max_length=64)
    day: date
    window: str = Field(max_length=11)
    capacity: int
    booked: int = Field(default=0)


class RebookingRow(SQLModel, table=True):
    """What a recipient chose on the rebooking page; a newer choice replaces it."""

    __tablename__ = "rebookings"
    __table_args__ = (
        # The same form sent twice (double tap, back button) is one booking.
        UniqueConstraint("link_id", "submission", name="uq_rebooking_submission"),
        Index("ix_rebookings_day", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = Field(foreign_key="shipments.id", index=True)
    link_id: int = Field(foreign_key="rebooking_links.id")
    submission: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    slot_id: int | None = Field(default=None, foreign_key="delivery_slots.id")
    day: date | None = None
    window: str | None = Field(default=None, max_length=11)
    pickup_point: str | None = Field(default=None, max_length=64)
    neighbour_name: str | None = Field(default=None, max_length=100)
    neighbour_door: str | None = Field(default=None, max_length=100)
    # Safe-place description, or the recipient's comment on a dispute.
    instructions: str | None = Field(default=None, max_length=500)
    # A callback is a promise: it is due at the start of the chosen window.
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    locale: str = Field(max_length=16)
    created_at: datetime = Field(sa_type=UTCDateTime)
    replaced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PromiseRow(SQLModel, table=True):
    """Something the courier said would happen, in a window: a booked callback or slot, a
    neighbour or safe-place instruction, a next attempt a missed-delivery event announced.

    A promise comes from one rebooking or one status event (the CHECK), and is recorded
    once for it (the two partial unique indexes: NULLs are distinct on both databases).
    """

    __tablename__ = "promises"
    __table_args__ = (
        CheckConstraint(
            "(rebooking_id IS NULL) <> (status_event_id IS NULL)", name="ck_promise_source"
        ),
        Index(
            "uq_promise_rebooking",
            "kind",
            "rebooking_id",
            unique=True,
            sqlite_where=text("rebooking_id IS NOT NULL"),
            postgresql_where=text("rebooking_id IS NOT NULL"),
        ),
        Index(
            "uq_promise_status_event",
            "kind",
            "status_event_id",
            unique=True,
            sqlite_where=text("status_event_id IS NOT NULL"),
            postgresql_where=text("status_event_id IS NOT NULL"),
        ),
        # The watch looks for open promises whose window has ended; the day's figures
        # and the callbacks list select by the window's start.
        Index("ix_promises_state_window_end", "state", "window_end"),
        Index("ix_promises_window_start", "window_start"),
        # A message about a promise finds it by its source alone (sending/store.py): the
        # unique indexes lead with the kind, which the message does not know.
        Index("ix_promises_rebooking_id", "rebooking_id"),
        Index("ix_promises_status_event_id", "status_event_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    state: str = Field(max_length=16)
    shipment_id: int = Field(foreign_key="shipments.id", index=True)
    rebooking_id: int | None = Field(default=None, foreign_key="rebookings.id")
    status_event_id: int | None = Field(default=None, foreign_key="status_events.id")
    depot: str | None = Field(default=None, max_length=64)
    window_start: datetime = Field(sa_type=UTCDateTime)
    window_end: datetime = Field(sa_type=UTCDateTime)
    kept_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When it broke: its window's end, whenever that was noticed.
    broken_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    excused_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    excuse: str | None = Field(default=None, max_length=16)
    # Callbacks only: who called, when, and what came of it.
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_by: str | None = Field(default=None, max_length=100)
    outcome: str | None = Field(default=None, max_length=16)
    note: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class SendPaceRow(SQLModel, table=True):
    """A sender's next free moment (channels.sms.max_per_second), shared by every worker:
    each send books the slot after it, so N workers together keep one sender's pace."""

    __tablename__ = "send_pace"

    sender: str = Field(max_length=64, primary_key=True)  # the From number or Messaging Service
    next_at: datetime = Field(sa_type=UTCDateTime)


class FeedbackLinkRow(SQLModel, table=True):
    """The rating link of one delivered parcel, the same in its SMS and its email.

    As with unsubscribe tokens, the token is never stored: only its hash (to look it up)
    and the random salt it is derived from with the server's secret key (to put it in a
    message rendered again). The locale is the message's: the page speaks it.
    """

    __tablename__ = "feedback_links"
    __table_args__ = (
        UniqueConstraint("shipment_id", name="uq_feedback_link_shipment"),
        UniqueConstraint("token_hash", name="uq_feedback_link_token"),
    )

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = Field(foreign_key="shipments.id")
    salt: str = Field(max_length=32)
    token_hash: str = Field(max_length=64)
    locale: str = Field(max_length=16)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class FeedbackRow(SQLModel, table=True):
    """A recipient's rating of a delivery: one per parcel, changeable for a while.

    The comment is untrusted text, kept inert (control characters removed) and shown
    escaped; the depot is the shipment's when the answer was given.
    """

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("shipment_id", name="uq_feedback_shipment"),
        CheckConstraint("score >= 1 AND score <= 5", name="ck_feedback_score"),
        Index("ix_feedback_created_at", "created_at"),  # the dashboard selects by period
    )

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = Field(foreign_key="shipments.id")
    depot: str | None = Field(default=None, max_length=64)
    score: int
    comment: str | None = Field(default=None, sa_type=Text)
    locale: str = Field(max_length=16)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
