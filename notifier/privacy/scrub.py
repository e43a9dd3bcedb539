"""The clearing erasure and retention share: a set of shipments' recipient texts, and the
rows that name a set of addresses. All its SQL; the caller holds the write transaction.

What goes and what stays: every text that can name, locate or reach a person is cleared
(names, street lines, postcodes, contact points, message recipients and bodies, event
payloads, neighbours, comments, staff notes). Rows stay, with their statuses, times,
channels, purposes and counts, so the dashboard's history and the unique keys that keep
messages from repeating still hold.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import Connection, Update, and_, delete, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from notifier.db.bulk import one_of
from notifier.db.tables import (
    CONTACTS,
    EVENTS,
    FEEDBACK,
    INBOUND,
    OPT_OUTS,
    OUTBOX,
    PROMISES,
    REBOOKINGS,
    SHIPMENTS,
    UNSUBSCRIBE_TOKENS,
)
from notifier.outbox.suppression import hashed_address, normalised
from notifier.purposes import TO_THE_COMPANY
from notifier.vocabulary import CHANNEL_CONTACT, Channel, ContactKind, OutboxState

# Counts per table, for the command's and the job's report: never an address.
Counts = Counter[str]

_UNSENT = (OutboxState.PENDING, OutboxState.SENDING)


def payload_marker(why: str) -> str:
    """What an event's payload becomes. Not a pruned copy: each source format (native,
    EasyPost, AfterShip, Shippo, Karrio) nests the recipient differently, and a pruned
    copy that missed one field would keep the very data erasure promises to remove. The
    columns beside it keep the status, reason, source codes and times."""
    return json.dumps({"_scrubbed": why})


def clear_shipments(
    connection: Connection, shipment_ids: Collection[int], *, why: str, now: datetime
) -> Counts:
    """Clear the recipient's texts on these shipments and everything hung on them."""
    counts: Counts = Counter()
    if not shipment_ids:
        return counts

    def run(name: str, statement: Update) -> None:
        counts[name] += connection.execute(statement).rowcount

    ids = list(shipment_ids)
    run(
        "shipments",
        update(SHIPMENTS)
        .where(one_of(connection, SHIPMENTS.c.id, ids))
        .values(recipient_name=None, recipient_postcode=None, recipient_address=None),
    )
    marker = payload_marker(why)
    run(
        "status_events",
        update(EVENTS)
        .where(one_of(connection, EVENTS.c.shipment_id, ids), EVENTS.c.payload != marker)
        .values(payload=marker),
    )
    # A message's text greets the recipient by name and may quote the address; a provider's
    # error can quote the number ("The 'To' number +39... is not valid"). Mail to the depot
    # about a dispute quotes the recipient too: every row of the shipment is cleared.
    run(
        "outbox",
        update(OUTBOX)
        .where(
            one_of(connection, OUTBOX.c.shipment_id, ids),
            or_(
                OUTBOX.c.subject.is_not(None),
                OUTBOX.c.body.is_not(None),
                OUTBOX.c.body_html.is_not(None),
                OUTBOX.c.last_error.is_not(None),
            ),
        )
        .values(subject=None, body=None, body_html=None, last_error=None, updated_at=now),
    )
    run(
        "rebookings",
        update(REBOOKINGS)
        .where(
            one_of(connection, REBOOKINGS.c.shipment_id, ids),
            or_(
                REBOOKINGS.c.neighbour_name.is_not(None),
                REBOOKINGS.c.neighbour_door.is_not(None),
                REBOOKINGS.c.instructions.is_not(None),
            ),
        )
        .values(neighbour_name=None, neighbour_door=None, instructions=None),
    )
    # What the recipient said on the call, in staff's words.
    run(
        "promises",
        update(PROMISES)
        .where(one_of(connection, PROMISES.c.shipment_id, ids), PROMISES.c.note.is_not(None))
        .values(note=None),
    )
    run(
        "feedback",
        update(FEEDBACK)
        .where(one_of(connection, FEEDBACK.c.shipment_id, ids), FEEDBACK.c.comment.is_not(None))
        .values(comment=None),
    )
    return counts


def forget_recipients(
    connection: Connection,
    shipment_ids: Collection[int],
    recipients: ColumnElement[bool] | None,
    *,
    marker: str,
    now: datetime,
) -> Counts:
    """On these shipments: the contact points and outbox recipients that `recipients`
    matches (all of them when None; never the company's own addresses) are gone; messages
    not sent yet are cancelled, so nothing goes to an address no longer held."""
    counts: Counts = Counter()
    if not shipment_ids:
        return counts
    ids = list(shipment_ids)
    to_person: ColumnElement[bool] = OUTBOX.c.purpose.not_in([str(p) for p in TO_THE_COMPANY])
    if recipients is not None:
        to_person = and_(to_person, recipients)
    on_shipments = one_of(connection, OUTBOX.c.shipment_id, ids)
    counts["outbox cancelled"] += connection.execute(
        update(OUTBOX)
        .where(on_shipments, to_person, OUTBOX.c.state.in_([str(s) for s in _UNSENT]))
        .values(
            state=OutboxState.CANCELLED,
            lease_until=None,
            leased_by=None,
            finished_at=now,
            updated_at=now,
            last_error=f"cancelled: recipient {marker}",
        )
    ).rowcount
    counts["outbox"] += connection.execute(
        update(OUTBOX)
        .where(on_shipments, to_person, OUTBOX.c.recipient != marker)
        .values(recipient=marker, subject=None, body=None, body_html=None, updated_at=now)
    ).rowcount
    return counts


def outbox_recipient_is(addresses: Iterable[tuple[str, str]]) -> ColumnElement[bool]:
    """Outbox rows to one of these (channel, address) pairs, email in any case."""
    clauses = [
        (OUTBOX.c.channel == channel)
        & (
            func.lower(OUTBOX.c.recipient) == normalised(channel, address)
            if channel == Channel.EMAIL
            else OUTBOX.c.recipient == address
        )
        for channel, address in addresses
    ]
    return or_(*clauses)


def forget_addresses(
    connection: Connection,
    addresses: Collection[tuple[str, str]],
    *,
    link_key: bytes,
    marker: str,
    erased_reason: str | None,
    now: datetime,
) -> Counts:
    """Rows held by address alone, of these (channel, address) pairs: SMS replies keep
    their kind and time under a marker; unsubscribe tokens go; opt-outs become their
    keyed hash, so they still hold. With `erased_reason` every pair gets a hash entry of
    that reason, opted out before or not: the person is never messaged again."""
    counts: Counts = Counter()
    for channel, address in sorted(set(addresses)):
        plain = normalised(channel, address)
        hashed = hashed_address(link_key, channel, address)
        if channel == Channel.SMS:
            counts["inbound_messages"] += connection.execute(
                update(INBOUND).where(INBOUND.c.sender == address).values(sender=marker)
            ).rowcount
        if channel == Channel.EMAIL:
            counts["unsubscribe_tokens"] += connection.execute(
                delete(UNSUBSCRIBE_TOKENS).where(
                    UNSUBSCRIBE_TOKENS.c.channel == channel,
                    func.lower(UNSUBSCRIBE_TOKENS.c.address) == plain,
                )
            ).rowcount
        held = connection.execute(
            select(OPT_OUTS.c.reason, OPT_OUTS.c.created_at).where(
                OPT_OUTS.c.channel == channel, OPT_OUTS.c.address == plain
            )
        ).first()
        if held is not None:
            connection.execute(
                delete(OPT_OUTS).where(OPT_OUTS.c.channel == channel, OPT_OUTS.c.address == plain)
            )
        reason = erased_reason or (held.reason if held is not None else None)
        if reason is None:
            continue
        created = held.created_at if held is not None and erased_reason is None else now
        counts["opt_outs hashed"] += _put_hash(connection, channel, hashed, reason, created)
    return counts


def _put_hash(
    connection: Connection, channel: str, hashed: str, reason: str, created_at: datetime
) -> int:
    """The hash entry, replacing one of another reason (an erasure outranks retention)."""
    found = connection.execute(
        select(OPT_OUTS.c.reason).where(OPT_OUTS.c.channel == channel, OPT_OUTS.c.address == hashed)
    ).first()
    if found is not None:
        if found.reason == reason:
            return 0
        connection.execute(
            update(OPT_OUTS)
            .where(OPT_OUTS.c.channel == channel, OPT_OUTS.c.address == hashed)
            .values(reason=reason)
        )
        return 1
    connection.execute(
        OPT_OUTS.insert().values(
            channel=channel, address=hashed, reason=reason, created_at=created_at
        )
    )
    return 1


def contact_pairs(points: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """(kind, value) contact points as the (channel, address) pairs that reach them."""
    return {
        (str(channel), value)
        for kind, value in points
        for channel, channel_kind in CHANNEL_CONTACT.items()
        if channel_kind is ContactKind(kind)
    }


def still_held(connection: Connection, pairs: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these pairs another shipment's contact points still hold."""
    kinds = {str(c): str(k) for c, k in CHANNEL_CONTACT.items()}
    values = {address for _, address in pairs}
    if not values:
        return set()
    rows = connection.execute(
        select(CONTACTS.c.kind, CONTACTS.c.value).where(
            CONTACTS.c.kind.in_(sorted(set(kinds.values()))),
            one_of(connection, CONTACTS.c.value, values),
        )
    ).all()
    present = {(row.kind, row.value) for row in rows}
    return {(c, a) for c, a in pairs if (kinds[c], a) in present}
