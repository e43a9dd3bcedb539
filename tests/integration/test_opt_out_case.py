"""An email opt-out holds whatever the case of the address (issue 12's unsubscribe, and
every later message): providers deliver "Giovanni@" and "giovanni@" to one mailbox."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select, text

from notifier.db import schema
from notifier.db.engine import make_engine, read_transaction, write_transaction
from notifier.db.tables import OPT_OUTS
from notifier.outbox import store as outbox
from notifier.outbox import unsubscribe

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_an_email_opt_out_holds_in_any_case(engine: Engine) -> None:
    with write_transaction(engine) as connection:
        unsubscribe.unsubscribe(connection, "Giovanni.Bianchi@Example.it", now=NOW)
    asked = {
        ("email", "giovanni.bianchi@example.it"),
        ("email", "GIOVANNI.BIANCHI@EXAMPLE.IT"),
        ("email", "maria@example.it"),
        ("sms", "+393331234567"),
    }
    with read_transaction(engine) as connection:
        found = outbox.opted_out(connection, asked, link_key=b"k")
        reason = unsubscribe.opt_out_reason(connection, "giovanni.bianchi@example.IT")
    assert found == {
        ("email", "giovanni.bianchi@example.it"),
        ("email", "GIOVANNI.BIANCHI@EXAMPLE.IT"),
    }
    assert reason == unsubscribe.REASON
    with write_transaction(engine) as connection:
        assert unsubscribe.resubscribe(connection, "giovanni.bianchi@example.it")
    with read_transaction(engine) as connection:
        assert outbox.opted_out(connection, asked, link_key=b"k") == set()


def test_a_second_spelling_is_one_opt_out(engine: Engine) -> None:
    with write_transaction(engine) as connection:
        first = outbox.record_opt_out(
            connection, channel="email", address="Anna@Example.it", reason="bounced", now=NOW
        )
        second = outbox.record_opt_out(
            connection, channel="email", address="anna@example.it", reason="bounced", now=NOW
        )
    assert (first, second) == (True, False)


def test_migration_0013_folds_old_spellings_keeping_the_oldest(database_url: str) -> None:
    engine = make_engine(database_url)
    schema.upgrade(engine, "0012")
    rows = [
        ("email", "Anna@Example.it", "unsubscribed"),
        ("email", "anna@example.it", "bounced"),
        ("email", "Bruno@Example.it", "bounced"),
        ("sms", "+393331234567", "STOP"),
    ]
    with write_transaction(engine) as connection:
        for channel, address, reason in rows:
            connection.execute(
                text(
                    "INSERT INTO opt_outs (channel, address, reason, created_at) "
                    "VALUES (:channel, :address, :reason, :now)"
                ),
                {"channel": channel, "address": address, "reason": reason, "now": NOW},
            )
    schema.upgrade(engine)
    with read_transaction(engine) as connection:
        kept = connection.execute(
            select(OPT_OUTS.c.channel, OPT_OUTS.c.address, OPT_OUTS.c.reason).order_by(
                OPT_OUTS.c.id
            )
        ).all()
    engine.dispose()
    assert [tuple(r) for r in kept] == [
        ("email", "anna@example.it", "unsubscribed"),
        ("email", "bruno@example.it", "bounced"),
        ("sms", "+393331234567", "STOP"),
    ]
