"""GET /ops, the dashboard: on a day seeded through the real paths (ingest, the dispatcher on
the console channel, receipts, rebookings, a callback marked, the promise watch, feedback
answers), every figure equals a count made here straight from the tables; the edges of a
company day, the days that change the clock, an empty database and the refusals."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from notifier.channels.console import ConsoleChannel
from notifier.db.engine import read_transaction, write_transaction
from notifier.db.tables import (
    EVENTS,
    FEEDBACK,
    LINKS,
    OUTBOX,
    PROMISES,
    REBOOKINGS,
    SHIPMENTS,
)
from notifier.feedback.answers import Answer
from notifier.feedback.store import Opened, record_answer
from notifier.ops.dashboard import duration_text
from notifier.ops.promises import day_text
from notifier.rebooking import links
from notifier.rebooking import store as rebooking
from notifier.rebooking.choices import Choice
from notifier.rebooking.promise_store import mark_callback_done
from notifier.rebooking.promise_watch import watch_promises
from notifier.rebooking.promises import check_call
from notifier.rendering.environment import build_environment
from notifier.sending.dispatch import Dispatcher
from notifier.sending.receipts import apply_receipt
from notifier.shipments import ShipmentRecord
from notifier.web.app import create_app
from tests.integration.printing import OPS, ROME, Depot, basic, tracking

NOW = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)  # Tuesday 11:30 in Rome
TODAY = date(2026, 11, 24)
DAYS = [TODAY - timedelta(days=back) for back in range(6, -1, -1)]


def rome(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ROME)


class Day(Depot):
    """config.example.toml's MI01 at a fixed moment, with the clock moved by hand."""

    def __init__(self, engine: Engine, now: datetime = NOW) -> None:
        super().__init__(engine)
        self.move(now)
        self.bookings = 0

    def move(self, now: datetime) -> None:
        self.now = now
        self.today = now.astimezone(ROME).date()
        self.earlier = now - timedelta(minutes=30)

    def at(self, moment: datetime, *events: dict[str, Any]) -> None:
        """Events received at `moment` (and happened a little before)."""
        self.move(moment)
        happened = (moment - timedelta(minutes=5)).isoformat()
        self.store(*({**event, "occurred_at": happened} for event in events))

    def dispatch(self, moment: datetime) -> None:
        channels = {
            "sms": ConsoleChannel("sms", io.StringIO()),
            "email": ConsoleChannel("email", io.StringIO()),
        }
        dispatcher = Dispatcher(
            engine=self.engine,
            settings=self.settings,
            channels=channels,  # type: ignore[arg-type]
            templates=build_environment(self.settings),
            worker="dashboard-test",
            concurrency=1,
        )
        while dispatcher.run_once(moment).claimed:
            pass

    def receipt(self, number: int, status: str, moment: datetime) -> None:
        with read_transaction(self.engine) as connection:
            [provider_id] = connection.execute(
                select(OUTBOX.c.provider_id)
                .join(SHIPMENTS, SHIPMENTS.c.id == OUTBOX.c.shipment_id)
                .where(
                    SHIPMENTS.c.tracking_number == tracking(number),
                    OUTBOX.c.channel == "sms",
                    OUTBOX.c.provider_id.is_not(None),
                )
                .order_by(OUTBOX.c.id.desc())
                .limit(1)
            ).scalars()
        apply_receipt(
            self.engine,
            provider_id=provider_id,
            status=status,
            error_code=None if status == "delivered" else "30005",
            settings=self.settings,
            now=moment,
        )

    def shipment(self, connection: Any, number: int) -> ShipmentRecord:
        row = connection.execute(
            select(SHIPMENTS).where(SHIPMENTS.c.tracking_number == tracking(number))
        ).one()
        return ShipmentRecord.from_mapping(row._mapping)

    def choose(self, number: int, choice: Choice, moment: datetime) -> None:
        self.bookings += 1
        with write_transaction(self.engine) as connection:
            shipment = self.shipment(connection, number)
            live = links.live_links(
                connection,
                [shipment.id],
                key=self.settings.link_key,
                settings=self.settings,
                now=moment,
            )
            rebooking.book(
                connection,
                link=live[shipment.id],
                shipment=shipment,
                choice=choice,
                submission=f"form-{self.bookings}",
                settings=self.settings,
                now=moment,
            )

    def call_made(self, number: int, moment: datetime) -> None:
        with write_transaction(self.engine) as connection:
            shipment = self.shipment(connection, number)
            [promise_id] = connection.execute(
                select(PROMISES.c.id).where(
                    PROMISES.c.shipment_id == shipment.id, PROMISES.c.kind == "callback"
                )
            ).scalars()
            mark_callback_done(
                connection, promise_id, call=check_call("Anna", "reached", None), now=moment
            )

    def rated(self, number: int, score: int, comment: str | None, moment: datetime) -> None:
        with write_transaction(self.engine) as connection:
            shipment = self.shipment(connection, number)
            opened = Opened(shipment.id, "it", shipment.tracking_number, shipment.depot, None)
            record_answer(
                connection,
                opened,
                Answer(score, comment),
                settings=self.settings.feedback,
                now=moment,
            )

    @contextmanager
    def client_at(self, moment: datetime) -> Iterator[TestClient]:
        app = create_app(self.settings, engine=self.engine, clock=lambda: moment)
        with TestClient(app) as client:
            yield client


LANDLINE = {"name": "Luca Verdi", "phone": "02 1234 5678", "email": "luca@example.it"}


def seed(day: Day) -> None:
    """A week at MI01 up to Tuesday 24 November 11:30, with what must stay out of it."""
    saturday, monday = TODAY - timedelta(days=3), TODAY - timedelta(days=1)
    long_ago = TODAY - timedelta(days=9)  # before the week shown
    day.at(rome(long_ago, 10), day.event(30, "DELIVERED"))
    day.dispatch(rome(long_ago, 10, 1))
    day.rated(30, 5, "Old news", rome(long_ago, 11))
    day.at(
        rome(saturday, 10),
        day.event(20, "DELIVERED"),
        day.event(21, "DELIVERY_ATTEMPTED", reason="RECIPIENT_ABSENT"),
    )
    day.dispatch(rome(saturday, 10, 2))
    day.choose(21, Choice(kind="callback", day=monday, window="09:00-12:00"), rome(saturday, 10, 5))
    day.rated(20, 2, "Lento", rome(saturday, 11))
    day.at(
        rome(monday, 15),
        *(day.event(n, "DELIVERY_ATTEMPTED", reason="RECIPIENT_ABSENT") for n in (8, 14)),
    )
    day.dispatch(rome(monday, 15, 1))
    day.choose(8, Choice(kind="callback", day=TODAY, window="09:00-12:00"), rome(monday, 15, 5))
    day.choose(14, Choice(kind="callback", day=TODAY, window="14:00-17:00"), rome(monday, 15, 6))
    day.at(rome(monday, 23, 59), day.event(12, "OUT_FOR_DELIVERY"))  # the day's last minute
    day.at(rome(TODAY, 0, 0), day.event(13, "OUT_FOR_DELIVERY"))  # the next day's first
    day.at(rome(TODAY, 8), *(day.event(n, "OUT_FOR_DELIVERY", route_stop=n) for n in (1, 2, 3)))
    day.at(
        rome(TODAY, 9),
        *(day.event(n, "DELIVERY_ATTEMPTED", reason="RECIPIENT_ABSENT") for n in (4, 5, 6)),
        day.event(7, "DELIVERY_ATTEMPTED", reason="RECIPIENT_ABSENT", depot="TO01"),
        day.event(9, "OUT_FOR_DELIVERY", depot=None),
        day.event(10, "DELIVERED", recipient=LANDLINE),
    )
    day.dispatch(rome(TODAY, 9, 3))
    day.receipt(4, "delivered", rome(TODAY, 9, 10))
    day.receipt(5, "undelivered", rome(TODAY, 9, 10))
    day.choose(
        4,
        Choice(kind="slot", day=TODAY + timedelta(days=1), window="09:00-13:00"),
        rome(TODAY, 9, 20),
    )
    day.choose(5, Choice(kind="pickup", pickup_point="PP-MI-12"), rome(TODAY, 9, 21))
    day.choose(6, Choice(kind="dispute", instructions="Ero in casa"), rome(TODAY, 9, 22))
    day.call_made(8, rome(TODAY, 10))
    day.rated(10, 4, "<b>Gentile</b> corriere", rome(TODAY, 10))
    day.dispatch(rome(TODAY, 10, 5))
    watch_promises(day.engine, settings=day.settings, now=NOW)
    day.at(rome(TODAY, 11, 20), day.event(15, "OUT_FOR_DELIVERY"))  # its message: late at NOW
    day.move(NOW)


class _Tables(HTMLParser):
    """The page's tables, by id: {row header: [cells]}, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, list[str]]] = {}
        self.words: list[str] = []
        self.ids: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        if found.get("id"):
            self.ids.append(str(found["id"]))
        self._skip += tag in ("title", "style", "desc")
        if tag == "table":
            self._table = str(found["id"])
            self.tables[self._table] = {}
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("th", "td") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("title", "style", "desc")
        if tag in ("th", "td") and self._cell is not None and self._row is not None:
            self._row.append(" ".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table:
            self.tables[self._table][self._row[0]] = self._row[1:]
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.extend(data.split())
        if not self._skip:
            self.words.extend(data.split())

    @property
    def text(self) -> str:
        return " ".join(self.words)


def parsed(html: str) -> _Tables:
    page = _Tables()
    page.feed(html)
    return page


def sections(page: _Tables) -> list[str | None]:
    return [a["aria-labelledby"] for t, a in page.tags if t == "section"]


def label(day: date) -> str:
    return f"{('Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun')[day.weekday()]} {day.day}"


def local_day(moment: datetime | None) -> date | None:
    return None if moment is None else moment.astimezone(ROME).date()


def nearest_rank(values: list[float], share: float) -> float | None:
    """The smallest value with at least `share` of the values at or below it."""
    for value in sorted(values):
        if sum(v <= value for v in values) >= share * len(values):
            return value
    return None


class Counted:
    """The figures counted here, straight from the tables: rows read whole and put in
    their company day with astimezone, no SQL grouping (the dashboard's store groups in
    SQL: two ways to one answer)."""

    def __init__(self, engine: Engine, now: datetime) -> None:
        self.counts: Counter[tuple[str, str | None, date]] = Counter()
        self.times: dict[tuple[str | None, date], list[float]] = {}
        with read_transaction(engine) as c:
            depot_of = dict(c.execute(select(SHIPMENTS.c.id, SHIPMENTS.c.depot)).all())
            events = c.execute(select(EVENTS)).all()
            received = {e.id: e.received_at for e in events}
            for e in events:
                self.add("events", depot_of[e.shipment_id], e.received_at)
                if e.status == "DELIVERY_ATTEMPTED":
                    self.add("missed", depot_of[e.shipment_id], e.occurred_at)
            attempt = {e.id: e for e in events}
            link_event = dict(c.execute(select(LINKS.c.id, LINKS.c.status_event_id)).all())
            rebooked: set[tuple[str, int]] = set()
            for r in c.execute(select(REBOOKINGS)):
                if r.kind == "dispute":
                    self.add("disputes", depot_of[r.shipment_id], r.created_at)
                    continue
                event = attempt[link_event[r.link_id]]
                if r.replaced_at is None and event.status == "DELIVERY_ATTEMPTED":
                    rebooked.add((r.kind, event.id))
            for kind, event_id in rebooked:
                event = attempt[event_id]
                for name in (f"rebooked:{kind}", "rebooked"):
                    self.add(name, depot_of[event.shipment_id], event.occurred_at)
            for m in c.execute(select(OUTBOX)):
                depot = depot_of[m.shipment_id]
                if m.sent_at is not None:
                    self.add(f"sent:{m.channel}", depot, m.sent_at)
                    if m.status_event_id is not None:
                        key = (depot, local_day(m.sent_at))
                        seconds = (m.sent_at - received[m.status_event_id]).total_seconds()
                        self.times.setdefault(key, []).append(seconds)  # type: ignore[arg-type]
                outcome = {"delivered": "delivered", "suppressed": "suppressed"}.get(
                    m.state, "failed" if m.state in ("failed", "dead", "undelivered") else None
                )
                if outcome is not None:
                    self.add(f"{outcome}:{m.channel}", depot, m.finished_at)
            self.pending = [m for m in c.execute(select(OUTBOX)) if m.state == "pending"]
            for p in c.execute(select(PROMISES)):
                if p.kind == "callback" and p.state != "excused":
                    self.add("callbacks_due", p.depot, p.window_start)
                    if p.done_at is not None:
                        self.add("callbacks_done", p.depot, p.window_start)
                    elif p.state in ("open", "broken") and p.window_end <= now:
                        self.add("callbacks_overdue", p.depot, p.window_start)
                if p.state in ("kept", "broken"):
                    self.add(f"promises_{p.state}", p.depot, p.window_start)
            self.feedback = c.execute(select(FEEDBACK)).all()

    def add(self, name: str, depot: str | None, moment: datetime) -> None:
        self.counts[name, depot, local_day(moment)] += 1  # type: ignore[index]

    def row(self, names: list[str], depot: str | None, day: date) -> list[str]:
        return [str(self.counts[name, depot, day]) for name in names]

    def week(self, names: list[str], depot: str | None) -> list[str]:
        return [str(sum(self.counts[name, depot, day] for day in DAYS)) for name in names]


TABLES = {
    "events": ["events", "missed", "rebooked", "disputes"],
    "sms": ["sent:sms", "delivered:sms", "failed:sms", "suppressed:sms"],
    "email": ["sent:email", "delivered:email", "failed:email", "suppressed:email"],
    "callbacks": ["callbacks_due", "callbacks_done", "callbacks_overdue"],
    "promises": ["promises_kept", "promises_broken"],
}
KINDS = {
    "Delivery slot": "slot",
    "Pickup point": "pickup",
    "Neighbour": "neighbour",
    "Safe place": "safe_place",
    "Callback": "callback",
}


@pytest.fixture
def week(engine: Engine) -> Day:
    day = Day(engine)
    seed(day)
    return day


def test_every_figure_equals_the_count_made_from_the_tables(week: Day) -> None:
    with week.client_at(NOW) as client:
        answer = client.get("/ops", headers=OPS)  # today, every depot, by default
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-type"].startswith("text/html")
    page = parsed(answer.text)
    counted = Counted(week.engine, NOW)
    assert f"Operations: {day_text(TODAY)} (today)" in page.text
    # Each depot the week knows has its section: configured first, then the rest.
    assert sections(page) == ["outbox", "depot-MI01", "depot-TO01", "no-depot"]
    for depot, key in (("MI01", "depot-MI01"), ("TO01", "depot-TO01"), (None, "no-depot")):
        for name, figures in TABLES.items():
            table = page.tables[f"{key}-{name}"]
            assert list(table) == ["Day", *(label(d) for d in reversed(DAYS)), "7 days"]
            for day in DAYS:
                assert table[label(day)] == counted.row(figures, depot, day), (key, name, day)
            assert table["7 days"] == counted.week(figures, depot), (key, name)
        rebooked = page.tables[f"{key}-rebooked"]
        for text, kind in KINDS.items():
            names = [f"rebooked:{kind}"]
            assert rebooked[text] == [
                *counted.row(names, depot, TODAY),
                *counted.week(names, depot),
            ]
        latency = page.tables[f"{key}-latency"]
        for day in DAYS:
            times = counted.times.get((depot, day), [])
            assert latency[label(day)] == [
                str(len(times)),
                duration_text(nearest_rank(times, 0.5)),
                duration_text(nearest_rank(times, 0.95)),
            ], (key, day)
        week_times = [t for d in DAYS for t in counted.times.get((depot, d), [])]
        assert latency["7 days"] == [
            str(len(week_times)),
            duration_text(nearest_rank(week_times, 0.5)),
            duration_text(nearest_rank(week_times, 0.95)),
        ]
    # The seed reaches every figure: no comparison above is 0 == 0 alone.
    today = {name: counted.counts[name, "MI01", TODAY] for name, *_ in counted.counts}
    for name in ("events", "missed", "rebooked", "disputes", "sent:sms", "sent:email"):
        assert today[name] > 0, name
    for name in ("delivered:sms", "failed:sms", "suppressed:sms", "callbacks_done"):
        assert today[name] > 0, name
    assert counted.counts["callbacks_overdue", "MI01", TODAY - timedelta(days=1)] == 1
    assert counted.counts["promises_broken", "MI01", TODAY - timedelta(days=1)] == 1
    assert counted.counts["promises_kept", "MI01", TODAY] == 1
    assert len(counted.times["MI01", TODAY]) > 1


def test_the_feedback_and_the_outbox_are_the_tables(week: Day) -> None:
    with week.client_at(NOW) as client:
        answer = client.get("/ops?depot=MI01", headers=OPS)
    page = parsed(answer.text)
    counted = Counted(week.engine, NOW)
    in_week = [f for f in counted.feedback if local_day(f.created_at) in DAYS]
    on_day = [f for f in in_week if local_day(f.created_at) == TODAY]
    assert on_day
    assert len(in_week) > len(on_day)  # and one before the week, left out
    assert len(counted.feedback) > len(in_week)
    table = page.tables["depot-MI01-feedback"]
    for score in range(1, 6):
        assert table[f"{score} of 5"] == [
            str(sum(f.score == score for f in on_day)),
            str(sum(f.score == score for f in in_week)),
        ]
    assert table["All answers"] == [str(len(on_day)), str(len(in_week))]
    average = sum(f.score for f in in_week) / len(in_week)
    assert f"{len(in_week)} in 7 days, average {average:.2f} of 5" in page.text
    # Comments are the recipients' text, shown as text: never markup.
    assert "&lt;b&gt;Gentile&lt;/b&gt; corriere" in answer.text
    assert "<b>Gentile" not in answer.text
    assert "Lento" in page.text
    assert "Old news" not in page.text
    # The queue now, as the outbox holds it.
    due = [m.due_at for m in counted.pending if m.due_at <= NOW]
    oldest = min(due).astimezone(ROME)
    assert f"{len(counted.pending)} messages waiting to be sent" in page.text
    assert f"the oldest due since {oldest:%Y-%m-%d %H:%M}" in page.text
    # One depot asked for: its section alone, and the picker says which.
    assert sections(page) == ["outbox", "depot-MI01"]
    current = [a["href"] for t, a in page.tags if t == "a" and a.get("aria-current") == "page"]
    assert current == [f"/ops?date={TODAY.isoformat()}&depot=MI01"]


def test_a_day_ends_at_local_midnight(week: Day) -> None:
    monday = TODAY - timedelta(days=1)
    with week.client_at(NOW) as client:
        tuesday_page = parsed(client.get("/ops", headers=OPS).text)
        monday_page = parsed(client.get(f"/ops?date={monday.isoformat()}", headers=OPS).text)
    # Parcel 12 came in at 23:59 on Monday, parcel 13 at 00:00 on Tuesday (Rome).
    with read_transaction(week.engine) as c:
        received = dict(
            c.execute(
                select(SHIPMENTS.c.tracking_number, EVENTS.c.received_at).join(
                    EVENTS, EVENTS.c.shipment_id == SHIPMENTS.c.id
                )
            ).all()
        )
    assert received[tracking(12)] == rome(monday, 23, 59).astimezone(UTC)
    assert received[tracking(13)] == rome(TODAY, 0).astimezone(UTC)
    # Monday: parcels 8 and 14 at 15:00 and 12 at 23:59; Tuesday: 13 at 00:00 and 8 more.
    assert monday_page.tables["depot-MI01-events"][label(monday)][0] == "3"
    assert tuesday_page.tables["depot-MI01-events"][label(TODAY)][0] == "9"
    events = Counted(week.engine, NOW)
    assert tuesday_page.tables["depot-MI01-events"][label(monday)][0] == str(
        events.counts["events", "MI01", monday]
    )
    # Monday's page ends with Monday: the same Monday row, and Tuesday's events nowhere.
    assert (
        monday_page.tables["depot-MI01-events"][label(monday)]
        == (tuesday_page.tables["depot-MI01-events"][label(monday)])
    )
    assert label(TODAY) not in monday_page.tables["depot-MI01-events"]
    assert monday_page.tables["depot-MI01-events"]["7 days"][0] == str(
        sum(events.counts["events", "MI01", monday - timedelta(days=n)] for n in range(7))
    )


@pytest.mark.parametrize(
    ("change", "hours"),
    [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25)],
    ids=["spring-forward", "fall-back"],
)
def test_the_days_that_change_the_clock_keep_their_own_hours(
    engine: Engine, change: date, hours: int
) -> None:
    start, end = rome(change, 0), rome(change + timedelta(days=1), 0)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=hours)
    day = Day(engine, start)
    first, last = start, end - timedelta(minutes=1)
    day.at(first, day.event(1, "OUT_FOR_DELIVERY"))
    day.at(last, day.event(2, "OUT_FOR_DELIVERY"))
    day.at(end, day.event(3, "OUT_FOR_DELIVERY"))  # the next day's first minute
    day.at(start - timedelta(minutes=1), day.event(4, "OUT_FOR_DELIVERY"))  # the last before
    with day.client_at(end + timedelta(hours=12)) as client:
        page = parsed(client.get(f"/ops?date={change.isoformat()}", headers=OPS).text)
    events = page.tables["depot-MI01-events"]
    assert events[label(change)][0] == "2"
    assert events[label(change - timedelta(days=1))][0] == "1"
    assert events["7 days"][0] == "3"


def test_an_empty_database_shows_zeros_and_an_empty_queue(engine: Engine) -> None:
    day = Day(engine)
    with day.client_at(NOW) as client:
        answer = client.get("/ops", headers=OPS)
    assert answer.status_code == 200
    page = parsed(answer.text)
    assert "0 messages waiting to be sent." in page.text
    assert sections(page) == ["outbox", "depot-MI01"]
    for name in TABLES:
        table = page.tables[f"depot-MI01-{name}"]
        assert all(set(cells) == {"0"} for row, cells in table.items() if row != "Day")
    assert page.tables["depot-MI01-latency"]["7 days"] == ["0", "–", "–"]
    assert "No message caused by an event was sent that day." in page.text
    assert "0 answers that day; 0 in 7 days, no answers." in page.text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("date=24/11/2026", "date: needs a day as YYYY-MM-DD"),
        ("date=2026-02-30", "date: needs a day as YYYY-MM-DD"),
        ("depot=XX99", "depot: must be one of the configured depots (MI01)"),
        ("depot=MI01%00", "depot: must be one of the configured depots (MI01)"),
    ],
)
def test_a_bad_date_or_depot_is_a_422_naming_the_field(
    engine: Engine, query: str, field: str
) -> None:
    day = Day(engine)
    with day.client_at(NOW) as client:
        answer = client.get(f"/ops?{query}", headers=OPS)
    assert answer.status_code == 422
    assert answer.headers["cache-control"] == "no-store"
    page = parsed(answer.text)
    assert field in page.text
    assert not page.tables
    name = query.split("=")[0]
    [box] = [a for t, a in page.tags if t == "input" and a.get("name") == name]
    assert box["aria-invalid"] == "true"


def test_the_dashboard_needs_the_ops_password(engine: Engine) -> None:
    day = Day(engine)
    seed(day)
    with day.client_at(NOW) as client:
        for refused in (
            client.get("/ops"),
            client.get("/ops", headers=basic("ops", "wrong")),
            client.get("/ops?depot=MI01", headers=basic("admin", "ops-secret")),
        ):
            assert refused.status_code == 401
            assert "www-authenticate" in refused.headers
            assert "<table" not in refused.text
            assert "x-content-type-options" in refused.headers
        answer = client.get("/ops", headers=OPS)
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in answer.headers
