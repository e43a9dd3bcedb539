"""Storing events: idempotency, ordering, contacts and recycling, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select, text

from notifier.db.models import ContactPointRow, ShipmentRow, StatusEventRow
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming, Outcome
from tests.conftest import NOW, EventFactory, make_settings
from tests.integration.events import final_statuses, histories


def run(engine: Engine, payloads: list[Any], batch_size: int = 100) -> list[Outcome]:
    items = [Incoming(i, p, json.dumps(p)) for i, p in enumerate(payloads)]
    settings = make_settings(str(engine.url.render_as_string(hide_password=False)))
    results = ingest(
        engine,
        items,
        settings=settings,
        now=lambda: NOW + timedelta(days=10),
        batch_size=batch_size,
    )
    return [r.outcome for r in results]


def statuses(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(select(ShipmentRow.tracking_number, ShipmentRow.status))  # type: ignore[call-overload]
        return dict(rows.all())


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_shuffled_histories_end_at_each_shipments_newest_status(engine: Engine) -> None:
    events = histories(150)
    outcomes = run(engine, events, batch_size=37)  # batches split shipments' histories
    assert outcomes == [Outcome.STORED] * len(events)
    assert statuses(engine) == final_statuses(events)
    assert count(engine, StatusEventRow) == len(events)


def test_the_same_events_again_store_nothing(engine: Engine) -> None:
    events = histories(40)
    run(engine, events)
    assert run(engine, events) == [Outcome.DUPLICATE] * len(events)
    assert count(engine, StatusEventRow) == len(events)
    assert count(engine, ShipmentRow) == 40


def test_a_duplicate_inside_one_batch_is_stored_once(
    engine: Engine, make_event: EventFactory
) -> None:
    event = make_event()
    assert run(engine, [event, dict(event)]) == [Outcome.STORED, Outcome.DUPLICATE]
    assert count(engine, StatusEventRow) == 1


def test_the_same_event_id_from_another_source_is_another_event(
    engine: Engine, make_event: EventFactory
) -> None:
    first = make_event(event_id="e-1", source="tms")
    second = make_event(event_id="e-1", source="aggregator")
    assert run(engine, [first, second]) == [Outcome.STORED, Outcome.STORED]


def test_the_raw_payload_and_status_code_are_kept(engine: Engine, make_event: EventFactory) -> None:
    event = make_event(status="Handed to a neighbour", custom_field={"x": 1})
    run(engine, [event])
    with engine.connect() as connection:
        row = connection.execute(select(StatusEventRow)).mappings().one()  # type: ignore[call-overload]
    assert row["status"] == "UNKNOWN"
    assert row["raw_status"] == "Handed to a neighbour"
    assert json.loads(row["payload"]) == event
    assert row["occurred_at"].tzinfo is not None


def test_rejected_events_do_not_stop_the_good_ones_beside_them(
    engine: Engine, make_event: EventFactory
) -> None:
    good = [make_event(tracking_number=f"RP{n}X") for n in range(3)]
    bad = make_event(occurred_at="2026-11-22")
    outcomes = run(engine, [good[0], bad, good[1], "nonsense", good[2]])
    assert outcomes == [
        Outcome.STORED,
        Outcome.REJECTED,
        Outcome.STORED,
        Outcome.REJECTED,
        Outcome.STORED,
    ]
    assert count(engine, StatusEventRow) == 3


def test_contacts_are_normalised_and_invalid_ones_kept_with_the_reason(
    engine: Engine, make_event: EventFactory
) -> None:
    run(
        engine,
        [
            make_event(recipient={"phone": "333 123 4567", "email": "Mario@Example.IT"}),
            make_event(recipient={"phone": "+39 333 123 4567"}),  # same number, other spelling
            make_event(tracking_number="RP2X", recipient={"phone": "02 1234 5678", "email": "x@"}),
        ],
    )
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                ContactPointRow.kind,  # type: ignore[call-overload]
                ContactPointRow.value,
                ContactPointRow.valid,
                ContactPointRow.invalid_reason,
            ).order_by(ContactPointRow.id)
        ).all()
    assert [(r.kind, r.value, r.valid) for r in rows] == [
        ("PHONE", "+393331234567", True),
        ("EMAIL", "Mario@example.it", True),
        ("PHONE", "02 1234 5678", False),
        ("EMAIL", "x@", False),
    ]
    assert "mobile" in rows[2].invalid_reason
    assert rows[3].invalid_reason


def test_a_recycled_tracking_number_opens_a_new_shipment(
    engine: Engine, make_event: EventFactory
) -> None:
    run(engine, [make_event(status="DELIVERED", occurred_at="2026-08-01T10:00:00+02:00")])
    run(engine, [make_event(status="CREATED", occurred_at="2026-11-20T10:00:00+01:00")])
    with engine.connect() as connection:
        rows = connection.execute(
            select(ShipmentRow.generation, ShipmentRow.status).order_by(ShipmentRow.generation)  # type: ignore[call-overload]
        ).all()
    assert [tuple(r) for r in rows] == [(1, "DELIVERED"), (2, "CREATED")]


def test_facts_of_the_newest_event_are_on_the_shipment(
    engine: Engine, make_event: EventFactory
) -> None:
    run(
        engine,
        [
            make_event(
                status="DELIVERY_ATTEMPTED",
                reason="RECIPIENT_ABSENT",
                route_stop=17,
                next_attempt={"date": "2026-11-23", "window": "10:00-14:00"},
            )
        ],
    )
    with engine.connect() as connection:
        row = connection.execute(select(ShipmentRow)).mappings().one()  # type: ignore[call-overload]
    assert row["status"] == "DELIVERY_ATTEMPTED"
    assert row["reason"] == "RECIPIENT_ABSENT"
    assert row["route_stop"] == 17
    assert str(row["next_attempt_date"]) == "2026-11-23"
    assert row["next_attempt_window"] == "10:00-14:00"
    assert row["recipient_name"] == "Giovanni Bianchi"
    assert isinstance(row["status_occurred_at"], datetime)


def test_concurrent_writers_store_each_event_once(engine: Engine) -> None:
    """Two ingesters fed overlapping, shuffled copies of the same histories at once."""
    events = histories(60, seed=3)
    first, second = events, list(reversed(events))
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def feed(payloads: list[dict[str, Any]]) -> None:
        try:
            start.wait()
            run(engine, payloads, batch_size=25)
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=feed, args=(p,)) for p in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert count(engine, StatusEventRow) == len(events)
    assert statuses(engine) == final_statuses(events)
    with engine.connect() as connection:
        duplicated_shipments = connection.execute(
            text(
                "SELECT count(*) FROM (SELECT carrier, tracking_number FROM shipments "
                "GROUP BY carrier, tracking_number HAVING count(*) > 1) AS d"
            )
        ).scalar_one()
    assert duplicated_shipments == 0


def test_contacts_stored_by_an_earlier_import_are_not_stored_again(
    engine: Engine, make_event: EventFactory
) -> None:
    phone = {"phone": "+39 333 123 4567"}
    run(engine, [make_event(event_id="1", status="CREATED", recipient=phone)])
    later = [
        make_event(event_id="2", status="IN_TRANSIT", recipient=phone),
        make_event(
            event_id="3",
            status="OUT_FOR_DELIVERY",
            recipient={**phone, "email": "mario@example.it"},
        ),
        make_event(event_id="4", status="OUT_FOR_DELIVERY", recipient=phone),
    ]
    assert run(engine, later, batch_size=1) == [Outcome.STORED] * 3
    with engine.connect() as connection:
        rows = connection.execute(
            select(ContactPointRow.kind, ContactPointRow.value).order_by(ContactPointRow.id)  # type: ignore[call-overload]
        ).all()
    assert [tuple(r) for r in rows] == [("PHONE", "+393331234567"), ("EMAIL", "mario@example.it")]
