"""The promise watch's SQL: promises whose window ended open are settled, and each broken
one queues the recipient's apology and the depot's alert, in the same transaction.

Safe with any number of workers: the state change is a compare-and-set on `open`, so of
two workers that read the same promise only one changes it and queues its messages; the
outbox rows carry the promise's own rebooking or status event, so they are unique per
promise as well (a second queueing would be a DuplicateMessageError). The verdict itself
is pure, in notify/followups.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from notifier.config import Settings
from notifier.db.bulk import Bulk, one_of
from notifier.db.contacts import stored_contacts
from notifier.db.engine import write_transaction
from notifier.db.tables import EVENTS, OUTBOX, PROMISES, SHIPMENTS
from notifier.errors import DuplicateMessageError
from notifier.locales import language_for
from notifier.notify.followups import Followup, after_window
from notifier.notify.quiethours import may_hear_at
from notifier.notify.rules import first_usable
from notifier.outbox import store as outbox
from notifier.outbox.rows import NewOutboxRow
from notifier.purposes import Purpose
from notifier.shipments import ShipmentRecord
from notifier.vocabulary import (
    CHANNEL_CONTACT,
    Channel,
    ContactPoint,
    PromiseKind,
    PromiseState,
    Status,
)

APOLOGY_TEMPLATE = "promise_apology"
ALERT_TEMPLATE = "promise_alert"
ESCALATION_TEMPLATE = "promise_escalation"
BATCH = 200  # promises settled per transaction; the next round takes the rest
# The events that tell what became of a delivery promise (followups.after_window).
_TELLING = (str(Status.DELIVERED), str(Status.DELIVERY_ATTEMPTED), str(Status.EXCEPTION))


@dataclass(slots=True)
class WatchStats:
    """One round: how many promises moved to each state, and the messages queued."""

    settled: dict[str, int] = field(default_factory=dict)
    apologies: int = 0
    alerts: int = 0
    escalations: int = 0
    no_contact: list[int] = field(default_factory=list)  # broken promises nobody can hear of


def watch_promises(engine: Engine, *, settings: Settings, now: datetime) -> WatchStats:
    """Settle every promise whose window ended open by `now`, a batch per transaction;
    then tell the supervisor, once, of each broken callback still not made."""
    stats = WatchStats()
    while True:
        with write_transaction(engine) as connection:
            done = _watch_batch(connection, settings=settings, now=now, stats=stats)
        if done < BATCH:
            break
    supervisor = settings.promises.supervisor_email
    if supervisor is not None:
        with write_transaction(engine) as connection:
            _escalate(connection, supervisor, settings=settings, now=now, stats=stats)
    return stats


def _watch_batch(
    connection: Connection, *, settings: Settings, now: datetime, stats: WatchStats
) -> int:
    due = connection.execute(
        select(PROMISES)
        .where(PROMISES.c.state == PromiseState.OPEN, PROMISES.c.window_end <= now)
        .order_by(PROMISES.c.window_end, PROMISES.c.id)
        .limit(BATCH)
    ).all()
    if not due:
        return 0
    shipment_ids = {row.shipment_id for row in due}
    shipments = {
        row["id"]: ShipmentRecord.from_mapping(row)
        for row in connection.execute(
            select(SHIPMENTS).where(one_of(connection, SHIPMENTS.c.id, shipment_ids))
        ).mappings()
    }
    events = _telling_events(connection, shipment_ids, since=min(r.window_start for r in due))
    contacts = stored_contacts(Bulk(connection), shipment_ids)
    opted_out = outbox.opted_out(
        connection,
        {
            (str(channel), point.value)
            for points in contacts.values()
            for point in points
            for channel, kind in CHANNEL_CONTACT.items()
            if point.kind is kind
        },
        link_key=settings.link_key,
    )
    for row in due:
        kind = PromiseKind(row.kind)
        followup = after_window(
            kind,
            window_start=row.window_start,
            window_end=row.window_end,
            events=events.get(row.shipment_id, ()),
        )
        if not _settle(connection, row.id, followup, now):
            continue  # another worker settled it first, and queued what it needed
        stats.settled[followup.state] = stats.settled.get(followup.state, 0) + 1
        if followup.broken:
            _queue(
                connection,
                row,
                shipment=shipments[row.shipment_id],
                contacts=contacts.get(row.shipment_id, []),
                opted_out=opted_out,
                settings=settings,
                now=now,
                stats=stats,
            )
    return len(due)


def _telling_events(
    connection: Connection, shipment_ids: set[int], *, since: datetime
) -> Mapping[int, list[tuple[Status, datetime]]]:
    found: dict[int, list[tuple[Status, datetime]]] = {}
    for row in connection.execute(
        select(EVENTS.c.shipment_id, EVENTS.c.status, EVENTS.c.occurred_at).where(
            one_of(connection, EVENTS.c.shipment_id, shipment_ids),
            EVENTS.c.status.in_(_TELLING),
            EVENTS.c.occurred_at >= since,
        )
    ):
        found.setdefault(row.shipment_id, []).append((Status(row.status), row.occurred_at))
    return found


def _settle(connection: Connection, promise_id: int, followup: Followup, now: datetime) -> bool:
    values: dict[str, Any] = {"state": followup.state, "updated_at": now}
    if followup.state is PromiseState.KEPT:
        values["kept_at"] = followup.at
    elif followup.state is PromiseState.EXCUSED:
        values |= {"excused_at": followup.at, "excuse": followup.excuse}
    else:
        values["broken_at"] = followup.at
    result = connection.execute(
        update(PROMISES)
        .where(PROMISES.c.id == promise_id, PROMISES.c.state == PromiseState.OPEN)
        .values(**values)
    )
    return result.rowcount == 1


def _queue(
    connection: Connection,
    promise: Any,
    *,
    shipment: ShipmentRecord,
    contacts: Sequence[ContactPoint],
    opted_out: set[tuple[str, str]],
    settings: Settings,
    now: datetime,
    stats: WatchStats,
) -> None:
    """The apology (SMS, else email, as a confirmation goes) and the depot's alert."""
    # The promise's own source makes each row unique per promise (models.OutboxRow).
    about = {
        "shipment_id": shipment.id,
        "status_event_id": promise.status_event_id,
        "rebooking_id": promise.rebooking_id,
    }
    apology = None
    for channel in (Channel.SMS, Channel.EMAIL):
        contact = first_usable(contacts, CHANNEL_CONTACT[channel], channel, opted_out)
        if contact is not None:
            phone = contact.value if channel == Channel.SMS else None
            apology = NewOutboxRow(
                channel=channel,
                purpose=Purpose.PROMISE_APOLOGY,
                template=APOLOGY_TEMPLATE,
                locale=language_for(shipment.recipient_locale, settings.company.default_locale),
                recipient=contact.value,
                due_at=may_hear_at(now, phone=phone, settings=settings),
                **about,
            )
            break
    if apology is None:
        stats.no_contact.append(int(promise.id))
    elif _enqueue(connection, apology, now):
        stats.apologies += 1
    depot = next((d for d in settings.depots if d.code == shipment.depot), None)
    alert = NewOutboxRow(
        channel=Channel.EMAIL,
        purpose=Purpose.PROMISE_ALERT,
        template=ALERT_TEMPLATE,
        locale=language_for(None, settings.company.default_locale),
        recipient=(depot.email if depot else None) or settings.company.email,
        due_at=now,  # to the depot's staff: no quiet hours
        **about,
    )
    if _enqueue(connection, alert, now):
        stats.alerts += 1


def _escalate(
    connection: Connection,
    supervisor: str,
    *,
    settings: Settings,
    now: datetime,
    stats: WatchStats,
) -> None:
    """One email to the supervisor per broken callback not made `escalate_after_hours`
    after its window ended. The outbox row's booking key makes it once, whichever worker
    queues it; the NOT EXISTS only spares the attempt."""
    told = select(OUTBOX.c.id).where(
        OUTBOX.c.rebooking_id == PROMISES.c.rebooking_id,
        OUTBOX.c.purpose == Purpose.PROMISE_ESCALATION,
    )
    due = connection.execute(
        select(PROMISES.c.id, PROMISES.c.shipment_id, PROMISES.c.rebooking_id)
        .where(
            PROMISES.c.kind == PromiseKind.CALLBACK,
            PROMISES.c.state == PromiseState.BROKEN,
            PROMISES.c.done_at.is_(None),
            PROMISES.c.rebooking_id.is_not(None),
            PROMISES.c.broken_at <= now - timedelta(hours=settings.promises.escalate_after_hours),
            ~told.exists(),
        )
        .order_by(PROMISES.c.id)
        .limit(BATCH)
    ).all()
    for row in due:
        message = NewOutboxRow(
            shipment_id=row.shipment_id,
            status_event_id=None,
            rebooking_id=row.rebooking_id,
            channel=Channel.EMAIL,
            purpose=Purpose.PROMISE_ESCALATION,
            template=ESCALATION_TEMPLATE,
            locale=language_for(None, settings.company.default_locale),
            recipient=supervisor,
            due_at=now,
        )
        if _enqueue(connection, message, now):
            stats.escalations += 1


def _enqueue(connection: Connection, message: NewOutboxRow, now: datetime) -> bool:
    try:
        outbox.enqueue(connection, message, now)
    except DuplicateMessageError:
        return False  # queued already for this promise: exactly once
    return True
