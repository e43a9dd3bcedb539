"""The decision: which messages an event calls for, on which channel, and when."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from notifier.config import Settings
from notifier.notify.rules import Intent, Recipient, decide, effective_rule
from notifier.tracking import Transition
from notifier.vocabulary import ContactKind, ContactPoint, Event, Reason, Status
from tests.conftest import make_settings

ROME = ZoneInfo("Europe/Rome")
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # 11:00 in Rome
PHONE = ContactPoint(ContactKind.PHONE, "+393331234567", True)
EMAIL = ContactPoint(ContactKind.EMAIL, "giovanni@example.it", True)
NEW = Transition(took_over=True, previous_status=None, previous_status_at=None)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return make_settings("sqlite://")


def event(status: Status, *, at: datetime = NOW, **facts: object) -> Event:
    base = Event(
        source="tms",
        event_id="e1",
        carrier="rapido",
        tracking_number="RP1",
        status=status,
        raw_status=str(status),
        occurred_at=at,
    )
    return replace(base, **facts)  # type: ignore[arg-type]


def recipient(
    *contacts: ContactPoint, opted_out: frozenset[tuple[str, str]] = frozenset()
) -> Recipient:
    return Recipient(contacts=contacts, opted_out=opted_out, locale="it", tz=ROME)


def plan(
    settings: Settings, ev: Event, who: Recipient, transition: Transition = NEW, now: datetime = NOW
) -> list[Intent]:
    return decide(ev, transition=transition, recipient=who, settings=settings, now=now)


@pytest.mark.parametrize(
    ("status", "template"),
    [
        (Status.CREATED, "created"),
        (Status.OUT_FOR_DELIVERY, "out_for_delivery"),
        (Status.DELIVERY_ATTEMPTED, "missed_delivery"),
        (Status.AVAILABLE_FOR_PICKUP, "ready_for_pickup"),
        (Status.DELIVERED, "delivered"),
        (Status.EXCEPTION, "exception"),
        (Status.RETURNING, "returning"),
    ],
)
def test_every_status_of_the_design_table_sends_its_message(
    settings: Settings, status: Status, template: str
) -> None:
    first = plan(settings, event(status), recipient(PHONE, EMAIL))[0]
    assert (first.channel, first.template, first.recipient) == ("sms", template, PHONE.value)
    assert first.suppressed is None


@pytest.mark.parametrize("status", [Status.IN_TRANSIT, Status.CANCELLED, Status.UNKNOWN])
def test_statuses_without_a_rule_send_nothing(settings: Settings, status: Status) -> None:
    assert plan(settings, event(status), recipient(PHONE)) == []


def test_a_reason_override_changes_the_template(settings: Settings) -> None:
    rule = effective_rule(settings, Status.DELIVERY_ATTEMPTED, Reason.PAYMENT_REQUIRED)
    assert rule is not None
    assert rule.template == "missed_delivery_payment"
    assert rule.purpose == "missed_delivery"


def test_a_disabled_reason_sends_nothing() -> None:
    settings = make_settings(
        "sqlite://", rules={"EXCEPTION": {"reasons": {"WEATHER": {"enabled": False}}}}
    )
    ev = event(Status.EXCEPTION, reason=Reason.WEATHER)
    assert plan(settings, ev, recipient(PHONE)) == []
    assert plan(settings, replace(ev, reason=Reason.DAMAGED), recipient(PHONE)) != []


def test_email_when_there_is_no_phone(settings: Settings) -> None:
    (only,) = plan(settings, event(Status.DELIVERED), recipient(EMAIL))
    assert (only.channel, only.recipient) == ("email", EMAIL.value)


def test_an_invalid_phone_is_recorded_as_suppressed_and_email_used(settings: Settings) -> None:
    landline = ContactPoint(ContactKind.PHONE, "02 1234 5678", False, "not a mobile number")
    suppressed, sent = plan(settings, event(Status.DELIVERED), recipient(landline, EMAIL))
    assert suppressed.channel == "sms"
    assert suppressed.suppressed is not None
    assert "not a mobile number" in suppressed.suppressed
    assert (sent.channel, sent.suppressed) == ("email", None)


def test_an_opted_out_phone_is_suppressed(settings: Settings) -> None:
    who = recipient(PHONE, opted_out=frozenset({("sms", PHONE.value)}))
    (suppressed,) = plan(settings, event(Status.DELIVERED), who)
    assert suppressed.suppressed == "recipient opted out"


def test_no_contact_at_all_sends_nothing(settings: Settings) -> None:
    assert plan(settings, event(Status.DELIVERED), recipient()) == []


def test_the_newest_valid_phone_is_used(settings: Settings) -> None:
    newer = ContactPoint(ContactKind.PHONE, "+393339999999", True)
    (sent,) = plan(settings, event(Status.DELIVERED), recipient(PHONE, newer))
    assert sent.recipient == newer.value


def test_an_event_at_23_30_waits_until_8_local(settings: Settings) -> None:
    late = datetime(2026, 11, 22, 22, 30, tzinfo=UTC)  # 23:30 in Rome
    (sent,) = plan(settings, event(Status.DELIVERED, at=late), recipient(PHONE), now=late)
    assert sent.due_at == datetime(2026, 11, 23, 8, 0, tzinfo=ROME)


def test_out_for_delivery_is_held_for_the_coalescing_delay(settings: Settings) -> None:
    (sent,) = plan(settings, event(Status.OUT_FOR_DELIVERY), recipient(PHONE))
    assert sent.due_at == NOW + timedelta(minutes=5)


def test_a_missed_delivery_schedules_a_reminder_a_day_later(settings: Settings) -> None:
    message, reminder = plan(settings, event(Status.DELIVERY_ATTEMPTED), recipient(PHONE))
    assert message.due_at == NOW
    assert (reminder.purpose, reminder.template) == (
        "missed_delivery_reminder",
        "missed_delivery_reminder",
    )
    assert reminder.due_at == NOW + timedelta(hours=24)


def test_a_pickup_reminder_goes_two_days_before_the_deadline_at_ten(settings: Settings) -> None:
    ev = event(Status.AVAILABLE_FOR_PICKUP, held_until=date(2026, 12, 2))
    _, reminder = plan(settings, ev, recipient(PHONE))
    assert reminder.due_at == datetime(2026, 11, 30, 10, 0, tzinfo=ROME)
    soon = replace(ev, held_until=date(2026, 11, 23))
    assert len(plan(settings, soon, recipient(PHONE))) == 1  # the reminder would be past


def test_late_and_overtaken_events_send_nothing(settings: Settings) -> None:
    late = Transition(took_over=False, previous_status=Status.DELIVERED, previous_status_at=NOW)
    assert plan(settings, event(Status.OUT_FOR_DELIVERY), recipient(PHONE), late) == []


def test_stale_events_send_nothing(settings: Settings) -> None:
    old = event(Status.DELIVERED, at=NOW - timedelta(hours=49))
    assert plan(settings, old, recipient(PHONE)) == []


def test_the_same_status_again_soon_does_not_repeat_but_next_day_does(settings: Settings) -> None:
    soon = Transition(True, Status.DELIVERY_ATTEMPTED, NOW - timedelta(hours=2))
    assert plan(settings, event(Status.DELIVERY_ATTEMPTED), recipient(PHONE), soon) == []
    next_day = Transition(True, Status.DELIVERY_ATTEMPTED, NOW - timedelta(hours=24))
    assert plan(settings, event(Status.DELIVERY_ATTEMPTED), recipient(PHONE), next_day) != []
