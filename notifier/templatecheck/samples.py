"""Sample parcels to render templates with: long real names, every situation a message meets.

Dates are fixed (long day and month names: "martedì 29 settembre"), so a check's result
does not depend on the day it runs; places are the configuration's own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from notifier.config import Settings
from notifier.rebooking.choices import Booked, Choice, callback_due
from notifier.rebooking.promises import PROMISED_BY_CHOICE, Apology, Promised, Told, day_window
from notifier.rendering.context import ParcelFacts
from notifier.shipments import ShipmentRecord
from notifier.urls import feedback_url, rebooking_link
from notifier.vocabulary import Channel, PromiseKind, Reason, RebookOption, Status

RECIPIENTS = ("Maria Carmela Dell'Acqua-Ricciardi", "Niccolò Bartolomeo Fiorentino")
SENDER = "Libreria Sant'Orsola di Giovanni e Figli"
ADDRESS = "Via dei Cavalieri di Vittorio Veneto 118, scala C, interno 14\n20126 Milano MI"
POSTCODE = "20126"
PHONE = "+393331234567"
TRACKING = "RP004518972IT"
TOKEN = "Hq3xL0fE6yYbqj2m9k0aBw"  # noqa: S105 - a sample link's token, 22 characters as issued
SHORT_CODE = "K7QM3XRP"
# A rating link's token, 22 characters as issued (feedback/links.py).
FEEDBACK_TOKEN = "pV7tQw2ZcN4rJx8aLm0sYg"  # noqa: S105 - a sample, not a secret
NEIGHBOUR = ("Giuseppina Esposito-Caruso", "Scala B, interno 7")
SAFE_PLACE = "Nel cortile interno, dietro il cancello verde a sinistra"
COMMENT = "Ero in casa tutta la mattina e il campanello funziona"
# Recipients' own tags: the regional ones must reach a shipped language's templates.
LOCALE_TAGS = ("it", "en", "it-IT", "en-GB")

ATTEMPT_DAY = date(2026, 9, 29)  # martedì 29 settembre / Tuesday 29 September
NEXT_ATTEMPT = date(2026, 9, 30)
HELD_UNTIL = date(2026, 10, 7)
BOOKED_DAY = date(2026, 9, 30)


@dataclass(frozen=True, slots=True)
class Sample:
    """One rendering's facts, the moment it is sent and, for confirmations, the choice."""

    label: str
    facts: ParcelFacts
    now: datetime
    booking: Booked | None = None
    promise: Promised | None = None


def local_time(settings: Settings, day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(settings.company.timezone))


def moments(settings: Settings) -> list[tuple[str, datetime, datetime]]:
    """(label, event time, sending time): sent at once, and the next morning after quiet hours."""
    attempt, evening = (
        local_time(settings, ATTEMPT_DAY, 10, 49),
        local_time(settings, ATTEMPT_DAY, 20, 47),
    )
    return [
        ("sent the same day", attempt, attempt + timedelta(minutes=2)),
        ("sent the next morning", evening, local_time(settings, NEXT_ATTEMPT, 8, 0)),
    ]


def base_facts(settings: Settings, *, status: Status, reason: Reason | None) -> ParcelFacts:
    return ParcelFacts(
        tracking_number=TRACKING,
        carrier="rapido",
        status=status,
        reason=reason,
        occurred_at=moments(settings)[0][1],
        recipient_name=RECIPIENTS[0],
        sender_name=SENDER,
        depot=settings.depots[0].code if settings.depots else None,
        estimated_delivery=NEXT_ATTEMPT,
        rebooking_url=rebooking_link(settings, TOKEN),
        short_code=SHORT_CODE,
        # As dispatch adds it: the news of a delivery asks how it went, when feedback is on.
        feedback_url=(
            feedback_url(settings, FEEDBACK_TOKEN)
            if status is Status.DELIVERED and settings.feedback.enabled
            else None
        ),
    )


def sample_shipment(facts: ParcelFacts, **changes: Any) -> ShipmentRecord:
    """The shipment row behind a sample's facts: a postcode and address when a name is known."""
    known = facts.recipient_name is not None
    values: dict[str, Any] = {
        "id": 1,
        "carrier": facts.carrier,
        "tracking_number": facts.tracking_number,
        "generation": 1,
        "status": facts.status,
        "reason": facts.reason,
        "status_occurred_at": facts.occurred_at,
        "first_event_at": facts.occurred_at - timedelta(days=2),
        "depot": facts.depot,
        "route_stop": 17 if known else None,
        "next_attempt_date": facts.next_attempt_date,
        "next_attempt_window": facts.next_attempt_window,
        "held_until": facts.held_until,
        "pickup_point": facts.pickup_point,
        "estimated_delivery": facts.estimated_delivery,
        "recipient_name": facts.recipient_name,
        "recipient_postcode": POSTCODE if known else None,
        "recipient_locale": "it",
        "sender_name": facts.sender_name,
        "recipient_address": ADDRESS if known else None,
        **changes,
    }
    # Only the fields this notifier's record has: the row grows a column now and then.
    accepted = {f.name for f in dataclasses.fields(ShipmentRecord)}
    return ShipmentRecord(**{k: v for k, v in values.items() if k in accepted})


def situations(settings: Settings) -> list[tuple[str, dict[str, Any]]]:
    """What happens next, as facts: each way a message has to say it (or say nothing)."""
    attempt = {"next_attempt_date": NEXT_ATTEMPT, "next_attempt_window": "14:00-18:00"}
    found: list[tuple[str, dict[str, Any]]] = [
        ("next attempt known", attempt),
        ("next attempt without a window", {"next_attempt_date": NEXT_ATTEMPT}),
    ]
    for point in settings.pickup_points:
        found.append(
            (f"held at {point.code}", {"pickup_point": point.code, "held_until": HELD_UNTIL})
        )
    for depot in settings.depots:
        found.append(
            (f"held at depot {depot.code}", {"depot": depot.code, "held_until": HELD_UNTIL})
        )
    if settings.pickup_points:
        found.append(("held, no end date", {"pickup_point": settings.pickup_points[0].code}))
    unknown = {
        "depot": None,
        "recipient_name": None,
        "sender_name": None,
        "estimated_delivery": None,
        "rebooking_url": None,
        "short_code": None,
    }
    found.append(("nothing known", unknown))
    return found


def message_samples(settings: Settings, *, status: Status, reason: Reason | None) -> list[Sample]:
    """Every situation, sent the same day and the next morning, with either long name."""
    base = base_facts(settings, status=status, reason=reason)
    samples = []
    for index, (what, changes) in enumerate(situations(settings)):
        for when, occurred, now in moments(settings):
            facts = replace(base, occurred_at=occurred, **changes)
            if facts.recipient_name and index % 2:
                facts = replace(facts, recipient_name=RECIPIENTS[1])
            label = f"{status}/{reason or '-'}, {what}, {when}"
            samples.append(Sample(label, facts, now))
    return samples


def choices(settings: Settings) -> Iterator[tuple[str, Choice]]:
    """Every kind of rebooking choice, each place of the configuration, with and without details."""
    slot = settings.rebooking.slots[-1].window
    callback = settings.rebooking.callback_windows[-1]
    yield "slot", Choice(RebookOption.SLOT, day=BOOKED_DAY, window=slot)
    for place in [*settings.pickup_points, *settings.depots]:
        yield f"pickup at {place.code}", Choice(RebookOption.PICKUP, pickup_point=place.code)
    yield "pickup, place unknown", Choice(RebookOption.PICKUP, pickup_point="GONE")
    name, door = NEIGHBOUR
    yield "neighbour", Choice(RebookOption.NEIGHBOUR, neighbour_name=name, neighbour_door=door)
    yield "neighbour without details", Choice(RebookOption.NEIGHBOUR)
    yield "safe place", Choice(RebookOption.SAFE_PLACE, instructions=SAFE_PLACE)
    yield "callback", Choice(RebookOption.CALLBACK, day=BOOKED_DAY, window=callback)
    yield "dispute", Choice(RebookOption.DISPUTE, instructions=COMMENT)
    yield "dispute without comment", Choice(RebookOption.DISPUTE)


def booked(settings: Settings, choice: Choice, *, now: datetime) -> Booked:
    return Booked(id=1, choice=choice, created_at=now, due_at=callback_due(choice, settings))


def confirmation_samples(settings: Settings, *, disputes_only: bool = False) -> list[Sample]:
    """Each choice confirmed, for a parcel with a next attempt and for one held or unknown."""
    _, occurred, now = moments(settings)[0]
    samples = []
    for what, choice in choices(settings):
        if disputes_only and choice.kind != RebookOption.DISPUTE:
            continue
        for status, situation in (
            (Status.DELIVERY_ATTEMPTED, situations(settings)[0]),
            (Status.CREATED, situations(settings)[-1]),
        ):
            facts = replace(
                base_facts(settings, status=status, reason=Reason.RECIPIENT_ABSENT),
                occurred_at=occurred,
                **situation[1],
            )
            if situation[0] == "nothing known":
                facts = replace(facts, reason=None, rebooking_url=rebooking_link(settings, TOKEN))
            label = f"{what}, {status}, {situation[0]}"
            samples.append(Sample(label, facts, now, booked(settings, choice, now=now)))
    return samples


def promise_samples(settings: Settings) -> list[Sample]:
    """Each kind of broken promise, told at once, held for the morning or not told at all,
    with a later next attempt announced and without, a link to choose again and not."""
    tz = ZoneInfo(settings.company.timezone)
    window = day_window(BOOKED_DAY, settings.rebooking.callback_windows[-1], settings)
    end = window.end.astimezone(tz)
    told = [
        ("told by SMS", Apology(Told.TOLD, Channel.SMS, end)),
        (
            "told in the morning",
            Apology(
                Told.WAITING,
                Channel.EMAIL,
                local_time(settings, BOOKED_DAY + timedelta(days=1), 8, 0),
            ),
        ),
        ("nobody to tell", Apology(Told.NOT_TOLD)),
    ]
    by_kind = {
        kind: choice
        for _, choice in choices(settings)
        if (kind := PROMISED_BY_CHOICE.get(choice.kind))
    }
    samples = []
    for kind in PromiseKind:
        choice = by_kind.get(kind)
        for index, (what, apology) in enumerate(told):
            facts = base_facts(
                settings, status=Status.DELIVERY_ATTEMPTED, reason=Reason.RECIPIENT_ABSENT
            )
            facts = replace(facts, occurred_at=local_time(settings, ATTEMPT_DAY, 10, 49))
            if index == 1:  # a later attempt is announced: the apology says when
                later = BOOKED_DAY + timedelta(days=1)
                facts = replace(facts, next_attempt_date=later, next_attempt_window="09:00-13:00")
            if index == 2:
                facts = replace(facts, recipient_name=None, rebooking_url=None, short_code=None)
            promise = Promised(kind, window, apology=apology)
            booking = booked(settings, choice, now=end) if choice is not None else None
            samples.append(Sample(f"broken {kind}, {what}", facts, end, booking, promise))
    return samples


def proper_names(settings: Settings) -> list[str]:
    """Names and addresses the samples and configuration supply: never another language's words."""
    places = [*settings.depots, *settings.pickup_points]
    found = [
        settings.company.name,
        *RECIPIENTS,
        SENDER,
        *ADDRESS.split("\n"),
        *NEIGHBOUR,
        SAFE_PLACE,
        COMMENT,
        *(p.name for p in places),
        *(p.address for p in places),
    ]
    return sorted(set(found), key=len, reverse=True)
