"""A fallback queued late in the evening (a refusal, a receipt) waits for the morning."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from notifier.config import Settings
from notifier.db.engine import read_transaction, write_transaction
from notifier.db.tables import OUTBOX
from notifier.outbox.rows import ClaimedRow
from notifier.sending.fallback import queue_fallback
from notifier.vocabulary import Channel
from tests.conftest import EventFactory, make_settings
from tests.integration.test_confirmation import missed, store

EVENING = datetime(2026, 11, 23, 22, 10, tzinfo=UTC)  # 23:10 in Rome
MORNING = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)  # 08:00 in Rome
AFTERNOON = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


@pytest.fixture
def settings(engine: Engine) -> Settings:
    return make_settings(engine.url.render_as_string(hide_password=False))


def the_sms(engine: Engine) -> ClaimedRow:
    with read_transaction(engine) as connection:
        row = (
            connection.execute(
                select(OUTBOX).where(
                    OUTBOX.c.channel == "sms", OUTBOX.c.purpose == "missed_delivery"
                )
            )
            .mappings()
            .one()
        )
    return ClaimedRow(
        id=row["id"],
        shipment_id=row["shipment_id"],
        status_event_id=row["status_event_id"],
        rebooking_id=row["rebooking_id"],
        channel=row["channel"],
        purpose=row["purpose"],
        template=row["template"],
        locale=row["locale"],
        recipient=row["recipient"],
        attempts=1,
    )


@pytest.mark.parametrize(("now", "due"), [(EVENING, MORNING), (AFTERNOON, AFTERNOON)])
def test_the_email_instead_of_a_refused_sms_keeps_quiet_hours(
    engine: Engine, settings: Settings, make_event: EventFactory, now: datetime, due: datetime
) -> None:
    store(engine, settings, missed(make_event))
    with write_transaction(engine) as connection:
        queued = queue_fallback(
            connection,
            the_sms(engine),
            (Channel.EMAIL, "giovanni@example.it"),
            settings=settings,
            now=now,
        )
    assert queued
    with read_transaction(engine) as connection:
        email = (
            connection.execute(
                select(OUTBOX).where(
                    OUTBOX.c.channel == "email", OUTBOX.c.purpose == "missed_delivery"
                )
            )
            .mappings()
            .one()
        )
    assert (email["purpose"], email["due_at"]) == ("missed_delivery", due)
