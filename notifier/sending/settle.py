"""What becomes of a claimed outbox row before and after sending. Pure verdicts.

Whether it still makes sense (a newer status or a newer choice supersedes it), whether
it may go to this address at all, and where it goes instead when its channel refuses
it for good.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum

from notifier.config import Settings
from notifier.notify.rules import effective_rule, first_usable
from notifier.outbox.rows import ClaimedRow
from notifier.purposes import ABOUT_A_PROMISE, REMINDER_OF, TO_THE_COMPANY, Purpose
from notifier.rebooking.choices import Booked
from notifier.rebooking.promises import Promised
from notifier.shipments import EventRecord, ShipmentRecord
from notifier.vocabulary import (
    CHANNEL_CONTACT,
    TERMINAL_STATUSES,
    CallbackOutcome,
    Channel,
    ContactPoint,
    OutboxState,
    Status,
)


class SettleOutcome(StrEnum):
    """How one claimed row ended this tick."""

    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"
    SUPPRESSED = "suppressed"
    LOST = "lost"  # the lease ran out meanwhile: another worker holds the row now
    PACED = "paced"  # back to pending until its sender's next free moment (not an attempt)


# Messages whose point is to ask for a choice: every reminder, the missed delivery and the
# options its reply can book.
_ASKS_TO_CHOOSE = frozenset({Purpose.MISSED_DELIVERY, Purpose.REPLY_OPTIONS, *REMINDER_OF.values()})
# Messages with no fallback: options a reply books mean nothing by email.
_SMS_ONLY = frozenset({Purpose.REPLY_OPTIONS})
_REMINDERS = frozenset(REMINDER_OF.values())


@dataclass(frozen=True, slots=True)
class Verdict:
    """A row that is finished without being sent, and why."""

    state: OutboxState
    reason: str


def before_sending(
    message: ClaimedRow,
    *,
    shipment: ShipmentRecord,
    event: EventRecord | None,
    booking: Booked | None,
    choice: Booked | None = None,
    promise: Promised | None = None,
    opted_out: Collection[tuple[str, str]],
    settings: Settings,
) -> Verdict | None:
    """None when the row should be rendered and sent; else how it ends, and why."""
    if message.attempts > settings.dispatch.max_attempts:
        # Claimed again and again without an outcome: a worker dies on it each time.
        return Verdict(OutboxState.DEAD, "gave up: no outcome recorded")
    stale = stale_because(
        message,
        shipment=shipment,
        event=event,
        booking=booking,
        choice=choice,
        promise=promise,
        settings=settings,
    )
    if stale:
        return Verdict(OutboxState.CANCELLED, stale)
    if message.purpose not in TO_THE_COMPANY and (message.channel, message.recipient) in opted_out:
        return Verdict(OutboxState.SUPPRESSED, "recipient opted out")
    return None


def stale_because(
    message: ClaimedRow,
    *,
    shipment: ShipmentRecord,
    event: EventRecord | None,
    booking: Booked | None,
    choice: Booked | None = None,
    promise: Promised | None = None,
    settings: Settings,
) -> str | None:
    """Why the message no longer fits, if it does not.

    A message about an event is superseded by a newer status that ends the shipment or
    calls for a message of its own; an in-between status (IN_TRANSIT) does not, so "we
    have your parcel" still goes out when the parcel starts moving a minute later. A
    confirmation answers the recipient's own choice, so no status makes it stale; a
    newer choice does, and that choice's confirmation goes instead. The depot hears of
    a dispute whatever the recipient chose after it. A reminder to choose, or a "we missed
    you, choose" still waiting for the morning, is stale once the recipient has chosen
    (`choice`, the shipment's current one) after the event it answers: it would contradict
    the booking. A broken promise's apology and alert stay true whatever came after, but
    for two things: an apology still waiting (for the morning) is stale once the parcel is
    delivered, or once a late callback reached the recipient; the depot's alert and the
    supervisor's escalation are stale once the late callback is recorded (`promise`).
    A reminder is true only while its event is still the shipment's current status.
    """
    if message.purpose in ABOUT_A_PROMISE:
        apology = message.purpose == Purpose.PROMISE_APOLOGY
        if apology and shipment.status == Status.DELIVERED:
            return "stale: the parcel has been delivered since"
        if promise is not None and promise.done_at is not None:
            # The call was made late: staff need no alert for it, and a recipient who
            # was reached needs no apology for a call they have had.
            if not apology:
                return "stale: the callback has been made since"
            if promise.outcome is CallbackOutcome.REACHED:
                return "stale: the recipient has been called since"
        return None
    if message.rebooking_id is not None:
        dispute = message.purpose == Purpose.DISPUTE_FORWARD
        if booking is None:
            return f"stale: {'dispute' if dispute else 'booking'} {message.rebooking_id} not found"
        if not dispute and booking.replaced_at is not None:
            return "stale: the recipient has since made another choice"
        return None
    if (
        event is not None
        and choice is not None
        and message.purpose in _ASKS_TO_CHOOSE
        and choice.created_at >= event.occurred_at
    ):
        return "stale: the recipient has chosen since"
    if (
        event is not None
        and message.purpose in _REMINDERS
        and (shipment.status != event.status or shipment.status_occurred_at > event.occurred_at)
    ):
        # A reminder repeats what its event said ("still waiting at ..."); once any later
        # event has moved the parcel on (even an in-between status, or a second attempt
        # with its own reminder) it would say something no longer true.
        return f"stale: a newer {shipment.status} event has replaced it"
    if event is None or shipment.status == event.status:
        return None
    if shipment.status in TERMINAL_STATUSES or effective_rule(
        settings, shipment.status, shipment.reason
    ):
        return f"stale: the shipment is now {shipment.status}"
    return None


def fallback_target(
    message: ClaimedRow,
    *,
    event: EventRecord | None,
    contacts: Sequence[ContactPoint],
    opted_out: Collection[tuple[str, str]],
    settings: Settings,
) -> tuple[Channel, str] | None:
    """The rule's next channel with a usable address, after a permanent failure on this one."""
    if event is None or message.purpose in _SMS_ONLY:
        return None
    rule = effective_rule(settings, event.status, event.reason)
    if rule is None or message.channel not in rule.channels:
        return None
    for channel in rule.channels[rule.channels.index(Channel(message.channel)) + 1 :]:
        contact = first_usable(contacts, CHANNEL_CONTACT[channel], channel, opted_out)
        if contact is not None:
            return channel, contact.value
    return None
