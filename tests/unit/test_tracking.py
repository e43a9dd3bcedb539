"""Shipment state: newest event wins, late events never move it back, terminal states hold."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import permutations

import pytest

from notifier.tracking import ShipmentState, Transition
from notifier.tracking import plan_batch as plan_placements
from notifier.vocabulary import Event, Status

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
REOPEN = timedelta(days=60)


def event(status: Status, hours: float, **facts: object) -> Event:
    base = Event(
        source="tms",
        event_id=f"{status}-{hours}",
        carrier="rapido",
        tracking_number="RP1",
        status=status,
        raw_status=str(status),
        occurred_at=T0 + timedelta(hours=hours),
    )
    return replace(base, **facts)  # type: ignore[arg-type]


def plan_batch(
    existing: dict[tuple[str, str], ShipmentState], events: list[Event], reopen: timedelta
) -> list[ShipmentState]:
    return [p.state for p in plan_placements(existing, events, reopen)]


HISTORY = [
    event(Status.CREATED, 0, estimated_delivery=date(2026, 11, 22)),
    event(Status.IN_TRANSIT, 10),
    event(Status.OUT_FOR_DELIVERY, 24, route_stop=17),
    event(Status.DELIVERY_ATTEMPTED, 27, next_attempt_date=date(2026, 11, 23)),
    event(Status.DELIVERED, 50),
]


@pytest.mark.parametrize("order", list(permutations(range(len(HISTORY))))[::7])
def test_any_arrival_order_ends_at_the_newest_event(order: tuple[int, ...]) -> None:
    states = plan_batch({}, [HISTORY[i] for i in order], REOPEN)
    final = states[0]
    assert all(s is final for s in states)
    assert final.status is Status.DELIVERED
    assert final.status_occurred_at == T0 + timedelta(hours=50)
    assert final.first_event_at == T0
    assert final.route_stop == 17  # durable facts survive from any event
    assert final.estimated_delivery == date(2026, 11, 22)
    assert final.next_attempt_date is None  # a newer status drops the old status's facts


def test_events_arriving_one_batch_at_a_time_in_reverse_end_the_same() -> None:
    existing: dict[tuple[str, str], object] = {}
    for item in reversed(HISTORY):
        (state,) = plan_batch(existing, [item], REOPEN)  # type: ignore[arg-type]
        existing = {state.key: state}
    assert state.status is Status.DELIVERED


def test_a_late_event_fills_missing_facts_without_moving_the_status() -> None:
    (state, late) = plan_batch(
        {},
        [event(Status.OUT_FOR_DELIVERY, 24), event(Status.CREATED, 0, sender_name="Libreria")],
        REOPEN,
    )
    assert late is state
    assert state.status is Status.OUT_FOR_DELIVERY
    assert state.sender_name == "Libreria"


def test_terminal_states_hold_against_newer_non_terminal_events() -> None:
    (state, _) = plan_batch({}, [event(Status.DELIVERED, 10), event(Status.EXCEPTION, 20)], REOPEN)
    assert state.status is Status.DELIVERED


def test_a_terminal_state_can_give_way_to_another_terminal_state() -> None:
    batch = [event(Status.RETURNING, 10), event(Status.DELIVERED, 90)]
    (state, _) = plan_batch({}, batch, REOPEN)
    assert state.status is Status.DELIVERED


def test_unknown_statuses_are_kept_but_do_not_move_the_status() -> None:
    batch = [event(Status.IN_TRANSIT, 1), event(Status.UNKNOWN, 5)]
    (state, _) = plan_batch({}, batch, REOPEN)
    assert state.status is Status.IN_TRANSIT
    (only_unknown,) = plan_batch({}, [event(Status.UNKNOWN, 5)], REOPEN)
    assert only_unknown.status is Status.UNKNOWN
    (known,) = plan_batch({only_unknown.key: only_unknown}, [event(Status.CREATED, 1)], REOPEN)
    assert known.status is Status.CREATED  # any real status beats "unknown", whatever its time


def test_a_created_long_after_the_end_opens_a_new_generation() -> None:
    old, new, newer = plan_batch(
        {},
        [
            event(Status.DELIVERED, 0),
            event(Status.CREATED, 24 * 61),
            event(Status.IN_TRANSIT, 24 * 62),
        ],
        REOPEN,
    )
    assert old.generation == 1
    assert old.status is Status.DELIVERED
    assert new is newer
    assert new.generation == 2
    assert new.status is Status.IN_TRANSIT


def test_a_created_soon_after_the_end_is_just_a_late_event() -> None:
    old, created = plan_batch({}, [event(Status.DELIVERED, 0), event(Status.CREATED, 24)], REOPEN)
    assert created is old
    assert old.generation == 1
    assert old.status is Status.DELIVERED


def test_unchanged_state_is_not_marked_changed() -> None:
    (state,) = plan_batch({}, [event(Status.DELIVERED, 10)], REOPEN)
    state.changed = False
    (again,) = plan_batch({state.key: state}, [event(Status.IN_TRANSIT, 12)], REOPEN)
    assert again is state
    assert state.changed is False


def test_each_event_says_what_it_did_to_its_shipment() -> None:
    created, late, moved, repeated = plan_placements(
        {},
        [
            event(Status.CREATED, 0),
            event(Status.CREATED, -1, event_id="early"),
            event(Status.IN_TRANSIT, 5),
            event(Status.IN_TRANSIT, 6, event_id="again"),
        ],
        REOPEN,
    )
    assert late.transition == Transition(True, None, None)  # the oldest opened the shipment
    assert created.transition == Transition(True, Status.CREATED, T0 - timedelta(hours=1))
    assert moved.transition == Transition(True, Status.CREATED, T0)
    assert repeated.transition == Transition(True, Status.IN_TRANSIT, T0 + timedelta(hours=5))
    (overtaken,) = plan_placements(
        {moved.state.key: moved.state}, [event(Status.CREATED, 1)], REOPEN
    )
    assert overtaken.transition.took_over is False
