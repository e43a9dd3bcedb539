"""From stored event to the provider: real SMTP server, fake Twilio, fixed clock, both databases."""

from __future__ import annotations

import json
import re
import smtplib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from notifier.channels.email_smtp import SmtpEmailChannel
from notifier.channels.sms_twilio import TwilioSmsChannel, build_twilio_client
from notifier.config import Settings
from notifier.db.models import OptOutRow, OutboxRow
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.outbox import store as outbox
from notifier.rendering.environment import build_environment
from notifier.sending.compose import WITHHELD
from notifier.sending.dispatch import Dispatcher
from tests.conftest import EventFactory, make_settings
from tests.providers import FakeTwilio, RedirectingHttpClient, SmtpServer

ROME = ZoneInfo("Europe/Rome")
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # Sunday 11:00 in Rome


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ROME)


class World:
    """Settings, database and the two real channels, with a dispatcher per worker name."""

    def __init__(
        self, engine: Engine, smtp: SmtpServer, twilio: FakeTwilio, settings: Settings
    ) -> None:
        self.engine, self.smtp, self.twilio, self.settings = engine, smtp, twilio, settings

        def connect() -> smtplib.SMTP:
            return smtplib.SMTP("127.0.0.1", smtp.port, timeout=5)

        self.channels = {
            "sms": TwilioSmsChannel(
                client=build_twilio_client(
                    "AC" + "1" * 32, "token", RedirectingHttpClient(twilio.url)
                ),
                from_number="+390212345678",
                messaging_service_sid=None,
                status_callback_url=None,
            ),
            "email": SmtpEmailChannel(
                connect,
                from_address="avvisi@rapido.example",
                from_name="Rapido",
                message_id_domain="rapido.example",
            ),
        }

    def store(self, *events: dict[str, Any], now: datetime = NOW) -> None:
        items = [Incoming(i, e, json.dumps(e)) for i, e in enumerate(events)]
        list(ingest(self.engine, items, settings=self.settings, now=lambda: now))

    def dispatcher(self, worker: str = "w1") -> Dispatcher:
        return Dispatcher(
            engine=self.engine,
            settings=self.settings,
            channels=self.channels,
            templates=build_environment(self.settings),
            worker=worker,
        )

    def tick(self, now: datetime, worker: str = "w1") -> dict[str, int]:
        return dict(self.dispatcher(worker).run_once(now).outcomes)

    def outbox(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            query = select(OutboxRow).order_by(OutboxRow.id)  # type: ignore[arg-type]
            return [dict(r) for r in connection.execute(query).mappings()]


@pytest.fixture
def world(engine: Engine, smtp_server: SmtpServer, fake_twilio: FakeTwilio) -> World:
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    return World(engine, smtp_server, fake_twilio, settings)


def recipient(
    n: int = 0, *, phone: bool = True, email: bool = True, locale: str = "it"
) -> dict[str, str]:
    who = {"name": f"Giovanni Bianchi {n}", "locale": locale}
    if phone:
        who["phone"] = f"+39 333 123 {4560 + n}"
    if email:
        who["email"] = f"giovanni{n}@example.it"
    return who


def test_an_italian_missed_delivery_email_arrives_complete(
    world: World, make_event: EventFactory
) -> None:
    world.store(
        make_event(
            status="DELIVERY_ATTEMPTED",
            reason="RECIPIENT_ABSENT",
            occurred_at=local("2026-11-22T10:49").isoformat(),
            next_attempt={"date": "2026-11-24", "window": "10:00-14:00"},
            recipient=recipient(phone=False),
        )
    )
    assert world.tick(NOW) == {"sent": 1}
    (mail,) = world.smtp.received
    plain = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = mail.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    for part in (plain, html):
        assert "RP12 3456 789IT" in part
        assert "+39 02 1234 5678" in part
        assert "lun–ven 08:00–20:00" in part
        assert "martedì 24 novembre, 10:00–14:00" in part
        assert "10:49" in part
    # One-click unsubscribe (RFC 8058) on our own origin, by an opaque token: no row id.
    header = mail["List-Unsubscribe"]
    assert re.fullmatch(r"<http://127\.0\.0\.1:8000/u/[\w-]{22}>", header), header
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    sent = world.outbox()[0]
    assert (sent["state"], sent["channel"], sent["provider_id"]) == (
        "sent",
        "email",
        mail["Message-ID"],
    )
    # As sent, but for the link's token and typed code: no working link in the database.
    as_sent = plain.replace("\r\n", "\n").strip()
    token = re.search(r"/r/([\w-]{22})", as_sent)
    code = re.search(r"codice ([A-Z0-9]{8}) ", as_sent)
    assert token is not None, as_sent
    assert code is not None, as_sent
    kept = as_sent.replace(token.group(1), WITHHELD).replace(code.group(1), WITHHELD)
    assert sent["body"] == kept
    assert world.tick(NOW + timedelta(minutes=1)) == {}  # nothing twice


def test_twilio_errors_21211_21610_429_500(world: World, make_event: EventFactory) -> None:
    """Permanent errors are not retried (and fall back to email); temporary ones are, once each."""
    world.twilio.script((400, 21211), (400, 21610), (429, 20429), (500, 20500))
    world.store(
        *[
            make_event(
                tracking_number=f"RP{n}X",
                status="DELIVERED",
                occurred_at=local("2026-11-22T10:40").isoformat(),
                recipient=recipient(n),
            )
            for n in range(4)
        ]
    )
    assert world.tick(NOW) == {"failed": 2, "retry": 2}
    assert world.tick(NOW + timedelta(hours=1)) == {"sent": 4}  # 2 retried SMS, 2 fallback emails
    assert world.tick(NOW + timedelta(hours=2)) == {}

    sms_to = [r["To"] for r in world.twilio.requests]
    assert sms_to == [
        "+393331234560",
        "+393331234561",
        "+393331234562",
        "+393331234563",
        "+393331234562",
        "+393331234563",
    ]
    assert sorted(m["To"] for m in world.smtp.received) == [
        "giovanni0@example.it",
        "giovanni1@example.it",
    ]
    rows = {(r["recipient"], r["channel"]): r for r in world.outbox()}
    assert rows[("+393331234560", "sms")]["state"] == "failed"
    assert rows[("+393331234560", "sms")]["error_code"] == "21211"
    assert rows[("+393331234560", "sms")]["attempts"] == 1
    assert rows[("+393331234561", "sms")]["error_code"] == "21610"
    assert rows[("+393331234562", "sms")]["state"] == "sent"
    assert rows[("+393331234562", "sms")]["attempts"] == 2
    assert rows[("+393331234563", "sms")]["state"] == "sent"
    assert rows[("giovanni0@example.it", "email")]["state"] == "sent"
    with world.engine.connect() as connection:
        opted = connection.execute(select(OptOutRow.channel, OptOutRow.address)).all()  # type: ignore[call-overload]
    assert [tuple(r) for r in opted] == [("sms", "+393331234561")]


def test_an_event_at_23_30_is_sent_at_8_and_not_before(
    world: World, make_event: EventFactory
) -> None:
    late = local("2026-11-22T23:30")
    world.store(make_event(status="DELIVERED", occurred_at=late.isoformat()), now=late)
    assert world.tick(late.astimezone(UTC)) == {}
    assert world.tick(local("2026-11-23T07:59:59").astimezone(UTC)) == {}
    assert world.tick(local("2026-11-23T08:00").astimezone(UTC)) == {"sent": 1}
    assert len(world.twilio.requests) == 1


def test_out_for_delivery_then_delivered_two_minutes_later_sends_one_message(
    world: World, make_event: EventFactory
) -> None:
    t0 = local("2026-11-22T10:00")
    world.store(
        make_event(event_id="ofd", status="OUT_FOR_DELIVERY", occurred_at=t0.isoformat()), now=t0
    )
    assert world.tick(t0.astimezone(UTC)) == {}
    t2 = t0 + timedelta(minutes=2)
    world.store(make_event(event_id="dlv", status="DELIVERED", occurred_at=t2.isoformat()), now=t2)
    assert world.tick(t2.astimezone(UTC)) == {"sent": 1}
    assert world.tick((t0 + timedelta(minutes=6)).astimezone(UTC)) == {"cancelled": 1}
    (only,) = world.twilio.requests
    assert "consegnato" in only["Body"]
    states = {r["purpose"]: (r["state"], r["last_error"]) for r in world.outbox()}
    assert states["arriving_today"] == ("cancelled", "stale: the shipment is now DELIVERED")


def test_a_worker_killed_after_claiming_is_replaced_once_its_lease_ends(
    world: World, make_event: EventFactory
) -> None:
    world.store(make_event(status="DELIVERED", occurred_at=local("2026-11-22T10:50").isoformat()))
    lease = timedelta(seconds=world.settings.dispatch.lease_seconds)
    (claimed,) = outbox.claim(world.engine, worker="dead-worker", now=NOW, limit=10, lease=lease)
    # ...and the worker dies here, before sending anything.
    assert world.tick(NOW + lease - timedelta(seconds=1), worker="w2") == {}
    assert world.tick(NOW + lease + timedelta(seconds=1), worker="w2") == {"sent": 1}
    assert world.tick(NOW + 2 * lease, worker="w3") == {}
    assert len(world.twilio.requests) == 1
    (row,) = world.outbox()
    assert (row["id"], row["state"], row["attempts"]) == (claimed.id, "sent", 2)


def test_a_late_result_from_a_worker_that_lost_its_lease_is_not_recorded(
    world: World, make_event: EventFactory
) -> None:
    world.store(make_event(status="DELIVERED", occurred_at=local("2026-11-22T10:50").isoformat()))
    lease = timedelta(seconds=60)
    (slow,) = outbox.claim(world.engine, worker="slow", now=NOW, limit=10, lease=lease)
    assert world.tick(NOW + lease * 3, worker="fast") == {"sent": 1}
    with world.engine.begin() as connection:
        assert not outbox.mark_final(
            connection, slow, worker="slow", now=NOW + lease * 4, state=outbox.OutboxState.DEAD
        )
    assert world.outbox()[0]["state"] == "sent"


def test_a_typographic_apostrophe_goes_out_as_one_gsm7_segment(
    engine: Engine,
    smtp_server: SmtpServer,
    fake_twilio: FakeTwilio,
    tmp_path: Path,
    make_event: EventFactory,
) -> None:
    (tmp_path / "sms" / "it").mkdir(parents=True)
    (tmp_path / "sms" / "it" / "missed_delivery.txt").write_text(
        "Non siamo riusciti ad arrivare all’indirizzo: pacco {{ tracking_grouped }}.",
        encoding="utf-8",
    )
    settings = make_settings(
        engine.url.render_as_string(hide_password=False), templates={"override_dir": str(tmp_path)}
    )
    world = World(engine, smtp_server, fake_twilio, settings)
    world.store(
        make_event(status="DELIVERY_ATTEMPTED", occurred_at=local("2026-11-22T10:49").isoformat())
    )
    assert world.tick(NOW) == {"sent": 1}
    (request,) = fake_twilio.requests
    assert request["Body"] == "Non siamo riusciti ad arrivare all'indirizzo: pacco RP12 3456 789IT."
    row = next(r for r in world.outbox() if r["state"] == "sent")
    assert (row["encoding"], row["segments"]) == ("GSM-7", 1)


def test_temporary_errors_end_dead_after_the_attempt_limit(
    world: World, make_event: EventFactory
) -> None:
    attempts = world.settings.dispatch.max_attempts
    world.twilio.script(*[(503, 20503)] * attempts)
    world.store(
        make_event(
            status="DELIVERED",
            occurred_at=local("2026-11-22T10:50").isoformat(),
            recipient=recipient(phone=True, email=False),
        )
    )
    moment = NOW
    for _ in range(attempts):
        world.tick(moment)
        moment += timedelta(days=1)  # past any backoff
    (row,) = world.outbox()
    assert (row["state"], row["attempts"]) == ("dead", attempts)
    assert len(world.twilio.requests) == attempts
