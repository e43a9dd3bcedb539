"""The dispatcher's pure policies as tables: staleness and supersession, the verdict before
sending, the fallback channel, the retry schedule."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from notifier.config import Settings
from notifier.outbox.rows import ClaimedRow
from notifier.purposes import Purpose
from notifier.rebooking.choices import Booked, Choice
from notifier.sending.retry import gives_up, retry_delay, unreachable_retry_at
from notifier.sending.settle import Verdict, before_sending, fallback_target, stale_because
from notifier.shipments import EventRecord, ShipmentRecord
from notifier.vocabulary import (
    Channel,
    ContactKind,
    ContactPoint,
    OutboxState,
    Reason,
    RebookOption,
    Status,
)
from tests.conftest import make_settings

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PHONE = ContactPoint(ContactKind.PHONE, "+393331234567", True)
OLD_PHONE = ContactPoint(ContactKind.PHONE, "+393330000000", True)
EMAIL = ContactPoint(ContactKind.EMAIL, "giovanni@example.it", True)
BAD_EMAIL = ContactPoint(ContactKind.EMAIL, "giovanni@", False, "no domain")


@pytest.fixture(scope="module")
def settings() -> Settings:
    return make_settings("sqlite://")


def shipment(status: Status, reason: Reason | None = None) -> ShipmentRecord:
    return ShipmentRecord(
        id=1,
        carrier="rapido",
        tracking_number="RP123456789IT",
        generation=1,
        status=status,
        reason=reason,
        status_occurred_at=NOW,
        first_event_at=NOW,
        depot="MI01",
        route_stop=None,
        next_attempt_date=None,
        next_attempt_window=None,
        held_until=None,
        pickup_point=None,
        estimated_delivery=None,
        recipient_name=None,
        recipient_postcode=None,
        recipient_locale=None,
        sender_name=None,
    )


def event(status: Status, reason: Reason | None = None) -> EventRecord:
    return EventRecord(id=7, status=status, reason=reason, occurred_at=NOW)


def row(
    *,
    channel: str = "sms",
    purpose: str = "missed_delivery",
    event_id: int | None = 7,
    rebooking_id: int | None = None,
    attempts: int = 1,
    recipient: str = "+393331234567",
) -> ClaimedRow:
    return ClaimedRow(
        id=1,
        shipment_id=1,
        status_event_id=event_id,
        rebooking_id=rebooking_id,
        channel=channel,
        purpose=purpose,
        template="missed_delivery",
        locale="it",
        recipient=recipient,
        attempts=attempts,
    )


def booking(replaced: bool = False) -> Booked:
    return Booked(
        id=3,
        choice=Choice(kind=RebookOption.SLOT),
        created_at=NOW,
        due_at=None,
        replaced_at=NOW if replaced else None,
    )


@pytest.mark.parametrize(
    ("message", "now_status", "about", "booked", "expected"),
    [
        pytest.param(
            row(),
            Status.DELIVERY_ATTEMPTED,
            Status.DELIVERY_ATTEMPTED,
            None,
            None,
            id="same-status",
        ),
        pytest.param(row(), Status.IN_TRANSIT, Status.CREATED, None, None, id="in-between-status"),
        pytest.param(
            row(),
            Status.DELIVERED,
            Status.OUT_FOR_DELIVERY,
            None,
            "stale: the shipment is now DELIVERED",
            id="terminal-supersedes",
        ),
        pytest.param(
            row(),
            Status.DELIVERY_ATTEMPTED,
            Status.OUT_FOR_DELIVERY,
            None,
            "stale: the shipment is now DELIVERY_ATTEMPTED",
            id="notifying-status-supersedes",
        ),
        pytest.param(
            row(event_id=None, rebooking_id=3, purpose="rebooking_confirmed"),
            Status.DELIVERED,
            None,
            booking(),
            None,
            id="confirmation-survives-delivery",
        ),
        pytest.param(
            row(event_id=None, rebooking_id=3, purpose="rebooking_confirmed"),
            Status.DELIVERY_ATTEMPTED,
            None,
            booking(replaced=True),
            "stale: the recipient has since made another choice",
            id="newer-choice",
        ),
        pytest.param(
            row(event_id=None, rebooking_id=3, purpose="rebooking_confirmed"),
            Status.DELIVERY_ATTEMPTED,
            None,
            None,
            "stale: booking 3 not found",
            id="booking-gone",
        ),
        pytest.param(
            row(event_id=None, rebooking_id=3, purpose="dispute_forward", channel="email"),
            Status.DELIVERY_ATTEMPTED,
            None,
            booking(replaced=True),
            None,
            id="dispute-goes-whatever-came-after",
        ),
        pytest.param(
            row(event_id=None, rebooking_id=3, purpose="dispute_forward", channel="email"),
            Status.DELIVERY_ATTEMPTED,
            None,
            None,
            "stale: dispute 3 not found",
            id="dispute-gone",
        ),
    ],
)
def test_stale_because(
    settings: Settings,
    message: ClaimedRow,
    now_status: Status,
    about: Status | None,
    booked: Booked | None,
    expected: str | None,
) -> None:
    answered = event(about) if about is not None else None
    verdict = stale_because(
        message, shipment=shipment(now_status), event=answered, booking=booked, settings=settings
    )
    assert verdict == expected


def chosen(at: datetime) -> Booked:
    return Booked(id=4, choice=Choice(kind=RebookOption.PICKUP), created_at=at, due_at=None)


@pytest.mark.parametrize(
    ("purpose", "choice", "expected"),
    [
        pytest.param(
            "missed_delivery_reminder",
            chosen(NOW + timedelta(hours=2)),
            "stale: the recipient has chosen since",
            id="reminder-after-a-choice",
        ),
        pytest.param(
            "missed_delivery",
            chosen(NOW + timedelta(minutes=5)),
            "stale: the recipient has chosen since",
            id="morning-send-after-an-evening-choice",
        ),
        pytest.param(
            "ready_for_pickup_reminder",
            chosen(NOW),
            "stale: the recipient has chosen since",
            id="pickup-reminder-same-minute",
        ),
        pytest.param(
            "missed_delivery_reminder",
            chosen(NOW - timedelta(days=1)),
            None,
            id="a-choice-before-this-attempt-does-not-answer-it",
        ),
        pytest.param("missed_delivery_reminder", None, None, id="no-choice"),
        pytest.param(
            "arriving_today",
            chosen(NOW + timedelta(hours=1)),
            None,
            id="news-is-not-a-request-to-choose",
        ),
    ],
)
def test_a_choice_makes_requests_to_choose_stale(
    settings: Settings, purpose: str, choice: Booked | None, expected: str | None
) -> None:
    attempted = Status.DELIVERY_ATTEMPTED
    verdict = stale_because(
        row(purpose=purpose),
        shipment=shipment(attempted),
        event=event(attempted),
        booking=None,
        choice=choice,
        settings=settings,
    )
    assert verdict == expected


def moved_on(status: Status, *, later: timedelta) -> ShipmentRecord:
    """The shipment as it is when its current status came `later` than NOW."""
    return replace(shipment(status), status_occurred_at=NOW + later)


@pytest.mark.parametrize(
    ("purpose", "now_status", "later", "expected"),
    [
        pytest.param(
            "ready_for_pickup_reminder",
            Status.AVAILABLE_FOR_PICKUP,
            timedelta(0),
            None,
            id="pickup-reminder-while-still-waiting",
        ),
        pytest.param(
            "ready_for_pickup_reminder",
            Status.AVAILABLE_FOR_PICKUP,
            timedelta(hours=3),
            "stale: a newer AVAILABLE_FOR_PICKUP event has replaced it",
            id="moved-to-another-point-or-deadline",
        ),
        pytest.param(
            "ready_for_pickup_reminder",
            Status.IN_TRANSIT,
            timedelta(hours=3),
            "stale: a newer IN_TRANSIT event has replaced it",
            id="left-the-pickup-point",
        ),
        pytest.param(
            "missed_delivery_reminder",
            Status.DELIVERY_ATTEMPTED,
            timedelta(days=1),
            "stale: a newer DELIVERY_ATTEMPTED event has replaced it",
            id="second-attempt-has-its-own-reminder",
        ),
        pytest.param(
            "missed_delivery",
            Status.DELIVERY_ATTEMPTED,
            timedelta(days=1),
            None,
            id="not-a-reminder",
        ),
    ],
)
def test_a_reminder_goes_only_while_its_event_is_the_current_status(
    settings: Settings, purpose: str, now_status: Status, later: timedelta, expected: str | None
) -> None:
    about = (
        Status.DELIVERY_ATTEMPTED if purpose.startswith("missed") else Status.AVAILABLE_FOR_PICKUP
    )
    verdict = stale_because(
        row(purpose=purpose),
        shipment=moved_on(now_status, later=later),
        event=event(about),
        booking=None,
        settings=settings,
    )
    assert verdict == expected


@pytest.mark.parametrize(
    ("message", "opted_out", "expected"),
    [
        pytest.param(row(), set(), None, id="send"),
        pytest.param(
            row(attempts=9),
            set(),
            Verdict(OutboxState.DEAD, "gave up: no outcome recorded"),
            id="claimed-too-often",
        ),
        pytest.param(
            row(),
            {("sms", "+393331234567")},
            Verdict(OutboxState.SUPPRESSED, "recipient opted out"),
            id="opted-out",
        ),
        pytest.param(row(), {("email", "+393331234567")}, None, id="opted-out-elsewhere"),
    ],
)
def test_before_sending(
    settings: Settings,
    message: ClaimedRow,
    opted_out: set[tuple[str, str]],
    expected: Verdict | None,
) -> None:
    verdict = before_sending(
        message,
        shipment=shipment(Status.DELIVERY_ATTEMPTED),
        event=event(Status.DELIVERY_ATTEMPTED),
        booking=None,
        opted_out=opted_out,
        settings=settings,
    )
    assert verdict == expected


@pytest.mark.parametrize(
    ("message", "contacts", "opted_out", "expected"),
    [
        pytest.param(row(), [PHONE, EMAIL], set(), (Channel.EMAIL, EMAIL.value), id="sms-to-email"),
        pytest.param(row(), [PHONE, BAD_EMAIL], set(), None, id="no-valid-email"),
        pytest.param(row(), [PHONE, EMAIL], {("email", EMAIL.value)}, None, id="email-opted-out"),
        pytest.param(
            row(channel="email", recipient=EMAIL.value),
            [PHONE, EMAIL],
            set(),
            None,
            id="email-is-last",
        ),
        pytest.param(row(event_id=None), [PHONE, EMAIL], set(), None, id="no-event-no-rule"),
    ],
)
def test_fallback_target(
    settings: Settings,
    message: ClaimedRow,
    contacts: list[ContactPoint],
    opted_out: set[tuple[str, str]],
    expected: tuple[Channel, str] | None,
) -> None:
    answered = event(Status.DELIVERY_ATTEMPTED) if message.status_event_id else None
    target = fallback_target(
        message, event=answered, contacts=contacts, opted_out=opted_out, settings=settings
    )
    assert target == expected


def test_the_fallback_takes_the_newest_usable_address(settings: Settings) -> None:
    newer = ContactPoint(ContactKind.EMAIL, "new@example.it", True)
    target = fallback_target(
        row(),
        event=event(Status.DELIVERY_ATTEMPTED),
        contacts=[OLD_PHONE, EMAIL, newer],
        opted_out=set(),
        settings=settings,
    )
    assert target == (Channel.EMAIL, "new@example.it")


def test_purposes_are_known_and_every_rule_purpose_has_a_reminder() -> None:
    assert Purpose.MISSED_DELIVERY.reminder is Purpose.MISSED_DELIVERY_REMINDER
    assert Purpose("rebooking_confirmed") is Purpose.REBOOKING_CONFIRMED


@pytest.mark.parametrize(
    ("attempts", "low", "high"),
    [(1, 15, 30), (2, 30, 60), (3, 60, 120), (7, 960, 1920), (8, 1800, 3600), (20, 1800, 3600)],
)
def test_retry_delay_doubles_with_equal_jitter_up_to_the_cap(
    attempts: int, low: float, high: float
) -> None:
    rng = random.Random(attempts)
    delays = [retry_delay(attempts, base_seconds=30, max_seconds=3600, rng=rng) for _ in range(200)]
    assert all(timedelta(seconds=low) <= d <= timedelta(seconds=high) for d in delays)
    assert len(set(delays)) > 100  # spread, not one instant for every worker


@pytest.mark.parametrize(("attempts", "dead"), [(1, False), (7, False), (8, True), (9, True)])
def test_gives_up_at_the_limit(attempts: int, dead: bool) -> None:
    assert gives_up(attempts, max_attempts=8) is dead


# Monday 23 November 2026, 10:00 in Rome; the recipient's Italian number keeps Rome's clock.
@pytest.mark.parametrize(
    ("attempts", "now", "expected"),
    [
        (1, NOW, NOW + timedelta(hours=4)),
        (2, NOW, NOW + timedelta(hours=4)),
        (3, NOW, None),  # the first try and both retries spent: the next channel's turn
        # 19:30 in Rome + 4 h is 23:30, inside quiet hours: 08:00 the next morning instead.
        (1, datetime(2026, 11, 23, 18, 30, tzinfo=UTC), datetime(2026, 11, 24, 7, 0, tzinfo=UTC)),
    ],
    ids=["first retry", "second retry", "spent", "quiet hours"],
)
def test_an_unreachable_handset_is_retried_hours_later_outside_quiet_hours(
    settings: Settings, attempts: int, now: datetime, expected: datetime | None
) -> None:
    retry_at = unreachable_retry_at(attempts, recipient=PHONE.value, settings=settings, now=now)
    assert retry_at == expected


def test_no_unreachable_retries_means_the_next_channel_at_once() -> None:
    settings = make_settings("sqlite://", channels={"sms": {"unreachable_retries": 0}})
    assert unreachable_retry_at(1, recipient=PHONE.value, settings=settings, now=NOW) is None
