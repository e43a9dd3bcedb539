"""One dispatch tick settles every row it claims: regional locales, a dispute and a row whose
transport misbehaves, side by side; and the outbox's unique keys hold for rows without an event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from notifier.channels.base import OutgoingMessage, SendResult
from notifier.db.engine import read_transaction, write_transaction
from notifier.db.tables import OUTBOX, SHIPMENTS
from notifier.errors import DuplicateMessageError
from notifier.locales import Language
from notifier.outbox import store as outbox
from notifier.outbox.rows import NewOutboxRow
from notifier.purposes import Purpose
from notifier.rendering.environment import build_environment
from notifier.sending.dispatch import Dispatcher
from notifier.vocabulary import Channel
from tests.integration.conftest import ClientFactory
from tests.integration.test_links import Recording
from tests.integration.test_rebook_pages import SLOT_VALUE, Site


class Exploding(Recording):
    """A transport whose library blows up, unexpectedly, for one address."""

    def __init__(self, name: str, poison: str) -> None:
        super().__init__(name)
        self.poison = poison

    def send(self, message: OutgoingMessage) -> SendResult:
        if message.recipient == self.poison:
            raise RuntimeError(f"boom for {message.recipient}")  # quotes an address: never logged
        return super().send(message)


def book_slot(site: Site, token: str) -> None:
    text, fields = site.form(f"/r/{token}/slot")
    fields["slot"] = SLOT_VALUE.search(text).group(1)  # type: ignore[union-attr]
    answer = site.client.post(f"/r/{token}/slot", data=fields, follow_redirects=False)
    assert answer.status_code == 303, answer.text


def test_regional_and_unshipped_locales_book_and_one_tick_sends_everything(
    engine: Engine, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    site = Site(engine, make_client, locale="fr")
    tokens = {"fr": site.token}
    for tag, tracking in (("en-GB", "RP000000001GB"), ("it-IT", "RP000000002IT")):
        tokens[tag] = site.store(tag, tracking)
    for token in tokens.values():
        book_slot(site, token)
    _, fields = site.form(f"/r/{tokens['it-IT']}/dispute")
    fields["comment"] = "Ero in casa tutto il giorno"
    assert site.client.post(f"/r/{tokens['it-IT']}/dispute", data=fields).status_code == 200
    # A row of another recipient, due in the same tick, whose transport raises.
    site.store("it", "RP000000003IT")
    with write_transaction(engine) as connection:
        poisoned = connection.execute(
            select(SHIPMENTS.c.id).where(SHIPMENTS.c.tracking_number == "RP000000003IT")
        ).scalar_one()
        connection.execute(
            OUTBOX.update()
            .where(OUTBOX.c.shipment_id == poisoned, OUTBOX.c.purpose == Purpose.MISSED_DELIVERY)
            .values(recipient="+393330000666")
        )
    sms, email = Exploding("sms", poison="+393330000666"), Recording("email")
    dispatcher = Dispatcher(
        engine=engine,
        settings=site.settings,
        channels={Channel.SMS: sms, Channel.EMAIL: email},
        templates=build_environment(site.settings),
        worker="w1",
    )
    # Past any quiet hours the missed-delivery messages were held for.
    later = site.now + timedelta(hours=13)

    outcomes = dispatcher.run_once(later).outcomes

    with read_transaction(engine) as connection:
        rows = [
            dict(r) for r in connection.execute(select(OUTBOX).order_by(OUTBOX.c.id)).mappings()
        ]
    assert not [r for r in rows if r["state"] == "sending"], "a row was left leased"
    confirmations = [r for r in rows if r["purpose"] == Purpose.REBOOKING_CONFIRMED]
    # The it-IT recipient's dispute replaced their slot: that confirmation is stale.
    assert sorted(r["state"] for r in confirmations) == ["cancelled", "sent", "sent", "sent"]
    sent = [r for r in confirmations if r["state"] == "sent"]
    # fr is not shipped: the company's default (it); each regional tag its language.
    assert sorted(r["locale"] for r in sent) == ["en", "it", "it"]
    english = [m for m in sms.sent if m.locale == Language.EN]
    assert any("confirmed, we will deliver parcel" in m.body for m in english)
    (dispute,) = [r for r in rows if r["purpose"] == Purpose.DISPUTE_FORWARD]
    assert dispute["state"] == "sent"
    assert [m.recipient for m in email.sent] == [dispute["recipient"]]
    poison = [r for r in rows if r["recipient"] == "+393330000666"]
    assert [r["state"] for r in poison] == ["pending"]
    assert poison[0]["last_error"] == "unexpected error: builtins.RuntimeError"
    assert poison[0]["due_at"] > later
    others = [r for r in rows if r["recipient"] != "+393330000666"]
    # Every other row that was due is settled in this same tick; the rest wait.
    assert [
        r["state"]
        for r in others
        if r["due_at"] <= later and r["state"] not in ("sent", "cancelled")
    ] == []
    assert {r["state"] for r in others if r["due_at"] > later} <= {"pending"}
    assert outcomes["retry"] == 1
    assert outcomes["sent"] == len(sms.sent) + len(email.sent)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "builtins.RuntimeError" in logged
    assert "+393330000666" not in logged
    assert "boom" not in logged


def test_a_row_that_keeps_raising_ends_dead_alone(
    engine: Engine, make_client: ClientFactory
) -> None:
    site = Site(engine, make_client)
    settings = site.settings.model_copy(
        update={"dispatch": site.settings.dispatch.model_copy(update={"max_attempts": 2})}
    )
    with read_transaction(engine) as connection:
        (recipient,) = connection.execute(
            select(OUTBOX.c.recipient).where(OUTBOX.c.purpose == Purpose.MISSED_DELIVERY)
        ).scalars()
    dispatcher = Dispatcher(
        engine=engine,
        settings=settings,
        channels={Channel.SMS: Exploding("sms", recipient), Channel.EMAIL: Recording("email")},
        templates=build_environment(settings),
        worker="w1",
    )
    moment = site.now + timedelta(hours=13)
    assert dispatcher.run_once(moment).outcomes["retry"] == 1
    assert dispatcher.run_once(moment + timedelta(days=1)).outcomes["dead"] == 1
    with read_transaction(engine) as connection:
        (state,) = connection.execute(
            select(OUTBOX.c.state).where(OUTBOX.c.purpose == Purpose.MISSED_DELIVERY)
        ).scalars()
    assert state == "dead"


def test_the_same_message_without_an_event_is_queued_once(
    engine: Engine, make_client: ClientFactory
) -> None:
    now = Site(engine, make_client).now
    with read_transaction(engine) as connection:
        shipment_id = connection.execute(select(SHIPMENTS.c.id)).scalar_one()
    for rebooking_id in (None, None):
        message = NewOutboxRow(
            shipment_id=shipment_id,
            status_event_id=None,
            rebooking_id=rebooking_id,
            channel=Channel.EMAIL,
            purpose=Purpose.MISSED_DELIVERY_REMINDER,
            template="missed_delivery_reminder",
            locale=Language.IT,
            recipient="giovanni@example.it",
            due_at=now,
        )
        try:
            with write_transaction(engine) as connection:
                outbox.enqueue(connection, message, now)
        except DuplicateMessageError:
            pass
        else:
            assert rebooking_id is None
    with read_transaction(engine) as connection:
        count = connection.execute(
            select(func.count()).select_from(OUTBOX).where(OUTBOX.c.status_event_id.is_(None))
        ).scalar_one()
    assert count == 1
    with write_transaction(engine) as connection, pytest.raises(DuplicateMessageError):
        outbox.enqueue(connection, message, now)
