"""Sending at the SMS sender's pace (channels.sms.max_per_second), across every worker.

A send waits for the moment booked for it (outbox/pace.py) when that is near; when it is
further than a thread should wait, the row goes back to pending until then. When Twilio
says too fast anyway (another system on the same account), the sender is held back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine

from notifier.clock import wall_clock
from notifier.config import Settings
from notifier.outbox import pace

# A thread waits at most this long for its turn; the lease (dispatch.lease_seconds, at
# least 10 s) stays far longer, so a waiting row is never taken by another worker.
MAX_WAIT = timedelta(seconds=2)
# After a "too fast" from the provider, the sender rests this long before its next send.
HOLD_BACK = timedelta(seconds=2)


class Pacer:
    def __init__(
        self,
        engine: Engine,
        *,
        sender: str,
        per_second: float,
        clock: Callable[[], datetime] = wall_clock,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.engine = engine
        self.sender = sender
        self.interval = timedelta(seconds=1 / per_second)
        self.clock = clock
        self.sleep = sleep
        # The latest moment this worker has put a row back to: the next one it puts back
        # goes an interval after it, so a batch put back comes due at the pace, not all
        # at once at the sender's next free moment (which would claim it all again).
        self._put_back_until: datetime | None = None
        self._lock = threading.Lock()

    def wait_turn(self) -> datetime | None:
        """None once this send may go (having waited its turn), else when it may."""
        now = self.clock()
        when, booked = pace.book(
            self.engine, self.sender, now=now, interval=self.interval, max_wait=MAX_WAIT
        )
        if not booked:
            with self._lock:
                last = self._put_back_until
                later = when if last is None or last < when else last + self.interval
                self._put_back_until = later
            return later
        delay = (when - now).total_seconds()
        if delay > 0:
            self.sleep(delay)  # pacing is the point here, not synchronisation
        return None

    def hold_back(self) -> None:
        pace.hold_back(self.engine, self.sender, until=self.clock() + HOLD_BACK)


def sms_pacer(engine: Engine, settings: Settings) -> Pacer | None:
    """The configured SMS sender's pacer; None without channels.sms.max_per_second."""
    sms = settings.channels.sms
    sender = sms.messaging_service_sid or sms.from_number
    if sms.max_per_second is None or sender is None:
        return None
    return Pacer(engine, sender=str(sender), per_second=sms.max_per_second)
