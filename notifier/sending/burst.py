"""Sending everything due, batch after batch, without the threads ever waiting on a claim.

While one batch is being sent the next is claimed and read, so a worker with N sends in
flight keeps N busy across batches, not only inside one. At most two batches are leased
at once, and only what the send threads hold (one row each: at the provider, or accepted
and being recorded) can have been sent unrecorded: a worker's death duplicates no more
than it has threads.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from notifier.sending.batches import Batch, DispatchStats, tally_all
from notifier.sending.settle import SettleOutcome

if TYPE_CHECKING:
    from notifier.sending.dispatch import Dispatcher


def run_burst(
    dispatcher: Dispatcher,
    clock: Callable[[], datetime],
    stopping: Callable[[], bool] = lambda: False,
) -> DispatchStats:
    """Claim and settle while claims come back full and nobody asks to stop; returns
    with every claimed row settled and recorded."""
    stats = DispatchStats()
    if not dispatcher.concurrent:
        # One send at a time: nothing would run while the next batch is claimed.
        while not stopping():
            once = dispatcher.run_once(clock())
            stats.outcomes.update(once.outcomes)
            if once.claimed < dispatcher.batch_limit:
                break
        return stats
    # The send threads keep their database connections for the burst (db/statements.py).
    with dispatcher.record.statements.borrowed():
        _send_ahead(dispatcher, clock, stopping, stats)
    return stats


def _send_ahead(
    dispatcher: Dispatcher,
    clock: Callable[[], datetime],
    stopping: Callable[[], bool],
    stats: DispatchStats,
) -> None:
    leased: deque[tuple[Batch, Iterator[SettleOutcome]]] = deque()
    try:
        while not stopping():
            batch = dispatcher.take(clock())
            if batch is not None:
                leased.append((batch, dispatcher.start(batch)))
            # One batch queued behind the one in flight keeps every thread busy.
            while len(leased) > 1:
                tally_all(stats, *leased.popleft())
            if batch is None or len(batch.claimed) < dispatcher.batch_limit:
                break
    finally:
        # Whatever stopped the claiming, what was claimed is settled and recorded.
        while leased:
            tally_all(stats, *leased.popleft())
