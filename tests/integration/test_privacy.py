"""Privacy (issue 17 item 4): `notifier erase` leaves no trace of a person in any table and
nothing reaches them after; `notifier export` shows what is held; retention anonymises
old shipments while the counts and the opt-outs hold. Both databases, real ingest."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlmodel import SQLModel
from typer.testing import CliRunner

from notifier.channels.base import OutgoingMessage, SendResult
from notifier.cli import app
from notifier.config import Settings
from notifier.db import schema
from notifier.db.engine import make_engine, write_transaction
from notifier.db.tables import (
    EVENTS,
    FEEDBACK,
    INBOUND,
    LINKS,
    OPT_OUTS,
    OUTBOX,
    REBOOKINGS,
    SHIPMENTS,
)
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.outbox import store as outbox
from notifier.outbox.suppression import ERASED_REASON, hashed_address
from notifier.privacy.retention import anonymise_batch, apply_retention
from notifier.rendering.environment import build_environment
from notifier.sending.dispatch import Dispatcher
from notifier.sending.receipts import apply_receipt
from tests.conftest import NOW, TEST_SECRET_KEY, EventFactory, make_settings

runner = CliRunner()

X_PHONE, X_NATIONAL = "+39 347 918 2736", "347 918 2736"
X_DIGITS = "3479182736"
X_EMAIL = "Mario.Rossi@Example.it"
Y_PHONE, Y_EMAIL = "+39 333 555 0101", "anna.verdi@example.it"
Y_E164 = "+393335550101"


class Recording:
    """A channel that keeps what it was given: what crossed the wire, for the asserts."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> SendResult:
        self.sent.append(message)
        return SendResult(provider_id=f"{self.name}-{message.outbox_id}")


class World:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine, self.settings = engine, settings
        self.sms, self.email = Recording("sms"), Recording("email")

    def store(self, *events: dict[str, Any], now: datetime = NOW) -> None:
        items = [Incoming(i, e, json.dumps(e)) for i, e in enumerate(events)]
        list(ingest(self.engine, items, settings=self.settings, now=lambda: now))

    def dispatch(self, now: datetime = NOW) -> None:
        dispatcher = Dispatcher(
            engine=self.engine,
            settings=self.settings,
            channels={"sms": self.sms, "email": self.email},
            templates=build_environment(self.settings),
            worker="w1",
        )
        while dispatcher.run_once(now).claimed:
            pass

    def recipients(self) -> list[str]:
        return [m.recipient for m in [*self.sms.sent, *self.email.sent]]


def person(name: str, phone: str | None, email: str | None) -> dict[str, Any]:
    recipient: dict[str, Any] = {
        "name": name,
        "locale": "it",
        "postcode": "20121",
        "address": {"line1": f"Via {name.split()[1]}gasse 7", "city": "Milano"},
    }
    if phone:
        recipient["phone"] = phone
    if email:
        recipient["email"] = email
    return recipient


def seed(world: World, make_event: EventFactory, *, when: str, now: datetime) -> None:
    """X and Y each: a missed delivery (SMS, a link) and a delivered parcel told by email."""
    x, y = person("Mario Rossi", X_PHONE, X_EMAIL), person("Anna Verdi", Y_PHONE, Y_EMAIL)
    x_mail, y_mail = person("Mario Rossi", None, X_EMAIL), person("Anna Verdi", None, Y_EMAIL)
    attempted = {"status": "DELIVERY_ATTEMPTED", "reason": "RECIPIENT_ABSENT", "occurred_at": when}
    world.store(
        make_event(tracking_number="RPX000001IT", recipient=x, **attempted),
        make_event(
            tracking_number="RPX000002IT", recipient=x_mail, status="DELIVERED", occurred_at=when
        ),
        make_event(tracking_number="RPY000001IT", recipient=y, **attempted),
        make_event(
            tracking_number="RPY000002IT", recipient=y_mail, status="DELIVERED", occurred_at=when
        ),
        now=now,
    )
    world.dispatch(now)
    with write_transaction(world.engine) as connection:
        for tracking, who in (("RPX000001IT", "Mario"), ("RPY000001IT", "Anna")):
            shipment_id = connection.execute(
                select(SHIPMENTS.c.id).where(SHIPMENTS.c.tracking_number == tracking)
            ).scalar_one()
            link_id = connection.execute(
                select(LINKS.c.id).where(LINKS.c.shipment_id == shipment_id)
            ).scalar_one()
            connection.execute(
                insert(REBOOKINGS).values(
                    shipment_id=shipment_id,
                    link_id=link_id,
                    submission=f"s-{tracking}",
                    kind="neighbour",
                    neighbour_name=f"{who}'s neighbour Bruno",
                    neighbour_door="3B",
                    instructions=f"ring {who}",
                    locale="it",
                    created_at=now,
                )
            )
            connection.execute(
                insert(FEEDBACK).values(
                    shipment_id=shipment_id,
                    depot="MI01",
                    score=4,
                    comment=f"{who} says thanks",
                    locale="it",
                    created_at=now,
                    updated_at=now,
                )
            )
            phone = "+393479182736" if who == "Mario" else Y_E164
            connection.execute(
                insert(INBOUND).values(
                    provider_id=f"SM-{tracking}",
                    channel="sms",
                    sender=phone,
                    kind="stop",
                    shipment_id=shipment_id,
                    received_at=now,
                )
            )
        outbox.record_opt_out(
            connection, channel="sms", address="+393479182736", reason="SMS reply: STOP", now=now
        )


def every_text(engine: Engine) -> list[tuple[str, str, str]]:
    """(table, column, text) of every text in every table the models know: a new table
    is searched without this test changing."""
    found = []
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for row in connection.execute(select(table)).mappings():
                for column, value in row.items():
                    if isinstance(value, str):
                        found.append((table.name, str(column), value))
    return found


def traces_of_x(engine: Engine) -> list[tuple[str, str, str]]:
    def names_x(text: str) -> bool:
        lowered = text.lower()
        return (
            X_DIGITS in re.sub(r"\D", "", text)
            or X_NATIONAL in text
            or "mario.rossi@example.it" in lowered
            or "mario" in lowered
            or "rossigasse" in lowered
        )

    return [hit for hit in every_text(engine) if names_x(hit[2])]


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def cli(engine: Engine, *args: str) -> Any:
    url = engine.url.render_as_string(hide_password=False)
    env = {"NOTIFIER_DATABASE_URL": url, "NOTIFIER_SECRET_KEY": TEST_SECRET_KEY}
    return runner.invoke(app, list(args), env=env)


def test_erase_leaves_no_trace_and_nothing_reaches_the_person_again(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    world = World(engine, settings)
    seed(world, make_event, when="2026-11-22T10:49:00+01:00", now=NOW)
    assert {"+393479182736", X_EMAIL.lower()} <= {r.lower() for r in world.recipients()}
    assert traces_of_x(engine)
    before = {t: count(engine, t) for t in (EVENTS, OUTBOX, SHIPMENTS, REBOOKINGS, FEEDBACK)}

    erased = cli(engine, "erase", "--phone", X_NATIONAL)
    assert erased.exit_code == 0, erased.output
    assert "3479182736" not in erased.output
    assert "Mario" not in erased.output
    assert "contact_points: " in erased.output
    # The email is held apart from the number (a shipment of its own): a second erasure.
    assert cli(engine, "erase", "--email", X_EMAIL.upper()).exit_code == 0

    assert traces_of_x(engine) == []
    assert {t: count(engine, t) for t in before} == before  # statuses and counts stay
    texts = every_text(engine)
    assert ("contact_points", "value", Y_E164) in texts
    assert ("contact_points", "value", Y_EMAIL) in texts
    assert ("shipments", "recipient_name", "Anna Verdi") in texts
    assert ("rebookings", "neighbour_name", "Anna's neighbour Bruno") in texts
    assert ("feedback", "comment", "Anna says thanks") in texts
    assert ("inbound_messages", "sender", Y_E164) in texts
    with engine.connect() as connection:
        y_bodies = (
            connection.execute(
                select(OUTBOX.c.body).where(
                    OUTBOX.c.recipient.in_([Y_E164, Y_EMAIL]), OUTBOX.c.state == "sent"
                )
            )
            .scalars()
            .all()
        )
        states = Counter(connection.execute(select(OUTBOX.c.state)).scalars())
    assert y_bodies
    assert all(y_bodies)
    assert sum(states.values()) == before[OUTBOX]

    # Idempotent: a second run changes nothing.
    again = cli(engine, "erase", "--phone", "+393479182736")
    assert again.exit_code == 0
    assert every_text(engine) == texts

    # A new event for X, on a new parcel and on an old one: nothing goes to X, on any
    # channel; Y is still told.
    world.sms.sent.clear()
    world.email.sent.clear()
    later = NOW + timedelta(hours=1)
    x = person("Mario Rossi", X_PHONE, X_EMAIL)
    world.store(
        make_event(
            tracking_number="RPX000003IT",
            recipient=x,
            status="DELIVERY_ATTEMPTED",
            reason="RECIPIENT_ABSENT",
            occurred_at="2026-11-22T12:30:00+01:00",
        ),
        make_event(
            tracking_number="RPX000002IT",
            recipient=x,
            status="EXCEPTION",
            occurred_at="2026-11-22T12:31:00+01:00",
        ),
        make_event(
            tracking_number="RPY000003IT",
            recipient=person("Anna Verdi", Y_PHONE, None),
            status="DELIVERY_ATTEMPTED",
            reason="RECIPIENT_ABSENT",
            occurred_at="2026-11-22T12:32:00+01:00",
        ),
        now=later,
    )
    world.dispatch(later)
    assert Y_E164 in world.recipients()
    reached_x = [r for r in world.recipients() if X_DIGITS in r or "mario" in r.lower()]
    assert reached_x == []


def test_a_late_opt_out_receipt_for_an_erased_message_records_no_opt_out(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    world = World(engine, settings)
    seed(world, make_event, when="2026-11-22T10:49:00+01:00", now=NOW)
    assert cli(engine, "erase", "--phone", X_PHONE).exit_code == 0
    with engine.connect() as connection:
        provider_id = connection.execute(
            select(OUTBOX.c.provider_id).where(
                OUTBOX.c.recipient == "erased",
                OUTBOX.c.channel == "sms",
                OUTBOX.c.provider_id.is_not(None),
            )
        ).scalar()
        opt_outs = count(engine, OPT_OUTS)
    assert provider_id is not None
    # Twilio reports, after the erasure, that the number had opted out (21610).
    apply_receipt(
        engine,
        provider_id=provider_id,
        status="undelivered",
        error_code="21610",
        settings=settings,
        now=NOW + timedelta(minutes=5),
    )
    with engine.connect() as connection:
        addresses = set(connection.execute(select(OPT_OUTS.c.address)).scalars())
    assert "erased" not in addresses
    assert count(engine, OPT_OUTS) == opt_outs


def test_export_shows_what_is_held_and_nothing_after_erasure(
    engine: Engine, settings: Settings, make_event: EventFactory
) -> None:
    world = World(engine, settings)
    seed(world, make_event, when="2026-11-22T10:49:00+01:00", now=NOW)

    shown = cli(engine, "export", "--phone", "+393479182736")
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.stdout)
    assert [s["tracking_number"] for s in report["shipments"]] == ["RPX000001IT"]
    assert report["shipments"][0]["recipient_name"] == "Mario Rossi"
    assert report["shipments"][0]["events"][0]["payload"]["recipient"]["phone"] == X_PHONE
    assert {c["value"] for c in report["contact_points"]} == {"+393479182736"}
    assert report["messages"]
    assert all(m["recipient"] == "+393479182736" for m in report["messages"])
    assert [o["reason"] for o in report["opt_outs"]] == ["SMS reply: STOP"]
    assert report["rebookings"][0]["neighbour_name"] == "Mario's neighbour Bruno"
    assert report["feedback"][0]["comment"] == "Mario says thanks"
    assert [r["kind"] for r in report["sms_replies"]] == ["stop"]
    assert "Anna" not in shown.stdout
    assert Y_E164 not in shown.stdout
    assert list(report) == sorted(report)  # stable keys

    by_mail = json.loads(cli(engine, "export", "--email", "mario.rossi@example.IT").stdout)
    assert {s["tracking_number"] for s in by_mail["shipments"]} == {"RPX000001IT", "RPX000002IT"}
    assert by_mail["unsubscribe_links"]

    assert cli(engine, "erase", "--phone", "+393479182736").exit_code == 0
    after = cli(engine, "export", "--phone", "+393479182736")
    assert after.exit_code == 0
    assert after.stdout == ""
    assert "nothing held" in after.stderr
    assert "keyed hash" in after.stderr


def test_erase_and_export_name_a_missing_person(engine: Engine) -> None:
    for args in (
        ["erase"],
        ["export", "--phone", "1", "--email", "a@b.it"],
        ["erase", "--email", "nobody"],
    ):
        result = cli(engine, *args)
        assert result.exit_code == 2
        assert "--phone" in result.stderr or "--email" in result.stderr
    nobody = cli(engine, "export", "--email", "nobody@example.it")
    assert nobody.exit_code == 0
    assert "nothing held" in nobody.stderr


def test_retention_anonymises_old_final_shipments_and_keeps_counts_and_opt_outs(
    engine: Engine, make_event: EventFactory, database_url: str
) -> None:
    settings = make_settings(database_url, privacy={"retention_days": 90})
    world = World(engine, settings)
    long_ago = NOW - timedelta(days=120)
    seed(world, make_event, when=long_ago.isoformat(), now=long_ago)
    # X's old parcels are final (delivered); Y's missed delivery is not: it stays.
    world.store(
        make_event(
            tracking_number="RPX000001IT",
            recipient=person("Mario Rossi", X_PHONE, X_EMAIL),
            status="DELIVERED",
            occurred_at=(long_ago + timedelta(hours=3)).isoformat(),
        ),
        now=long_ago + timedelta(hours=3),
    )
    with write_transaction(engine) as connection:
        outbox.record_opt_out(
            connection, channel="email", address=X_EMAIL, reason="unsubscribed", now=long_ago
        )
    world.dispatch(long_ago + timedelta(hours=3))
    before = {t: count(engine, t) for t in (EVENTS, OUTBOX, SHIPMENTS, OPT_OUTS)}

    assert apply_retention(engine, settings=settings, now=long_ago + timedelta(days=89)) == {}
    done = apply_retention(engine, settings=settings, now=NOW)
    assert done["shipments anonymised"] == 3  # RPX000001IT, RPX000002IT, RPY000002IT
    assert traces_of_x(engine) == []
    assert {t: count(engine, t) for t in before} == before
    texts = every_text(engine)
    assert ("shipments", "recipient_name", "Anna Verdi") in texts  # RPY000001IT is not final
    assert ("contact_points", "value", Y_E164) in texts
    assert apply_retention(engine, settings=settings, now=NOW) == {}

    # The opt-outs still hold, as hashes: X is told again by SMS only if X never said
    # STOP (X did), and by email not at all; a new parcel's contact is held anew.
    world.sms.sent.clear()
    world.email.sent.clear()
    world.store(
        make_event(
            tracking_number="RPX000009IT",
            recipient=person("Mario Rossi", X_PHONE, X_EMAIL),
            status="DELIVERY_ATTEMPTED",
            reason="RECIPIENT_ABSENT",
            occurred_at="2026-11-22T10:49:00+01:00",
        ),
        now=NOW,
    )
    world.dispatch(NOW)
    assert world.recipients() == []
    with engine.connect() as connection:
        states = set(
            connection.execute(
                select(OUTBOX.c.state)
                .join(SHIPMENTS, SHIPMENTS.c.id == OUTBOX.c.shipment_id)
                .where(SHIPMENTS.c.tracking_number == "RPX000009IT")
            ).scalars()
        )
    assert states == {"suppressed"}


def test_start_lifts_an_opt_out_kept_as_a_hash_but_not_an_erasure(engine: Engine) -> None:
    key = TEST_SECRET_KEY.encode()
    with write_transaction(engine) as connection:
        for number, reason in (
            ("+393331112222", "SMS reply: STOP"),
            ("+393331113333", ERASED_REASON),
        ):
            connection.execute(
                insert(OPT_OUTS).values(
                    channel="sms",
                    address=hashed_address(key, "sms", number),
                    reason=reason,
                    created_at=NOW,
                )
            )
        asked = {("sms", "+393331112222"), ("sms", "+393331113333"), ("sms", "+393331114444")}
        assert outbox.opted_out(connection, asked, link_key=key) == asked - {
            ("sms", "+393331114444")
        }
        for number in ("+393331112222", "+393331113333"):
            outbox.remove_opt_out(connection, channel="sms", address=number, link_key=key)
        assert outbox.opted_out(connection, asked, link_key=key) == {("sms", "+393331113333")}


def test_two_workers_anonymise_each_shipment_once(
    postgres_url: str, make_event: EventFactory
) -> None:
    engine = make_engine(postgres_url)
    schema.upgrade(engine)
    try:
        settings = make_settings(postgres_url)
        world = World(engine, settings)
        long_ago = NOW - timedelta(days=200)
        world.store(
            *(
                make_event(
                    tracking_number=f"RPW00000{n}IT",
                    status="DELIVERED",
                    occurred_at=long_ago.isoformat(),
                    recipient=person("Mario Rossi", X_PHONE, None),
                )
                for n in range(3)
            ),
            now=long_ago,
        )
        cutoff = NOW - timedelta(days=90)
        key = settings.link_key
        # The first worker's batch is still open (its rows locked) when the second runs:
        # the second skips them and takes the rest; neither waits, none is done twice.
        with engine.begin() as first, engine.begin() as second:
            a = anonymise_batch(first, cutoff=cutoff, limit=2, link_key=key, now=NOW)
            b = anonymise_batch(second, cutoff=cutoff, limit=10, link_key=key, now=NOW)
        assert (a["shipments anonymised"], b["shipments anonymised"]) == (2, 1)
        assert apply_retention(engine, settings=settings, now=NOW) == {}
        assert traces_of_x(engine) == []
    finally:
        engine.dispose()
