"""A batch: the rows one claim took, with what they need from the database, read once.

Taking one is a claim (the rows leased to this worker), the tick's reads, and the two
writes made once for the whole batch: the unsubscribe tokens and the rating links.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import Engine

from notifier import metrics
from notifier.config import Settings
from notifier.db.engine import write_transaction
from notifier.feedback.links import feedback_urls
from notifier.outbox import store as outbox
from notifier.outbox import unsubscribe
from notifier.outbox.rows import ClaimedRow
from notifier.sending.compose import offers_unsubscribe
from notifier.sending.settle import SettleOutcome
from notifier.sending.store import TickReads, read_tick
from notifier.urls import unsubscribe_url


@dataclass
class DispatchStats:
    """How one tick went, by outcome."""

    outcomes: Counter[SettleOutcome] = field(default_factory=Counter)

    @property
    def claimed(self) -> int:
        return sum(self.outcomes.values())


@dataclass(frozen=True, slots=True)
class Batch:
    """One claim's rows with what they need from the database, read at `now`."""

    claimed: Sequence[ClaimedRow]
    reads: TickReads
    unsubscribe_urls: Mapping[str, str]
    now: datetime


def take_batch(
    engine: Engine,
    settings: Settings,
    *,
    worker: str,
    limit: int,
    now: datetime,
) -> Batch | None:
    """Claim up to `limit` due rows, leased for [dispatch] lease_seconds, and read what they
    need; None when nothing is due."""
    lease = timedelta(seconds=settings.dispatch.lease_seconds)
    claimed = outbox.claim(engine, worker=worker, now=now, limit=limit, lease=lease)
    if not claimed:
        return None
    reads = read_tick(engine, claimed, settings=settings, now=now)
    urls = _unsubscribe_urls(engine, settings, claimed, reads, now)
    reads = _with_feedback_urls(engine, settings, claimed, reads, now)
    return Batch(claimed, reads, urls, now)


def tally_all(stats: DispatchStats, batch: Batch, outcomes: Iterator[SettleOutcome]) -> None:
    """Wait for each of the batch's outcomes and count it."""
    for message, outcome in zip(batch.claimed, outcomes, strict=True):
        stats.outcomes[outcome] += 1
        metrics.count_message(message.channel, outcome)


def _unsubscribe_urls(
    engine: Engine,
    settings: Settings,
    claimed: Sequence[ClaimedRow],
    reads: TickReads,
    now: datetime,
) -> dict[str, str]:
    """Each recipient address's one-click unsubscribe URL, its token made or kept alive
    in one write for the whole tick. An opted-out address is sent nothing: it needs none."""
    addresses = {
        m.recipient
        for m in claimed
        if offers_unsubscribe(m) and (m.channel, m.recipient) not in reads.opted_out
    }
    if not addresses:
        return {}
    key = settings.link_key
    with write_transaction(engine) as connection:
        tokens = unsubscribe.issue_tokens(connection, addresses, key=key, now=now)
    return {address: unsubscribe_url(settings, token) for address, token in tokens.items()}


def _with_feedback_urls(
    engine: Engine,
    settings: Settings,
    claimed: Sequence[ClaimedRow],
    reads: TickReads,
    now: datetime,
) -> TickReads:
    """The reads with each DELIVERED row's rating link, made in one write for the tick."""
    asked = feedback_urls(engine, settings, claimed, opted_out=reads.opted_out, now=now)
    return replace(reads, feedback_urls=asked) if asked else reads
