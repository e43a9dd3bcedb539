"""Scheduled work as plain functions; the only place allowed to log an error and go on."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from threading import Lock

log = logging.getLogger(__name__)


@dataclass
class SchedulerHealth:
    """What /healthz says about the in-process scheduler: running, and ticking."""

    started_at: datetime | None = None
    last_tick: datetime | None = None
    ticks: int = 0
    _lock: Lock = field(default_factory=Lock, repr=False)

    def tick(self, now: datetime) -> None:
        with self._lock:
            self.last_tick = now
            self.ticks += 1


def heartbeat(health: SchedulerHealth) -> None:
    """Proves the scheduler's thread is alive; /healthz reports the last beat."""
    health.tick(datetime.now(UTC))
