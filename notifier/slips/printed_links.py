"""Links printed on paper: a live link per parcel when its slip is printed, kept alive as
long as the paper is of use."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, update

from notifier.config import Settings
from notifier.db.bulk import one_of
from notifier.db.locks import take_writers_turn
from notifier.db.tables import LINKS
from notifier.rebooking.links import (
    Attempt,
    Link,
    ensure_links,
    expiry,
    issue_links,
    live,
    live_links,
)


def print_links(
    connection: Connection,
    needs: Sequence[Attempt],
    *,
    reissue: bool,
    key: bytes,
    settings: Settings,
    now: datetime,
) -> dict[int, Link]:
    """Each shipment's live link, for its slip, by shipment id; in a write transaction.

    The link a shipment has is printed again (the one in its "on its way" text, on an
    earlier print of the same slips): printing twice gives the same links. Only
    without one is a link issued. With `reissue`, every shipment gets a new link and
    its old ones stop opening (a pack that went missing).

    A `need` is an announcement (attempted False) whose `occurred_at` is the printing
    and whose `held_until` is how long the paper is of use; a printed link lives at
    least that long, even one issued long ago.
    """
    if not needs:
        return {}
    # A parcel gets one live link, never one from ingest and another from this print.
    take_writers_turn(connection)
    if reissue:
        issue_links(connection, needs, key=key, settings=settings, now=now)
    else:
        ensure_links(connection, needs, key=key, settings=settings, now=now)
        _keep_alive(connection, needs, settings=settings, now=now)
    return live_links(
        connection, [n.shipment_id for n in needs], key=key, settings=settings, now=now
    )


def _keep_alive(
    connection: Connection, needs: Sequence[Attempt], *, settings: Settings, now: datetime
) -> None:
    """Live links that would end before the paper is of no more use end then instead."""
    by_end: dict[datetime, list[int]] = {}
    for need in needs:
        by_end.setdefault(expiry(need, settings), []).append(need.shipment_id)
    for end, ids in by_end.items():
        connection.execute(
            update(LINKS)
            .where(
                one_of(connection, LINKS.c.shipment_id, ids), live(now), LINKS.c.expires_at < end
            )
            .values(expires_at=end)
        )
