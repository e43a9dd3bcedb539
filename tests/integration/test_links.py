"""Rebooking links: issued with the news that invites a choice, kept through attempts,
expiring, never stored in clear."""

from __future__ import annotations

import json
import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from notifier.channels.base import OutgoingMessage, SendResult
from notifier.config import Settings
from notifier.db.tables import EVENTS, LINKS, OUTBOX
from notifier.errors import SecretKeyMissingError
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.rebooking import links
from notifier.rebooking.links import CODE_ALPHABET, Link
from notifier.rendering.environment import build_environment
from notifier.sending.compose import WITHHELD
from notifier.sending.dispatch import Dispatcher
from tests.conftest import EventFactory, make_settings

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


class Recording:
    """A channel that keeps what it is given (the lowest seam: no provider at all)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> SendResult:
        self.sent.append(message)
        return SendResult(provider_id=f"{self.name}-{len(self.sent)}")


@pytest.fixture
def settings(engine: Engine) -> Settings:
    return make_settings(engine.url.render_as_string(hide_password=False))


def store(engine: Engine, settings: Settings, *events: dict[str, Any], now: datetime = NOW) -> None:
    items = [Incoming(i, e, json.dumps(e)) for i, e in enumerate(events)]
    list(ingest(engine, items, settings=settings, now=lambda: now))


def live(engine: Engine, settings: Settings, now: datetime = NOW) -> dict[int, Link]:
    with engine.connect() as connection:
        ids = [r.shipment_id for r in connection.execute(select(LINKS.c.shipment_id))]
        key = settings.link_key
        return links.live_links(connection, ids, key=key, settings=settings, now=now)


def resolve(engine: Engine, settings: Settings, token: str, now: datetime = NOW) -> Link | None:
    with engine.connect() as connection:
        key = settings.link_key
        return links.resolve_token(connection, token, key=key, settings=settings, now=now)


def attempt(make_event: EventFactory, **changes: Any) -> dict[str, Any]:
    fields = {
        "status": "DELIVERY_ATTEMPTED",
        "reason": "RECIPIENT_ABSENT",
        "occurred_at": "2026-11-22T10:49:00+01:00",
    }
    return make_event(**{**fields, **changes})


def test_a_missed_delivery_gets_a_link_that_opens_its_shipment_only(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    store(engine, settings, attempt(make_event), attempt(make_event, tracking_number="RP2IT"))
    found = live(engine, settings)
    assert len(found) == 2
    first, second = found.values()
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", first.token)  # 128 bits, URL-safe
    assert first.url == "https://rapido.example/r/" + first.token
    assert len(first.code) == 8
    assert set(first.code) <= set(CODE_ALPHABET)
    assert not set(first.code) & set("0O1IL")
    assert first.token != second.token
    assert first.code != second.code
    opened = resolve(engine, settings, first.token)
    assert opened is not None
    assert opened.shipment_id == first.shipment_id
    with engine.connect() as connection:
        key = settings.link_key
        typed = f"{first.code[:4].lower()} {first.code[4:]}"
        by_code = links.resolve_code(connection, typed, key=key, settings=settings, now=NOW)
    assert by_code is not None
    assert by_code.shipment_id == first.shipment_id
    assert (
        resolve(engine, settings, first.token[:-1] + ("A" if first.token[-1] != "A" else "B"))
        is None
    )


def test_neither_token_nor_code_is_stored_and_the_key_is_needed(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    store(engine, settings, attempt(make_event))
    (link,) = live(engine, settings).values()
    with engine.connect() as connection:
        rows = [dict(r) for r in connection.execute(select(LINKS)).mappings()]
    stored = json.dumps(rows, default=str)
    assert link.token not in stored
    assert link.code not in stored
    other = make_settings(settings.database.url, env={"NOTIFIER_SECRET_KEY": "another key"})
    assert resolve(engine, other, link.token) is not None  # the hash needs no key...
    assert live(engine, other)[link.shipment_id].token != link.token  # ...deriving it does


def test_a_second_attempt_keeps_the_link_and_makes_it_its_own(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    # Both slips in the letterbox, and the first text, still open the parcel's page.
    store(engine, settings, attempt(make_event))
    (old,) = live(engine, settings).values()
    later = NOW + timedelta(days=1)
    second = attempt(make_event, occurred_at="2026-11-23T11:20:00+01:00", held_until="2026-12-12")
    store(engine, settings, second, now=later)
    (kept,) = live(engine, settings, later).values()
    assert (kept.token, kept.code) == (old.token, old.code)
    assert kept.status_event_id != old.status_event_id  # the page tells of the second attempt
    assert kept.expires_at == datetime(2026, 12, 12, 23, 0, tzinfo=UTC)  # its hold, not the first's
    with engine.connect() as connection:
        key = settings.link_key
        typed = links.resolve_code(connection, old.code, key=key, settings=settings, now=later)
        assert typed is not None
        assert typed.id == old.id


def test_on_its_way_and_out_for_delivery_get_a_link_before_any_attempt(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    store(engine, settings, make_event(status="CREATED", occurred_at="2026-11-21T08:00:00+01:00"))
    (announced,) = live(engine, settings).values()
    store(
        engine,
        settings,
        make_event(status="OUT_FOR_DELIVERY", occurred_at="2026-11-22T07:30:00+01:00"),
        attempt(make_event),
    )
    (after,) = live(engine, settings).values()
    assert after.token == announced.token  # the "on its way" text's link still works
    assert after.status_event_id != announced.status_event_id


def test_a_late_older_attempt_does_not_replace_the_current_link(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    store(engine, settings, attempt(make_event, occurred_at="2026-11-22T15:00:00+01:00"))
    (current,) = live(engine, settings).values()
    store(engine, settings, attempt(make_event, occurred_at="2026-11-22T09:00:00+01:00"))
    assert resolve(engine, settings, current.token) is not None
    assert list(live(engine, settings).values()) == [current]


def test_a_batch_newest_first_points_the_link_at_its_newest_attempt(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    # A handheld's backlog, sent newest first: the second attempt is the parcel's news.
    second = attempt(make_event, occurred_at="2026-11-22T15:00:00+01:00")
    first = attempt(make_event, occurred_at="2026-11-22T09:00:00+01:00")
    store(engine, settings, second, first)
    (link,) = live(engine, settings).values()
    with engine.connect() as connection:
        newest = connection.execute(
            select(EVENTS.c.id).where(EVENTS.c.event_id == second["event_id"])
        ).scalar_one()
    assert link.status_event_id == newest


def test_a_delivered_parcels_link_still_opens_it(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    # The slip stays on the fridge: its QR must open "delivered", not "this link is not valid".
    store(engine, settings, attempt(make_event))
    (link,) = live(engine, settings).values()
    store(engine, settings, make_event(status="DELIVERED", occurred_at="2026-11-22T16:00:00+01:00"))
    opened = resolve(engine, settings, link.token)
    assert opened is not None
    assert opened.expires_at == link.expires_at


def test_a_link_lives_until_the_hold_ends_or_valid_days(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    store(
        engine,
        settings,
        attempt(make_event, held_until="2026-12-02"),
        attempt(make_event, tracking_number="RP2IT"),
    )
    held, plain = live(engine, settings).values()
    end_of_hold = datetime(2026, 12, 2, 23, 0, tzinfo=UTC)  # midnight in Rome
    assert held.expires_at == end_of_hold
    assert resolve(engine, settings, held.token, end_of_hold - timedelta(seconds=1)) is not None
    assert resolve(engine, settings, held.token, end_of_hold) is None
    attempted = datetime(2026, 11, 22, 9, 49, tzinfo=UTC)
    assert plain.expires_at == attempted + timedelta(days=settings.links.valid_days)


def test_the_missed_delivery_sms_carries_the_slips_link(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    store(engine, settings, attempt(make_event, next_attempt={"date": "2026-11-24"}))
    (link,) = live(engine, settings).values()
    sms, email = Recording("sms"), Recording("email")
    dispatcher = Dispatcher(
        engine=engine,
        settings=settings,
        channels={"sms": sms, "email": email},
        templates=build_environment(settings),
        worker="w1",
    )
    assert dispatcher.run_once(NOW).outcomes == {"sent": 1}
    (message,) = sms.sent
    assert link.url in message.body
    # The outbox keeps the message as sent but for the link's token: the database holds
    # no link that works (a backup, an export) beyond the links' salts and hashes.
    with engine.connect() as connection:
        sent = select(OUTBOX.c.body).where(OUTBOX.c.state == "sent")
        body = connection.execute(sent).scalar_one()
    assert link.token not in body
    assert body == message.body.replace(link.token, WITHHELD)
    assert link.url.replace(link.token, WITHHELD) in body


def test_the_outbox_keeps_no_token_nor_code_of_an_email(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    recipient = {"name": "Maria Teresa Castiglioni", "email": "mt.castiglioni@example.it"}
    store(engine, settings, attempt(make_event, recipient=recipient))
    (link,) = live(engine, settings).values()
    email = Recording("email")
    dispatcher = Dispatcher(
        engine=engine,
        settings=settings,
        channels={"sms": Recording("sms"), "email": email},
        templates=build_environment(settings),
        worker="w1",
    )
    assert dispatcher.run_once(NOW).outcomes == {"sent": 1}
    (message,) = email.sent
    assert message.body_html is not None
    for sent in (message.body, message.body_html):
        assert link.token in sent
        assert link.code in sent  # the footer's "or enter the code ..."
    with engine.connect() as connection:
        query = select(OUTBOX.c.body, OUTBOX.c.body_html).where(OUTBOX.c.state == "sent")
        kept = connection.execute(query).one()
    for stored, sent in ((kept.body, message.body), (kept.body_html, message.body_html)):
        assert link.token not in stored
        assert link.code not in stored
        assert stored == sent.replace(link.token, WITHHELD).replace(link.code, WITHHELD)


def test_short_codes_skip_ones_already_taken(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    store(engine, settings, attempt(make_event))
    key = settings.link_key
    with engine.begin() as connection:
        row = connection.execute(select(LINKS)).one()
        assert row.code_round == 0
        # The stored link's own salt clashes at round 0, so round 1 is the first free.
        assert links._free_code_rounds(connection, key, [row.salt]) == [1]
        # Two siblings in one batch never share a code either.
        fresh = "ab" * 16
        assert links._free_code_rounds(connection, key, [fresh, fresh]) == [0, 1]
    assert links.derive_code(key, row.salt, 0) != links.derive_code(key, row.salt, 1)


def test_codes_typed_by_people_are_normalised() -> None:
    assert links.normalise_code("abcd efgh") == "ABCDEFGH"
    assert links.normalise_code(" K7QM-3XRP ") == "K7QM3XRP"
    assert links.normalise_code("ABCD EFG0") is None  # 0 is never printed
    assert links.normalise_code("ABCDEFG") is None
    assert links.group_code("K7QM3XRP") == "K7QM 3XRP"


def test_postgres_without_a_secret_key_is_refused() -> None:
    settings = make_settings(
        "postgresql://postgres@127.0.0.1:5432/none", env={"NOTIFIER_SECRET_KEY": ""}
    )
    assert settings.secrets.secret_key is None
    with pytest.raises(SecretKeyMissingError, match="NOTIFIER_SECRET_KEY"):
        _ = settings.link_key


def test_sqlite_without_a_secret_key_keeps_one_beside_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'notifier.db'}"
    settings = make_settings(url, env={"NOTIFIER_SECRET_KEY": ""})
    # Resolved when the settings load: nothing on the core paths reads a file.
    path = tmp_path / "notifier.secret"
    assert path.exists()
    key = settings.link_key
    assert path.read_text().strip().encode() == key
    assert len(key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # As a restarted process: the same key from the same file.
    assert make_settings(url, env={"NOTIFIER_SECRET_KEY": ""}).link_key == key
