"""Every message as its recipient reads it: held-out events of every status, reason and
variant, in Italian, English and regional tags, with long accented names, through ingest
and a worker with the console transports, on the shipped example config."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from notifier.channels.registry import build_channels
from notifier.config import Settings
from notifier.config.loading import load_settings
from notifier.db.tables import OUTBOX, SHIPMENTS
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.rendering.environment import build_environment
from notifier.sending.compose import WITHHELD
from notifier.sending.dispatch import Dispatcher
from notifier.vocabulary import Reason
from tests.conftest import TEST_SECRET_KEY
from tests.integration.printing import grouped as printed_grouping

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Rome
RECIPIENTS = [
    "Niccolò Bartolomeo Fiorentino-Sant'Angelo",
    "Maria Carmela Dell'Acqua Ricciardi",
    "Žaneta Ćirić-Šimunović",
]
SENDERS = ["Libreria Sant'Orsola di Giovanni e Figli", "Škoda Store Çelik Ćirić"]
LOCALES = ["it", "en", "it-IT", "en-GB"]
VARIANTS: dict[str, dict[str, Any]] = {
    "next-attempt": {"next_attempt": {"date": "2026-12-02", "window": "10:00-14:00"}},
    "pickup-point": {"pickup_point": "PP-MI-12", "held_until": "2026-12-09"},
    "depot": {"held_until": "2026-12-09"},
    "nothing-known": {},
}
# Words only an Italian message has; an English one must not (weekday and month names,
# "the parcel", "delivery", "attempt", "today").
ITALIAN = re.compile(
    r"\b(lun|mar|mer|gio|ven|sab|dom|lunedì|martedì|mercoledì|giovedì|venerdì|sabato|"
    r"domenica|gennaio|febbraio|marzo|aprile|maggio|giugno|luglio|agosto|settembre|"
    r"ottobre|novembre|dicembre|pacco|consegna|tentativo|oggi|alle|il|della)\b",
    re.IGNORECASE,
)
# What invites the recipient to choose; such a message must carry the page's link.
INVITES = re.compile(
    r"scelga|può scegliere|choose|another day|altro giorno|non è in casa|not in\?", re.I
)
LINK = "https://rapido.example/r/"
# A link's token (rebooking, rating) and a typed code, as the messages print them: the
# outbox keeps each message as sent but with these withheld (sending/compose.py).
SECRETS = re.compile(
    r"(?<=/[rf]/)[\w-]{22}|(?<=codice )[A-Z0-9]{8}(?= )|(?<=code )[A-Z0-9]{8}(?= )"
)


@pytest.fixture
def settings(database_url: str) -> Settings:
    env = {"NOTIFIER_DATABASE_URL": database_url, "NOTIFIER_SECRET_KEY": TEST_SECRET_KEY}
    shipped = load_settings(REPO / "config.example.toml", env)
    # Every message a recipient can get: the SMS numbering reply options too, which the
    # example leaves off (it costs a second SMS per missed delivery).
    rebooking = shipped.rebooking.model_copy(update={"sms_reply_menu": True})
    return shipped.model_copy(update={"rebooking": rebooking})


def held_out_events() -> list[dict[str, Any]]:
    """One shipment per case, each with its own history up to the status under test."""
    cases: list[tuple[str, str | None, dict[str, Any]]] = [
        ("CREATED", None, {"estimated_delivery": "2026-12-02"}),
        ("CREATED", None, VARIANTS["next-attempt"]),
        ("OUT_FOR_DELIVERY", None, {}),
        (
            "OUT_FOR_DELIVERY",
            None,
            {"next_attempt": {"date": "2026-12-01", "window": "14:00-18:00"}},
        ),
        ("AVAILABLE_FOR_PICKUP", None, VARIANTS["pickup-point"]),
        ("AVAILABLE_FOR_PICKUP", None, VARIANTS["depot"]),
        ("DELIVERED", None, {}),
        ("RETURNING", Reason.REFUSED.value, {}),
    ]
    cases += [("DELIVERY_ATTEMPTED", r.value, v) for r in Reason for v in VARIANTS.values()]
    cases += [("EXCEPTION", r.value, {"estimated_delivery": "2026-12-03"}) for r in Reason]
    events = []
    for n, (status, reason, extra) in enumerate(cases):
        locale = LOCALES[n % len(LOCALES)]
        contact = {"phone": f"+39 333 {1000000 + n}"} if n % 3 else {"email": f"r{n}@example.it"}
        events.append(
            {
                "event_id": f"matrix-{n}",
                "source": "tms",
                "carrier": "rapido",
                "tracking_number": f"RP{100000000 + n}IT",
                "status": status,
                "reason": reason,
                "occurred_at": (NOW - timedelta(minutes=5)).isoformat(),
                "depot": "MI01",
                "route_stop": n,
                "recipient": {"name": RECIPIENTS[n % 3], "locale": locale, **contact},
                "sender": {"name": SENDERS[n % 2]},
                **extra,
            }
        )
    return [{k: v for k, v in e.items() if v is not None} for e in events]


def sent_messages(engine: Engine) -> list[dict[str, Any]]:
    query = (
        select(OUTBOX, SHIPMENTS.c.tracking_number)
        .join(SHIPMENTS, SHIPMENTS.c.id == OUTBOX.c.shipment_id)
        .where(OUTBOX.c.state == "sent")
    )
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def names_removed(text: str, settings: Settings) -> str:
    """The message without the proper names it quotes (places, people, firms)."""
    names = [*RECIPIENTS, *SENDERS, settings.company.name]
    for place in [*settings.depots, *settings.pickup_points]:
        names += [place.name, place.address]
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    return text


def run_the_worker(engine: Engine, settings: Settings) -> str:
    events = held_out_events()
    items = [Incoming(i, e, json.dumps(e)) for i, e in enumerate(events)]
    outcomes = list(ingest(engine, items, settings=settings, now=lambda: NOW))
    assert [o for o in outcomes if o.outcome != "stored"] == []
    printed = io.StringIO()
    dispatcher = Dispatcher(
        engine=engine,
        settings=settings,
        channels=build_channels(settings, stream=printed),
        templates=build_environment(settings),
        worker="matrix",
    )
    # The first messages, then whatever reminders come due over the following days.
    for hours in (0, 2, 12, 26, 50, 74, 98, 122, 146, 170):
        while dispatcher.run_once(NOW + timedelta(hours=hours)).claimed:
            pass
    return printed.getvalue()


@pytest.mark.slow
def test_every_message_is_true_complete_and_fits(engine: Engine, settings: Settings) -> None:
    printed = run_the_worker(engine, settings)
    sent = sent_messages(engine)
    assert len(sent) >= len(held_out_events())  # every case said something
    problems = []
    for row in sent:
        body, where = row["body"], (row["template"], row["locale"], row["tracking_number"])
        grouped = printed_grouping(row["tracking_number"])
        if row["tracking_number"] not in body and grouped not in body:
            problems.append((where, "no tracking number"))
        if INVITES.search(body) and LINK not in body:
            problems.append((where, "invites a choice without a link"))
        if row["locale"] == "en":
            found = ITALIAN.findall(names_removed(body + (row["subject"] or ""), settings))
            if found:
                problems.append((where, f"Italian words {found}"))
        if row["channel"] == "sms" and (row["encoding"], row["segments"] <= 2) != ("GSM-7", True):
            problems.append((where, f"{row['encoding']} {row['segments']} segments"))
        if SECRETS.search(body):
            problems.append((where, "a working link or code kept in the outbox"))
        assert body in SECRETS.sub(WITHHELD, printed)  # what was stored is what went out
    assert problems == []


@pytest.mark.slow
def test_both_channels_and_both_languages_are_exercised(engine: Engine, settings: Settings) -> None:
    run_the_worker(engine, settings)
    sent = sent_messages(engine)
    assert {(r["channel"], r["locale"]) for r in sent} == {
        ("sms", "it"),
        ("sms", "en"),
        ("email", "it"),
        ("email", "en"),
    }
    templates = {r["template"] for r in sent}
    assert {
        "created",
        "out_for_delivery",
        "missed_delivery",
        "missed_delivery_reminder",
        "reply_options",
    } <= templates
