"""Which message template serves which statuses and reasons, on which channels, by the rules."""

from __future__ import annotations

from dataclasses import dataclass, field

from notifier.config import Settings
from notifier.notify.rules import effective_rule
from notifier.purposes import Purpose
from notifier.rebooking.promise_watch import ALERT_TEMPLATE, APOLOGY_TEMPLATE, ESCALATION_TEMPLATE
from notifier.rebooking.sms_menu import REPLY_OPTIONS_TEMPLATE
from notifier.rebooking.store import CONFIRMATION_TEMPLATE, DISPUTE_TEMPLATE
from notifier.vocabulary import Channel, Reason, Status


@dataclass(slots=True)
class Served:
    """A template and everything it is sent for."""

    template: str
    channels: list[Channel] = field(default_factory=list)
    cases: list[tuple[Status, Reason | None]] = field(default_factory=list)
    why: str = ""  # which rule names it, for a missing file's message

    def add(self, status: Status, reason: Reason | None, channels: list[Channel]) -> None:
        if (status, reason) not in self.cases:
            self.cases.append((status, reason))
        self.channels.extend(c for c in channels if c not in self.channels)


def served_templates(settings: Settings) -> dict[str, Served]:
    """Every rule's template and reminder template, then the confirmation, the dispute and
    the messages about a broken promise."""
    found: dict[str, Served] = {}

    def serve(
        template: str, status: Status, reason: Reason | None, channels: list[Channel]
    ) -> None:
        why = f"rules.{status}" + (f".reasons.{reason}" if reason else "")
        entry = found.setdefault(template, Served(template, why=why))
        entry.add(status, reason, channels)

    for status in Status:
        for reason in (None, *Reason):
            rule = effective_rule(settings, status, reason)
            if rule is None:
                continue
            serve(rule.template, status, reason, rule.channels)
            if rule.reminder_template:
                serve(rule.reminder_template, status, reason, rule.channels)
            if _numbers_options(settings, rule.purpose, rule.channels):
                serve(REPLY_OPTIONS_TEMPLATE, status, reason, [Channel.SMS])
    found[CONFIRMATION_TEMPLATE] = Served(
        CONFIRMATION_TEMPLATE, [Channel.SMS, Channel.EMAIL], why="a rebooking page's confirmation"
    )
    found[DISPUTE_TEMPLATE] = Served(
        DISPUTE_TEMPLATE, [Channel.EMAIL], why="a disputed attempt forwarded to the depot"
    )
    found[APOLOGY_TEMPLATE] = Served(
        APOLOGY_TEMPLATE, [Channel.SMS, Channel.EMAIL], why="the apology for a broken promise"
    )
    found[ALERT_TEMPLATE] = Served(
        ALERT_TEMPLATE, [Channel.EMAIL], why="the depot's alert of a broken promise"
    )
    if settings.promises.supervisor_email is not None:
        found[ESCALATION_TEMPLATE] = Served(
            ESCALATION_TEMPLATE, [Channel.EMAIL], why="promises.supervisor_email"
        )
    return found


PROMISE_TEMPLATES = frozenset({APOLOGY_TEMPLATE, ALERT_TEMPLATE, ESCALATION_TEMPLATE})


def _numbers_options(settings: Settings, purpose: Purpose, channels: list[Channel]) -> bool:
    """Whether a missed delivery's SMS is followed by the one numbering reply options."""
    return (
        purpose == Purpose.MISSED_DELIVERY
        and Channel.SMS in channels
        and settings.rebooking.sms_reply_menu
        and settings.channels.sms.replies
    )
