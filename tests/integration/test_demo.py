"""The demo feed: scripted events arrive when their time comes, once, through normal ingest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from notifier.cli import _local_rebooking
from notifier.db.models import OutboxRow, StatusEventRow
from notifier.ingest.demo import SCRIPT, DemoFeed, demo_events
from tests.conftest import make_settings

START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def count(engine: Engine, table: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_events_arrive_on_schedule_and_only_once(engine: Engine) -> None:
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    feed = DemoFeed(engine, settings, demo_events(START, {}))
    assert feed.feed(START) == 1
    assert feed.feed(START) == 0
    assert feed.feed(START + timedelta(seconds=45)) == 4
    assert feed.feed(START + timedelta(minutes=10)) == len(SCRIPT) - 5
    assert feed.done
    assert count(engine, StatusEventRow) == len(SCRIPT)
    assert count(engine, OutboxRow) > 0
    again = DemoFeed(engine, settings, demo_events(START, {}))  # a restart the same day
    again.feed(START + timedelta(minutes=10))
    assert count(engine, StatusEventRow) == len(SCRIPT)


def test_demo_messages_can_be_sent_to_the_developer() -> None:
    env = {"NOTIFIER_DEMO_PHONE": "+39 347 000 1111", "NOTIFIER_DEMO_EMAIL": "me@example.org"}
    events = [event for _, event in demo_events(START, env)]
    phones = {e["recipient"].get("phone") for e in events} - {None}
    emails = {e["recipient"].get("email") for e in events} - {None}
    assert phones == {"+39 347 000 1111"}
    assert emails == {"me@example.org"}


def test_demo_links_open_this_servers_own_rebooking_page() -> None:
    settings = make_settings("sqlite:///demo.db")
    local = _local_rebooking(settings, "0.0.0.0", 8765)
    assert str(local.company.rebooking_base_url) == "http://127.0.0.1:8765/r/"
    assert str(settings.company.rebooking_base_url) == "https://rapido.example/r/"  # untouched
    assert _local_rebooking(settings, "127.0.0.2", 9000).company.rebooking_base_url.port == 9000
