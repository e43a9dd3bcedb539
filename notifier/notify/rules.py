"""The pure decision: which messages an event calls for, on which channel, and when."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from notifier.config import Settings
from notifier.config.settings import Rule
from notifier.locales import Language
from notifier.notify.quiethours import next_allowed
from notifier.purposes import Purpose
from notifier.tracking import Transition
from notifier.vocabulary import (
    CHANNEL_CONTACT,
    Channel,
    ContactKind,
    ContactPoint,
    Event,
    Reason,
    Status,
)


@dataclass(frozen=True, slots=True)
class Recipient:
    contacts: tuple[ContactPoint, ...]  # oldest first
    opted_out: frozenset[tuple[str, str]]  # (channel, address)
    locale: Language
    tz: ZoneInfo


@dataclass(frozen=True, slots=True)
class Intent:
    """One outbox row to write: pending, or recorded as suppressed with the reason."""

    channel: Channel
    purpose: Purpose
    template: str
    locale: Language
    recipient: str
    due_at: datetime
    suppressed: str | None = None


def first_usable(
    contacts: Sequence[ContactPoint],
    kind: ContactKind,
    channel: Channel,
    opted_out: Collection[tuple[str, str]],
) -> ContactPoint | None:
    """The newest valid contact of this kind that has not opted out of this channel.

    `contacts` are oldest first, as stored: a recipient's latest number or address wins.
    """
    for contact in reversed(contacts):
        if contact.kind is kind and contact.valid and (channel, contact.value) not in opted_out:
            return contact
    return None


def effective_rule(settings: Settings, status: Status, reason: Reason | None) -> Rule | None:
    """The status's rule with its per-reason override applied; None when nothing is sent."""
    rule = settings.rules.get(status)
    if rule is None:
        return None
    override = rule.reasons.get(reason) if reason is not None else None
    if override is not None:
        changes = override.model_dump(exclude_none=True)
        rule = rule.model_copy(update=changes)
    return rule if rule.enabled else None


def should_notify(
    event: Event, transition: Transition, *, settings: Settings, now: datetime
) -> bool:
    if not transition.took_over:
        return False  # late or overtaken: saying it now would be stale
    if now - event.occurred_at > timedelta(hours=settings.notifications.max_event_age_hours):
        return False
    repeat = timedelta(hours=settings.notifications.repeat_after_hours)
    return not (
        transition.previous_status is event.status
        and transition.previous_status_at is not None
        and event.occurred_at - transition.previous_status_at < repeat
    )


def decide(
    event: Event,
    *,
    transition: Transition,
    recipient: Recipient,
    settings: Settings,
    now: datetime,
) -> list[Intent]:
    """The messages this event calls for; empty when it calls for none."""
    rule = effective_rule(settings, event.status, event.reason)
    if rule is None or not should_notify(event, transition, settings=settings, now=now):
        return []
    chosen, intents = _choose_channel(rule, recipient, now)
    if chosen is None:
        return intents
    channel, address = chosen

    def intent(purpose: Purpose, template: str, not_before: datetime) -> Intent:
        due = _due(not_before, recipient, settings)
        return Intent(channel, purpose, template, recipient.locale, address, due)

    intents.append(intent(rule.purpose, rule.template, now + timedelta(minutes=rule.delay_minutes)))
    reminder_at = _reminder_time(rule, event, recipient, settings, now)
    if reminder_at is not None and rule.reminder_template:
        intents.append(intent(rule.purpose.reminder, rule.reminder_template, reminder_at))
    return intents


def _choose_channel(
    rule: Rule, recipient: Recipient, now: datetime
) -> tuple[tuple[Channel, str] | None, list[Intent]]:
    """The first channel in the rule's order with a usable address.

    Unusable addresses met on the way are recorded as suppressed, so ops can see why
    a preferred channel was skipped.
    """
    skipped: list[Intent] = []
    for channel in rule.channels:
        kind = CHANNEL_CONTACT[channel]
        usable = first_usable(recipient.contacts, kind, channel, recipient.opted_out)
        if usable is not None:
            return (channel, usable.value), skipped
        candidates = [c for c in reversed(recipient.contacts) if c.kind is kind]
        if candidates:
            newest = candidates[0]
            why = (
                f"invalid contact: {newest.invalid_reason}"
                if not newest.valid
                else "recipient opted out"
            )
            skipped.append(
                Intent(
                    channel,
                    rule.purpose,
                    rule.template,
                    recipient.locale,
                    newest.value,
                    now,
                    suppressed=why,
                )
            )
    return None, skipped


def _due(not_before: datetime, recipient: Recipient, settings: Settings) -> datetime:
    quiet = settings.quiet_hours
    return next_allowed(not_before, tz=recipient.tz, start=quiet.start, end=quiet.end)


def _reminder_time(
    rule: Rule, event: Event, recipient: Recipient, settings: Settings, now: datetime
) -> datetime | None:
    if rule.reminder_after_hours is not None:
        return now + timedelta(hours=rule.reminder_after_hours)
    if rule.reminder_days_before_deadline is not None and event.held_until is not None:
        day = event.held_until - timedelta(days=rule.reminder_days_before_deadline)
        at = datetime.combine(day, settings.notifications.reminder_time, tzinfo=recipient.tz)
        return at.astimezone(UTC) if at > now else None
    return None
