"""Booking a new delivery: capacity never exceeded, one booking per submission, both databases."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from notifier.config import Settings
from notifier.db.engine import read_transaction, write_transaction
from notifier.db.tables import OUTBOX, REBOOKINGS, SHIPMENTS, SLOTS
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.rebooking import choices, links
from notifier.rebooking import store as rebooking
from notifier.rebooking.choices import Choice, SlotFullError
from notifier.shipments import ShipmentRecord
from tests.conftest import EventFactory, make_settings

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday 10:00 in Rome
TUESDAY = date(2026, 11, 24)
NEIGHBOUR = Choice(kind="neighbour", neighbour_name="Rossi")


@pytest.fixture
def settings(engine: Engine) -> Settings:
    return make_settings(
        engine.url.render_as_string(hide_password=False),
        rebooking={"slots": [{"window": "09:00-13:00", "capacity": 10}]},
    )


def missed(engine: Engine, settings: Settings, make_event: EventFactory, count: int) -> list[Any]:
    """`count` parcels with a missed delivery each; their live links."""
    events = [
        make_event(
            tracking_number=f"RP{n:09d}IT",
            status="DELIVERY_ATTEMPTED",
            reason="RECIPIENT_ABSENT",
            occurred_at="2026-11-23T09:30:00+01:00",
        )
        for n in range(count)
    ]
    items = [Incoming(i, e, json.dumps(e)) for i, e in enumerate(events)]
    list(ingest(engine, items, settings=settings, now=lambda: NOW))
    with read_transaction(engine) as connection:
        ids = [row.id for row in connection.execute(select(SHIPMENTS.c.id))]
        live = links.live_links(connection, ids, key=settings.link_key, settings=settings, now=NOW)
    return list(live.values())


def book(
    engine: Engine,
    settings: Settings,
    link: links.Link,
    choice: Choice,
    submission: str,
    now: datetime = NOW,
) -> choices.Booked:
    with write_transaction(engine) as connection:
        shipment = ShipmentRecord.from_mapping(
            connection.execute(select(SHIPMENTS).where(SHIPMENTS.c.id == link.shipment_id))
            .one()
            ._mapping
        )
        return rebooking.book(
            connection,
            link=link,
            shipment=shipment,
            choice=choice,
            submission=submission,
            settings=settings,
            now=now,
        )


def together(count: int, work: Callable[[int], object]) -> list[object]:
    """Run work(i) in `count` threads released at once; each result or the exception raised."""
    start = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # the outcome under test, kept for the assertions
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


TUESDAY_MORNING = Choice(kind="slot", day=TUESDAY, window="09:00-13:00")


def test_fifty_bookings_at_once_fill_a_slot_of_ten_exactly(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    found = missed(engine, settings, make_event, 50)
    results = together(50, lambda i: book(engine, settings, found[i], TUESDAY_MORNING, f"form-{i}"))
    kinds = Counter(type(r).__name__ for r in results)
    assert kinds == {"Booked": 10, "SlotFullError": 40}, results
    with read_transaction(engine) as connection:
        assert connection.execute(select(SLOTS.c.booked, SLOTS.c.capacity)).one() == (10, 10)
        assert connection.execute(select(func.count()).select_from(REBOOKINGS)).scalar() == 10
        confirmations = connection.execute(
            select(func.count())
            .select_from(OUTBOX)
            .where(OUTBOX.c.purpose == "rebooking_confirmed")
        ).scalar()
    assert confirmations == 10


def test_the_same_form_sent_twenty_times_at_once_books_once(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    (link,) = missed(engine, settings, make_event, 1)
    results = together(20, lambda _: book(engine, settings, link, TUESDAY_MORNING, "one-form"))
    assert all(isinstance(r, choices.Booked) for r in results), results
    assert len({r.id for r in results if isinstance(r, choices.Booked)}) == 1
    with read_transaction(engine) as connection:
        assert connection.execute(select(SLOTS.c.booked)).scalar() == 1
        assert connection.execute(select(func.count()).select_from(REBOOKINGS)).scalar() == 1


def test_a_full_slot_says_so_and_a_changed_choice_frees_its_place(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    first, second = missed(engine, settings, make_event, 2)
    small = make_settings(
        settings.database.url, rebooking={"slots": [{"window": "09:00-13:00", "capacity": 1}]}
    )
    book(engine, small, first, TUESDAY_MORNING, "a")
    with pytest.raises(SlotFullError):
        book(engine, small, second, TUESDAY_MORNING, "b")
    # The first recipient changes their mind: the slot is free again.
    book(engine, small, first, Choice(kind="neighbour", neighbour_name="Rossi"), "c")
    book(engine, small, second, TUESDAY_MORNING, "d")
    with read_transaction(engine) as connection:
        assert connection.execute(select(SLOTS.c.booked)).scalar() == 1
        current = rebooking.current_choice(connection, first.shipment_id)
    assert current is not None
    assert current.choice.kind == "neighbour"


def test_a_choice_is_locked_after_the_evening_before(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    (link,) = missed(engine, settings, make_event, 1)
    book(engine, settings, link, TUESDAY_MORNING, "a")
    late = NOW.replace(hour=18)  # 19:00 in Rome on Monday: Tuesday's cut-off has passed
    with write_transaction(engine) as connection:
        shipment = ShipmentRecord.from_mapping(connection.execute(select(SHIPMENTS)).one()._mapping)
        with pytest.raises(choices.ChoiceLockedError):
            rebooking.book(
                connection,
                link=link,
                shipment=shipment,
                choice=Choice(kind="safe_place", instructions="garage"),
                submission="b",
                settings=settings,
                now=late,
            )


def test_only_days_and_windows_on_offer_can_be_booked(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    (link,) = missed(engine, settings, make_event, 1)
    sunday = Choice(kind="slot", day=date(2026, 11, 29), window="09:00-13:00")
    evening = Choice(kind="slot", day=TUESDAY, window="18:00-20:00")
    today = Choice(kind="slot", day=NOW.date(), window="09:00-13:00")
    for choice in (sunday, evening, today):
        with pytest.raises(choices.ChoiceInvalidError):
            book(engine, settings, link, choice, f"x-{choice.day}-{choice.window}")
    offers = choices.offered_days(settings, NOW)
    assert offers[0] == TUESDAY
    assert date(2026, 11, 29) not in offers  # Sunday is not a working day
    assert len(offers) == settings.rebooking.days_ahead
    assert offers[-1] - offers[0] < timedelta(days=7)


@pytest.mark.parametrize(
    ("moment", "refused"),
    [
        pytest.param(datetime(2026, 11, 23, 16, 59, tzinfo=UTC), False, id="17:59-monday"),
        pytest.param(datetime(2026, 11, 23, 17, 0, tzinfo=UTC), True, id="18:00-monday"),
        pytest.param(datetime(2026, 11, 23, 18, 30, tzinfo=UTC), True, id="19:30-monday"),
        pytest.param(datetime(2026, 11, 24, 22, 59, tzinfo=UTC), True, id="23:59-attempt-day"),
        pytest.param(datetime(2026, 11, 24, 23, 0, tzinfo=UTC), False, id="after-the-attempt"),
    ],
)
def test_a_first_choice_locks_the_evening_before_the_next_attempt(
    engine: Engine, settings: Settings, make_event: EventFactory, moment: datetime, refused: bool
) -> None:
    event = make_event(
        status="DELIVERY_ATTEMPTED",
        reason="RECIPIENT_ABSENT",
        occurred_at="2026-11-23T09:30:00+01:00",
        next_attempt={"date": "2026-11-24", "window": "10:00-14:00"},
    )
    list(
        ingest(engine, [Incoming(0, event, json.dumps(event))], settings=settings, now=lambda: NOW)
    )
    with read_transaction(engine) as connection:
        (link,) = links.live_links(
            connection,
            [connection.execute(select(SHIPMENTS.c.id)).scalar_one()],
            key=settings.link_key,
            settings=settings,
            now=NOW,
        ).values()
    if not refused:
        assert (
            book(engine, settings, link, NEIGHBOUR, f"first-{moment}", moment).choice.kind
            == "neighbour"
        )
        return
    with pytest.raises(choices.ChoiceLockedError) as caught:
        book(engine, settings, link, NEIGHBOUR, f"first-{moment}", moment)
    # Monday 18:00 in Rome: the moment the refusal names.
    assert caught.value.since == datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
