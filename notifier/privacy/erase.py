"""`notifier erase`: a person's contact data out of every table, in one transaction, and
their keyed hash onto the suppression list so they are never messaged again (GDPR
art. 17)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import Connection, delete, select

from notifier.db.tables import CONTACTS
from notifier.outbox.suppression import ERASED_REASON, ERASED_RECIPIENT
from notifier.privacy.person import Person
from notifier.privacy.scrub import (
    Counts,
    clear_shipments,
    forget_addresses,
    forget_recipients,
    outbox_recipient_is,
)

# What an erased person's outbox rows and SMS replies name instead of the address.
ERASED = ERASED_RECIPIENT


def erase(connection: Connection, person: Person, *, link_key: bytes, now: datetime) -> Counts:
    """Counts per table of what changed; a second run changes nothing (bar the counts of
    zero). The caller holds the write transaction.

    Every shipment that had this person's contact is cleared, not only those where it was
    the sole one: the name and street on a shipment belong to the person it was sent to,
    and nothing says which of several contacts that was. A co-contact keeps being told,
    without the greeting by name.
    """
    shipment_ids = sorted(
        set(
            connection.execute(
                select(CONTACTS.c.shipment_id).where(person.contact_matches())
            ).scalars()
        )
    )
    counts: Counts = Counter()
    counts.update(clear_shipments(connection, shipment_ids, why="erasure", now=now))
    counts.update(
        forget_recipients(
            connection,
            shipment_ids,
            outbox_recipient_is(person.pairs),
            marker=ERASED,
            now=now,
        )
    )
    counts["contact_points"] += connection.execute(
        delete(CONTACTS).where(person.contact_matches())
    ).rowcount
    counts.update(
        forget_addresses(
            connection,
            person.pairs,
            link_key=link_key,
            marker=ERASED,
            erased_reason=ERASED_REASON,
            now=now,
        )
    )
    return counts
