"""The retention job: a shipment's recipient data is anonymised [privacy] retention_days
after its final status (GDPR art. 5(1)(e)); its statuses, times and counts stay.

Safe with N workers: each batch is one transaction that takes its shipments with FOR
UPDATE SKIP LOCKED on PostgreSQL (SQLite lets one writer in at a time), and marks them
with a compare-and-set on `anonymised_at`, so each shipment is anonymised once.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, select, update

from notifier.config import Settings
from notifier.db.bulk import one_of
from notifier.db.engine import write_transaction
from notifier.db.tables import CONTACTS, INBOUND, SHIPMENTS
from notifier.outbox.suppression import ANONYMISED_RECIPIENT
from notifier.privacy.scrub import (
    Counts,
    clear_shipments,
    contact_pairs,
    forget_addresses,
    forget_recipients,
    still_held,
)
from notifier.vocabulary import TERMINAL_STATUSES

# What an anonymised shipment's messages and replies name instead.
ANONYMISED = ANONYMISED_RECIPIENT
_MAX_BATCHES = 10_000  # a bound on one run, should a batch ever fail to make progress


def apply_retention(engine: Engine, *, settings: Settings, now: datetime) -> Counts:
    """Anonymise every shipment final for longer than retention_days; counts per table."""
    cutoff = now - timedelta(days=settings.privacy.retention_days)
    counts: Counts = Counter()
    for _ in range(_MAX_BATCHES):
        with write_transaction(engine) as connection:
            done = anonymise_batch(
                connection,
                cutoff=cutoff,
                limit=settings.privacy.retention_batch,
                link_key=settings.link_key,
                now=now,
            )
        if not done:
            break
        counts.update(done)
    return counts


def anonymise_batch(
    connection: Connection, *, cutoff: datetime, limit: int, link_key: bytes, now: datetime
) -> Counts:
    """Up to `limit` shipments whose final status is older than `cutoff`; empty when none."""
    due = (
        SHIPMENTS.c.anonymised_at.is_(None),
        SHIPMENTS.c.status.in_([str(s) for s in TERMINAL_STATUSES]),
        SHIPMENTS.c.status_occurred_at <= cutoff,
    )
    candidates = select(SHIPMENTS.c.id).where(*due).order_by(SHIPMENTS.c.id).limit(limit)
    if connection.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    found = list(connection.execute(candidates).scalars())
    if not found:
        return Counter()
    # The compare-and-set: a row another run took meanwhile is not in `ids`.
    ids = list(
        connection.execute(
            update(SHIPMENTS)
            .where(one_of(connection, SHIPMENTS.c.id, found), *due)
            .values(anonymised_at=now, updated_at=now)
            .returning(SHIPMENTS.c.id)
        ).scalars()
    )
    counts: Counts = Counter({"shipments anonymised": len(ids)})
    if not ids:
        return counts
    points = connection.execute(
        select(CONTACTS.c.kind, CONTACTS.c.value).where(
            one_of(connection, CONTACTS.c.shipment_id, ids)
        )
    ).all()
    counts.update(clear_shipments(connection, ids, why="retention", now=now))
    counts.update(forget_recipients(connection, ids, None, marker=ANONYMISED, now=now))
    counts["inbound_messages"] += connection.execute(
        update(INBOUND)
        .where(one_of(connection, INBOUND.c.shipment_id, ids))
        .values(sender=ANONYMISED)
    ).rowcount
    counts["contact_points"] += connection.execute(
        delete(CONTACTS).where(one_of(connection, CONTACTS.c.shipment_id, ids))
    ).rowcount
    # An address still on a live shipment keeps its plain opt-out and its unsubscribe
    # link (the next email carries it); one no longer held anywhere keeps only its hash.
    pairs = contact_pairs((row.kind, row.value) for row in points)
    gone = pairs - still_held(connection, pairs)
    counts.update(
        forget_addresses(
            connection, gone, link_key=link_key, marker=ANONYMISED, erased_reason=None, now=now
        )
    )
    return counts
