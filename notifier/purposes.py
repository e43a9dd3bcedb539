"""Why an outbox row exists: the built-in purposes, and which of them ops' rules may name.

A purpose is a plain word; what a row refers to (the event it answers, the booking it
confirms) lives in typed columns of its own, never inside the purpose text.
"""

from __future__ import annotations

from enum import StrEnum


class Purpose(StrEnum):
    PARCEL_RECEIVED = "parcel_received"
    ARRIVING_TODAY = "arriving_today"
    MISSED_DELIVERY = "missed_delivery"
    READY_FOR_PICKUP = "ready_for_pickup"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNING = "returning"
    # A status rule's reminder (design section 6: "reminder if not rebooked after 24 h").
    PARCEL_RECEIVED_REMINDER = "parcel_received_reminder"
    ARRIVING_TODAY_REMINDER = "arriving_today_reminder"
    MISSED_DELIVERY_REMINDER = "missed_delivery_reminder"
    READY_FOR_PICKUP_REMINDER = "ready_for_pickup_reminder"
    DELIVERED_REMINDER = "delivered_reminder"
    EXCEPTION_REMINDER = "exception_reminder"
    RETURNING_REMINDER = "returning_reminder"
    # About a recipient's rebooking choice (the row's rebooking_id names it).
    REBOOKING_CONFIRMED = "rebooking_confirmed"
    DISPUTE_FORWARD = "dispute_forward"
    # The SMS after a missed delivery's own that numbers what a reply books
    # (rebooking.sms_reply_menu); it answers the same event, by SMS only.
    REPLY_OPTIONS = "reply_options"
    # A broken promise (the row's rebooking_id or status_event_id is the promise's own):
    # the recipient's apology and the depot's alert, once each (rebooking/promise_watch.py).
    PROMISE_APOLOGY = "promise_apology"
    PROMISE_ALERT = "promise_alert"
    # A broken callback still not made after promises.escalate_after_hours: the supervisor.
    PROMISE_ESCALATION = "promise_escalation"

    @property
    def reminder(self) -> Purpose:
        """The purpose of this status message's reminder."""
        return REMINDER_OF[self]


# What a status rule in the configuration may name as its purpose.
RULE_PURPOSES: tuple[Purpose, ...] = (
    Purpose.PARCEL_RECEIVED,
    Purpose.ARRIVING_TODAY,
    Purpose.MISSED_DELIVERY,
    Purpose.READY_FOR_PICKUP,
    Purpose.DELIVERED,
    Purpose.EXCEPTION,
    Purpose.RETURNING,
)
REMINDER_OF = {purpose: Purpose(f"{purpose.value}_reminder") for purpose in RULE_PURPOSES}
PURPOSE_BY_VALUE = {purpose.value: purpose for purpose in Purpose}
# Mail to the courier's own staff (the depot acts on a dispute), not to a recipient: it
# carries no unsubscribe link, and no recipient's opt-out of the same address holds it back.
TO_THE_COMPANY = frozenset(
    {Purpose.DISPUTE_FORWARD, Purpose.PROMISE_ALERT, Purpose.PROMISE_ESCALATION}
)
# About a broken promise: what they say holds whatever the parcel or the recipient did since.
ABOUT_A_PROMISE = frozenset(
    {Purpose.PROMISE_APOLOGY, Purpose.PROMISE_ALERT, Purpose.PROMISE_ESCALATION}
)
