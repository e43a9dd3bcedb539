"""Promises (issue 13, items 1 and 3): recorded with their booking or their event, kept by a
delivery or a call, listed for the phone desk, counted per day; CLI and ops page."""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from notifier.cli import app
from notifier.config import Settings
from notifier.db.engine import read_transaction, write_transaction
from notifier.db.tables import EVENTS, PROMISES, SHIPMENTS
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.rebooking import links
from notifier.rebooking import store as rebooking
from notifier.rebooking.choices import Booked, Choice
from notifier.rebooking.promise_store import mark_callback_done
from notifier.rebooking.promises import CallbackNotFoundError, CallbackRefusedError, check_call
from notifier.shipments import ShipmentRecord
from notifier.vocabulary import PromiseState
from tests.conftest import EventFactory, make_settings
from tests.integration.conftest import ClientFactory

ROME = ZoneInfo("Europe/Rome")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday 10:00 in Rome
TUESDAY, WEDNESDAY = date(2026, 11, 24), date(2026, 11, 25)
# The command line and the page read the wall clock: scenes they judge by it are set
# well before any clock this suite runs on.
PAST = datetime(2025, 1, 13, 9, 0, tzinfo=UTC)  # Monday 10:00 in Rome
PAST_TUESDAY = date(2025, 1, 14)
OPS = {"NOTIFIER_OPS_PASSWORD": "ops-secret"}
SITE = "http://testserver"  # the TestClient's origin, set as web.public_base_url
runner = CliRunner()


def at(text: str) -> datetime:
    """A moment written with its offset, as UTC."""
    return datetime.fromisoformat(text).astimezone(UTC)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


AUTH = basic("ops", "ops-secret")


@pytest.fixture
def settings(engine: Engine) -> Settings:
    # Sundays too: the DST change falls on one.
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    return make_settings(
        engine.url.render_as_string(hide_password=False), rebooking={"working_days": days}
    )


class Desk:
    """Parcels, their events and their recipients' choices, with the clock passed in."""

    def __init__(self, engine: Engine, settings: Settings, make_event: EventFactory) -> None:
        self.engine, self.settings, self.make_event = engine, settings, make_event
        self.submissions = 0

    def event(
        self, tracking: str, status: str, occurred_at: str, now: datetime, **facts: Any
    ) -> None:
        event = self.make_event(
            tracking_number=tracking, status=status, occurred_at=occurred_at, **facts
        )
        self.events([event], now)

    def events(self, events: list[dict[str, Any]], now: datetime) -> None:
        items = [Incoming(i, e, json.dumps(e)) for i, e in enumerate(events)]
        results = list(ingest(self.engine, items, settings=self.settings, now=lambda: now))
        assert all(r.outcome.value == "stored" for r in results), results

    def missed(
        self,
        tracking: str,
        at: str = "2026-11-23T09:30:00+01:00",
        now: datetime = NOW,
        **facts: Any,
    ) -> None:
        self.event(tracking, "DELIVERY_ATTEMPTED", at, now, reason="RECIPIENT_ABSENT", **facts)

    def delivered(self, tracking: str, occurred_at: str) -> None:
        self.event(tracking, "DELIVERED", occurred_at, at(occurred_at))

    def choose(
        self, tracking: str, choice: Choice, now: datetime = NOW, submission: str | None = None
    ) -> Booked:
        self.submissions += 1
        with write_transaction(self.engine) as connection:
            shipment = ShipmentRecord.from_mapping(
                connection.execute(select(SHIPMENTS).where(SHIPMENTS.c.tracking_number == tracking))
                .one()
                ._mapping
            )
            live = links.live_links(
                connection,
                [shipment.id],
                key=self.settings.link_key,
                settings=self.settings,
                now=now,
            )
            return rebooking.book(
                connection,
                link=live[shipment.id],
                shipment=shipment,
                choice=choice,
                submission=submission or f"form-{self.submissions}",
                settings=self.settings,
                now=now,
            )

    def promises(self, tracking: str | None = None) -> list[dict[str, Any]]:
        query = (
            select(PROMISES, SHIPMENTS.c.tracking_number)
            .join(SHIPMENTS, SHIPMENTS.c.id == PROMISES.c.shipment_id)
            .order_by(PROMISES.c.id)
        )
        if tracking is not None:
            query = query.where(SHIPMENTS.c.tracking_number == tracking)
        with read_transaction(self.engine) as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def promise(self, tracking: str, kind: str) -> dict[str, Any]:
        (found,) = [p for p in self.promises(tracking) if p["kind"] == kind]
        return found

    def row(self, promise_id: int) -> dict[str, Any]:
        (found,) = [p for p in self.promises() if p["id"] == promise_id]
        return found

    def still_open(self, tracking: str) -> dict[str, Any]:
        (found,) = [p for p in self.promises(tracking) if p["state"] == "open"]
        return found

    def done(
        self, promise_id: int, now: datetime, outcome: str = "reached", note: str | None = None
    ) -> PromiseState:
        with write_transaction(self.engine) as connection:
            call = check_call("Anna", outcome, note)
            return mark_callback_done(connection, promise_id, call=call, now=now)

    def cli(self, *args: str) -> Any:
        env = {"NOTIFIER_DATABASE_URL": self.settings.database.url, "NOTIFIER_CONFIG": None}
        return runner.invoke(app, list(args), env=env)


@pytest.fixture
def desk(engine: Engine, settings: Settings, make_event: EventFactory) -> Desk:
    return Desk(engine, settings, make_event)


def callback(day: date, window: str = "14:00-17:00") -> Choice:
    return Choice(kind="callback", day=day, window=window)


def slot(day: date, window: str = "09:00-13:00") -> Choice:
    return Choice(kind="slot", day=day, window=window)


# Recording ----------------------------------------------------------------------------


def test_a_booked_callback_is_one_open_promise_with_its_window_in_company_time(
    desk: Desk,
) -> None:
    desk.missed("RPCALL")
    booked = desk.choose("RPCALL", callback(TUESDAY))
    (promise,) = desk.promises()
    assert (promise["kind"], promise["state"], promise["depot"]) == ("callback", "open", "MI01")
    assert (promise["rebooking_id"], promise["status_event_id"]) == (booked.id, None)
    assert promise["window_start"] == at("2026-11-24T14:00:00+01:00")
    assert promise["window_end"] == at("2026-11-24T17:00:00+01:00")
    assert promise["created_at"] == NOW
    assert (promise["kept_at"], promise["broken_at"], promise["done_at"]) == (None, None, None)


def test_windows_follow_the_clock_change(desk: Desk) -> None:
    """Rome leaves summer time at 03:00 on Sunday 25 October 2026."""
    thursday = datetime(2026, 10, 22, 8, 0, tzinfo=UTC)
    for tracking in ("RPSAT", "RPSUN"):
        desk.missed(tracking, at="2026-10-22T09:30:00+02:00", now=thursday)
    desk.missed(
        "RPNEIGHBOUR",
        at="2026-10-22T09:30:00+02:00",
        now=thursday,
        next_attempt={"date": "2026-10-25"},
    )
    desk.choose("RPSAT", callback(date(2026, 10, 24)), now=thursday)
    desk.choose("RPSUN", callback(date(2026, 10, 25)), now=thursday)
    desk.choose("RPNEIGHBOUR", Choice(kind="neighbour", neighbour_name="Rossi"), now=thursday)
    saturday = desk.promise("RPSAT", "callback")
    assert (saturday["window_start"], saturday["window_end"]) == (
        datetime(2026, 10, 24, 12, 0, tzinfo=UTC),  # 14:00 CEST
        datetime(2026, 10, 24, 15, 0, tzinfo=UTC),
    )
    sunday = desk.promise("RPSUN", "callback")
    assert (sunday["window_start"], sunday["window_end"]) == (
        datetime(2026, 10, 25, 13, 0, tzinfo=UTC),  # 14:00 CET
        datetime(2026, 10, 25, 16, 0, tzinfo=UTC),
    )
    # A neighbour with no announced window: the attempt's whole day, 25 hours long.
    whole = desk.promise("RPNEIGHBOUR", "neighbour")
    assert (whole["window_start"], whole["window_end"]) == (
        datetime(2026, 10, 24, 22, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 23, 0, tzinfo=UTC),
    )
    # The announced attempt itself is a promise with the same day.
    announced = desk.promise("RPNEIGHBOUR", "next_attempt")
    assert (announced["window_start"], announced["window_end"]) == (
        whole["window_start"],
        whole["window_end"],
    )


def test_the_same_form_twice_records_one_promise_and_the_database_refuses_a_second(
    desk: Desk,
) -> None:
    desk.missed("RPCALL")
    first = desk.choose("RPCALL", callback(TUESDAY), submission="one-form")
    again = desk.choose("RPCALL", callback(TUESDAY), submission="one-form")
    assert again.id == first.id
    (promise,) = desk.promises()
    copy = {k: v for k, v in promise.items() if k not in ("id", "tracking_number")}
    with pytest.raises(IntegrityError), write_transaction(desk.engine) as connection:
        connection.execute(insert(PROMISES).values(**copy))
    assert len(desk.promises()) == 1


def test_a_newer_choice_excuses_the_replaced_promise_and_opens_its_own(desk: Desk) -> None:
    desk.missed("RPCHANGED")
    desk.choose("RPCHANGED", callback(TUESDAY))
    later = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    booked = desk.choose("RPCHANGED", slot(WEDNESDAY), now=later)
    old, new = desk.promises()
    assert (old["kind"], old["state"], old["excuse"], old["excused_at"]) == (
        "callback",
        "excused",
        "replaced",
        later,
    )
    assert (new["kind"], new["state"], new["rebooking_id"]) == ("slot", "open", booked.id)
    assert (new["window_start"], new["window_end"]) == (
        at("2026-11-25T09:00:00+01:00"),
        at("2026-11-25T13:00:00+01:00"),
    )


def test_an_announced_next_attempt_is_a_promise_until_a_slot_takes_its_place(
    desk: Desk,
) -> None:
    desk.missed("RPNEXT", next_attempt={"date": "2026-11-24", "window": "10:00-14:00"})
    (announced,) = desk.promises()
    with read_transaction(desk.engine) as connection:
        event_id = connection.execute(select(EVENTS.c.id)).scalar_one()
    assert (announced["kind"], announced["state"]) == ("next_attempt", "open")
    assert (announced["status_event_id"], announced["rebooking_id"]) == (event_id, None)
    assert (announced["window_start"], announced["window_end"]) == (
        at("2026-11-24T10:00:00+01:00"),
        at("2026-11-24T14:00:00+01:00"),
    )
    # A neighbour applies to that attempt: both promises stand, with the same window.
    desk.choose("RPNEXT", Choice(kind="neighbour", neighbour_name="Rossi", neighbour_door="4"))
    neighbour = desk.promise("RPNEXT", "neighbour")
    assert neighbour["state"] == "open"
    assert (neighbour["window_start"], neighbour["window_end"]) == (
        announced["window_start"],
        announced["window_end"],
    )
    assert desk.promise("RPNEXT", "next_attempt")["state"] == "open"
    # Another day instead: the attempt will not happen, nor will the neighbour's.
    desk.choose("RPNEXT", slot(WEDNESDAY))
    states = {p["kind"]: (p["state"], p["excuse"]) for p in desk.promises()}
    assert states == {
        "next_attempt": ("excused", "rebooked"),
        "neighbour": ("excused", "replaced"),
        "slot": ("open", None),
    }


def test_an_announcement_already_over_or_overtaken_promises_nothing(desk: Desk) -> None:
    # Replayed late: its window ended before it reached us.
    desk.missed("RPOLD", at="2026-11-19T09:30:00+01:00", next_attempt={"date": "2026-11-20"})
    # Overtaken: an older attempt arriving after the parcel moved on.
    desk.event("RPMOVED", "EXCEPTION", "2026-11-23T09:40:00+01:00", NOW, reason="DELAYED")
    desk.missed("RPMOVED", next_attempt={"date": "2026-11-24"})
    assert desk.promises() == []


# Kept, broken, excused ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delivered_at", "state", "broken_at"),
    [
        pytest.param("2026-11-24T11:00:00+01:00", "kept", None, id="inside"),
        pytest.param("2026-11-24T13:00:00+01:00", "kept", None, id="at-the-end"),
        pytest.param("2026-11-23T16:00:00+01:00", "kept", None, id="early"),
        pytest.param("2026-11-24T15:30:00+01:00", "broken", "2026-11-24T13:00:00+01:00", id="late"),
    ],
)
def test_a_delivery_settles_the_booked_slot(
    desk: Desk, delivered_at: str, state: str, broken_at: str | None
) -> None:
    desk.missed("RPSLOT")
    desk.choose("RPSLOT", slot(TUESDAY))
    desk.delivered("RPSLOT", delivered_at)
    promise = desk.promise("RPSLOT", "slot")
    assert (promise["state"], promise["kept_at"]) == (state, at(delivered_at))
    assert promise["broken_at"] == (at(broken_at) if broken_at else None)


def test_one_batch_with_the_attempt_and_the_delivery_keeps_the_announced_attempt(
    desk: Desk, make_event: EventFactory
) -> None:
    events = [
        make_event(
            tracking_number="RPBATCH",
            status="DELIVERED",
            occurred_at="2026-11-24T12:00:00+01:00",
        ),
        make_event(
            tracking_number="RPBATCH",
            status="DELIVERY_ATTEMPTED",
            reason="RECIPIENT_ABSENT",
            occurred_at="2026-11-23T09:30:00+01:00",
            next_attempt={"date": "2026-11-24", "window": "10:00-14:00"},
        ),
    ]
    desk.events(events, now=at("2026-11-24T12:30:00+01:00"))
    (promise,) = desk.promises()
    assert (promise["kind"], promise["state"]) == ("next_attempt", "kept")
    assert promise["kept_at"] == at("2026-11-24T12:00:00+01:00")


def test_a_delivery_makes_a_callback_not_yet_due_unneeded_and_leaves_an_overdue_one(
    desk: Desk,
) -> None:
    desk.missed("RPEARLY")
    desk.choose("RPEARLY", callback(TUESDAY))
    desk.missed("RPOVERDUE")
    desk.choose("RPOVERDUE", callback(TUESDAY, "09:00-12:00"))
    desk.delivered("RPEARLY", "2026-11-24T10:00:00+01:00")
    desk.delivered("RPOVERDUE", "2026-11-24T15:00:00+01:00")
    early = desk.promise("RPEARLY", "callback")
    assert (early["state"], early["excuse"], early["kept_at"]) == ("excused", "delivered", None)
    overdue = desk.promise("RPOVERDUE", "callback")
    assert (overdue["state"], overdue["kept_at"], overdue["excuse"]) == ("open", None, None)


def test_a_parcel_returned_to_its_sender_keeps_no_promise(desk: Desk) -> None:
    desk.missed("RPBACK")
    desk.choose("RPBACK", slot(TUESDAY))
    desk.event("RPBACK", "RETURNING", "2026-11-24T09:00:00+01:00", at("2026-11-24T09:00:00+01:00"))
    desk.delivered("RPBACK", "2026-11-24T11:00:00+01:00")
    assert desk.promise("RPBACK", "slot")["state"] == "open"


@pytest.mark.parametrize(
    ("made_at", "state", "broken_at"),
    [
        pytest.param("2026-11-24T15:00:00+01:00", "kept", None, id="inside"),
        pytest.param("2026-11-24T18:00:00+01:00", "broken", "2026-11-24T17:00:00+01:00", id="late"),
    ],
)
def test_a_callback_made_inside_its_window_is_kept_and_after_it_broken_then_kept(
    desk: Desk, made_at: str, state: str, broken_at: str | None
) -> None:
    desk.missed("RPCALL")
    desk.choose("RPCALL", callback(TUESDAY))
    (promise,) = desk.promises()
    assert desk.done(promise["id"], at(made_at), "no_answer", "left a message") == state
    (promise,) = desk.promises()
    assert (promise["state"], promise["done_at"], promise["kept_at"]) == (
        state,
        at(made_at),
        at(made_at),
    )
    assert promise["broken_at"] == (at(broken_at) if broken_at else None)
    assert (promise["done_by"], promise["outcome"], promise["note"]) == (
        "Anna",
        "no_answer",
        "left a message",
    )


def test_marking_refuses_a_callback_done_already_excused_or_not_a_callback(desk: Desk) -> None:
    desk.missed("RPCALL")
    desk.choose("RPCALL", callback(TUESDAY, "09:00-12:00"))
    desk.choose("RPCALL", callback(TUESDAY))
    excused, current = desk.promises()
    desk.missed("RPSLOT")
    desk.choose("RPSLOT", slot(TUESDAY))
    booked_slot = desk.promise("RPSLOT", "slot")
    tuesday = at("2026-11-24T15:00:00+01:00")
    desk.done(current["id"], tuesday)
    with pytest.raises(CallbackRefusedError, match=r"^id: callback .* was marked done"):
        desk.done(current["id"], tuesday)
    with pytest.raises(CallbackRefusedError, match=r"^id: callback .* is excused \(replaced\)"):
        desk.done(excused["id"], tuesday)
    with pytest.raises(CallbackNotFoundError, match=r"^id: no callback has id"):
        desk.done(booked_slot["id"], tuesday)
    assert desk.promise("RPSLOT", "slot")["done_at"] is None


# The command line -------------------------------------------------------------------


@pytest.fixture
def past_desk(desk: Desk) -> Desk:
    """January 2025, judged by the wall clock: RPLATE's callback is overdue, and an earlier
    one went unanswered; RPMADE's was made."""
    desk.missed("RPLATE", at="2025-01-13T09:30:00+01:00", now=PAST)
    first = desk.choose("RPLATE", callback(PAST_TUESDAY, "09:00-12:00"), now=PAST)
    (promise,) = desk.promises("RPLATE")
    assert promise["rebooking_id"] == first.id
    desk.done(promise["id"], datetime(2025, 1, 13, 10, 0, tzinfo=UTC), "no_answer")
    desk.choose("RPLATE", callback(PAST_TUESDAY), now=datetime(2025, 1, 13, 11, 0, tzinfo=UTC))
    desk.missed(
        "RPMADE",
        at="2025-01-13T09:30:00+01:00",
        now=PAST,
        recipient={"name": "Anna Verdi", "phone": "+39 347 000 1111"},
    )
    desk.choose("RPMADE", callback(PAST_TUESDAY), now=PAST)
    made = desk.promise("RPMADE", "callback")
    desk.done(made["id"], datetime(2025, 1, 14, 14, 0, tzinfo=UTC))
    return desk


def test_callbacks_overdue_lists_the_overdue_callback_with_the_phone(past_desk: Desk) -> None:
    result = past_desk.cli("callbacks", "--overdue")
    assert result.exit_code == 0, result.output
    late = past_desk.still_open("RPLATE")
    assert f"#{late['id']}  Tue 2025-01-14 14:00-17:00  MI01  OVERDUE" in result.stdout
    assert "Giovanni Bianchi  +39 333 123 4567  RPLATE (delivery attempted)" in result.stdout
    assert "missed delivery: recipient absent, Mon 2025-01-13 09:30" in result.stdout
    assert "booked Mon 2025-01-13 12:00" in result.stdout
    assert (
        "earlier: booked Mon 2025-01-13 10:00 for Tue 2025-01-14 09:00-12:00: "
        "no answer, called Mon 2025-01-13 11:00 by Anna"
    ) in result.stdout
    assert "RPMADE" not in result.stdout
    assert "1 callback overdue" in result.stderr

    day = past_desk.cli("callbacks", "--date", "2025-01-14", "--depot", "MI01")
    assert day.exit_code == 0, day.output
    assert [line.split()[0] for line in day.stdout.splitlines() if line.startswith("#")] == [
        f"#{p['id']}"
        for p in sorted(past_desk.promises(), key=lambda p: (p["window_start"], p["id"]))
    ]
    assert "done Tue 2025-01-14 15:00 by Anna: reached" in day.stdout
    assert "+39 347 000 1111" in day.stdout
    due = past_desk.cli("callbacks", "--date", "2025-01-14", "--due")
    assert [line for line in due.stdout.splitlines() if line.startswith("#")] == [
        line for line in result.stdout.splitlines() if line.startswith("#")
    ]
    both = past_desk.cli("callbacks", "--due", "--overdue")
    assert both.exit_code == 2
    assert "--due and --overdue" in both.stderr


def test_callbacks_done_marks_it_and_a_bad_id_or_outcome_changes_nothing(
    past_desk: Desk,
) -> None:
    late = past_desk.still_open("RPLATE")
    ident = str(late["id"])
    for args, message in [
        (["abc", "--by", "Anna"], "ID: must be a callback's number, not 'abc'"),
        (["999", "--by", "Anna"], "id: no callback has id 999"),
        ([ident, "--by", "Anna", "--outcome", "maybe"], "outcome: must be one of reached"),
        ([ident, "--by", "  "], "by: say who made the call"),
    ]:
        result = past_desk.cli("callbacks", "done", *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr, result.output
    unchanged = past_desk.row(late["id"])
    assert unchanged == late

    args = ["callbacks", "done", ident, "--by", "Marco", "--outcome", "wrong_number"]
    result = past_desk.cli(*args, "--note", "number no longer in use")
    assert result.exit_code == 0, result.output
    assert f"callback {ident} done by Marco: wrong_number (broken, then kept" in result.stdout
    made = past_desk.row(late["id"])
    assert (made["done_by"], made["outcome"], made["note"]) == (
        "Marco",
        "wrong_number",
        "number no longer in use",
    )
    # Made by the wall clock, long after its window in January 2025.
    assert (made["state"], made["kept_at"], made["broken_at"]) == (
        "broken",
        made["done_at"],
        made["window_end"],
    )
    again = past_desk.cli(*args)
    assert again.exit_code == 2
    assert f"id: callback {ident} was marked done" in again.stderr


@pytest.fixture
def tuesday(desk: Desk) -> Desk:
    """Tuesday's promises at two depots, settled every way, and one on Wednesday."""
    desk.missed("RPKEPT")
    desk.choose("RPKEPT", slot(TUESDAY))
    desk.missed("RPLATE")
    desk.choose("RPLATE", slot(TUESDAY))
    desk.missed("RPCALL")
    desk.choose("RPCALL", callback(TUESDAY))
    desk.missed("RPCHANGED")
    desk.choose("RPCHANGED", callback(TUESDAY, "09:00-12:00"))
    desk.choose("RPCHANGED", callback(TUESDAY))
    desk.missed("RPNEXT", next_attempt={"date": "2026-11-24", "window": "10:00-14:00"})
    desk.missed("RPTURIN", depot="TO01")
    desk.choose("RPTURIN", slot(TUESDAY))
    desk.missed("RPWED")
    desk.choose("RPWED", slot(WEDNESDAY))
    desk.delivered("RPKEPT", "2026-11-24T11:00:00+01:00")
    desk.delivered("RPLATE", "2026-11-24T16:00:00+01:00")
    (call,) = [p for p in desk.promises("RPCALL")]
    desk.done(call["id"], at("2026-11-24T14:30:00+01:00"))
    return desk


def test_promises_per_depot_and_kind_match_the_database(tuesday: Desk) -> None:
    result = tuesday.cli("promises", "--date", "2026-11-24", "--format", "json")
    assert result.exit_code == 0, result.output
    shown = {(f["depot"], f["kind"]): f for f in json.loads(result.stdout)}
    counted: dict[tuple[str, str], Counter[str]] = {}
    for row in tuesday.promises():
        if row["window_start"].astimezone(ROME).date() != TUESDAY:
            continue
        tally = counted.setdefault((row["depot"], row["kind"]), Counter())
        tally[row["state"]] += 1
        tally["late"] += row["state"] == "broken" and row["kept_at"] is not None
    assert set(shown) == set(counted)
    for key, tally in counted.items():
        states = ("kept", "broken", "late", "open", "excused")
        assert {s: shown[key][s] for s in states} == {s: tally[s] for s in states}, key
    assert shown[("MI01", "slot")] == {
        "depot": "MI01",
        "kind": "slot",
        "kept": 1,
        "broken": 1,
        "late": 1,
        "open": 0,
        "excused": 0,
    }
    assert (shown[("MI01", "callback")]["kept"], shown[("MI01", "callback")]["excused"]) == (1, 1)
    assert shown[("MI01", "next_attempt")]["open"] == 1
    assert shown[("TO01", "slot")]["open"] == 1

    text = tuesday.cli("promises", "--date", "2026-11-24", "--depot", "TO01")
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["depot", "kind", "kept", "broken", "late", "open", "excused"]
    assert lines[1].split() == ["TO01", "slot", "0", "0", "0", "1", "0"]
    assert lines[2].split() == ["all", "0", "0", "0", "1", "0"]
    empty = tuesday.cli("promises", "--date", "2026-12-25")
    assert (empty.exit_code, empty.stdout.splitlines()[1:]) == (0, [])
    assert tuesday.cli("promises", "--date", "2026-11-24", "--format", "xml").exit_code == 2


# The ops page -----------------------------------------------------------------------


class _Page(HTMLParser):
    """The tags of a page: inputs, labels and links, for what a screen reader relies on."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parsed(html: str) -> list[tuple[str, dict[str, str | None]]]:
    page = _Page()
    page.feed(html)
    return page.tags


def test_the_ops_page_needs_the_password_and_links_the_phone(
    past_desk: Desk, make_client: ClientFactory
) -> None:
    client = make_client(past_desk.engine, env=OPS, web={"public_base_url": SITE})
    url = "/ops/callbacks?date=2025-01-14&depot=MI01"
    for refused in (client.get(url), client.get(url, headers=basic("ops", "wrong"))):
        assert refused.status_code == 401
        assert "3331234567" not in refused.text
    page = client.get(url, headers=AUTH)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "same-origin"
    assert '<a href="tel:+393331234567">+39 333 123 4567</a>' in page.text
    assert '<a href="tel:+393470001111">+39 347 000 1111</a>' in page.text
    assert "RPLATE" in page.text
    assert "OVERDUE since Tue 2025-01-14 17:00" in page.text
    assert "no answer, called Mon 2025-01-13 11:00 by Anna" in page.text
    late = past_desk.still_open("RPLATE")
    made = past_desk.promise("RPMADE", "callback")
    tags = parsed(page.text)
    actions = [a["action"] for t, a in tags if t == "form" and a.get("method") == "post"]
    assert actions == [f"/ops/callbacks/{late['id']}/done"]  # made and kept ones have none
    assert f"/ops/callbacks/{made['id']}/done" not in page.text
    assert ("html", {"lang": "en"}) in tags
    labelled = {a["for"] for t, a in tags if t == "label"}
    fields = [a for t, a in tags if t in ("input", "textarea") and a.get("type") != "hidden"]
    assert fields
    assert all(a.get("id") in labelled for a in fields)
    assert not [a for t, a in tags if (a.get("src") or a.get("href") or "").startswith("http")]

    overdue = client.get("/ops/callbacks?overdue=1", headers=AUTH)
    assert overdue.status_code == 200
    assert f"#{late['id']}" in overdue.text
    assert f"#{made['id']}" not in overdue.text
    for bad in ("date=14/01/2025", "due=1&overdue=1", "depot=" + "x" * 65):
        answer = client.get(f"/ops/callbacks?{bad}", headers=AUTH)
        assert answer.status_code == 422, bad
    off = make_client(past_desk.engine, env={})
    assert off.get(url).status_code == 503


def test_the_done_form_marks_the_callback_and_refuses_a_cross_origin_post(
    past_desk: Desk, make_client: ClientFactory
) -> None:
    client = make_client(past_desk.engine, env=OPS, web={"public_base_url": SITE})
    late = past_desk.still_open("RPLATE")
    url = f"/ops/callbacks/{late['id']}/done"
    form = {"by": "Marco", "outcome": "reached", "note": "ok for Friday", "date": "2025-01-14"}

    def post(headers: dict[str, str], data: dict[str, str] = form) -> Any:
        return client.post(url, data=data, headers=headers, follow_redirects=False)

    def row() -> dict[str, Any]:
        return past_desk.row(late["id"])

    assert post({"Origin": SITE}).status_code == 401
    for elsewhere in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},  # what a sandboxed or no-referrer page sends
        {"Origin": "http://testserver.evil.example"},
        {"Referer": "https://evil.example/ops/callbacks"},
        {},  # neither header: not a browser's form on our page
    ):
        answer = post({**AUTH, **elsewhere})
        assert answer.status_code == 403, elsewhere
    assert row() == late

    wrong = post({**AUTH, "Origin": SITE}, {**form, "outcome": "maybe"})
    assert wrong.status_code == 422
    assert "outcome: must be one of reached, no_answer, wrong_number" in wrong.text
    assert row() == late

    done = post({**AUTH, "Origin": SITE})
    assert done.status_code == 303
    assert done.headers["location"] == f"/ops/callbacks?date=2025-01-14#callback-{late['id']}"
    marked = row()
    assert (marked["done_by"], marked["outcome"], marked["note"]) == (
        "Marco",
        "reached",
        "ok for Friday",
    )
    assert (marked["state"], marked["broken_at"]) == ("broken", marked["window_end"])
    again = post({**AUTH, "Origin": SITE})
    assert again.status_code == 409
    assert "was marked done" in again.text
    missing = client.post(
        "/ops/callbacks/999999/done",
        data=form,
        headers={**AUTH, "Referer": f"{SITE}/ops/callbacks"},
    )
    assert missing.status_code == 404
    assert "id: no callback has id 999999" in missing.text
