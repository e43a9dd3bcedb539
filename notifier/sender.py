"""One worker's sender: a thread that sends what is due the moment it is due.

It sleeps until woken (a message queued: wakeups.ring in this process, NOTIFY from any
process on PostgreSQL) or until the interval tick, the safety net; while claims come back
full it claims the next batch while the last is still sending. Stopping (SIGTERM) stops the
claiming: the batches in flight are finished and recorded, so no row is left leased by a clean exit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from notifier import jobs
from notifier.clock import wall_clock
from notifier.db import wakeups
from notifier.db.listen import Listener
from notifier.sending.dispatch import Dispatcher


class SendLoop:
    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        interval_seconds: float,
        clock: Callable[[], datetime] = wall_clock,
    ) -> None:
        self.dispatcher = dispatcher
        self.interval_seconds = interval_seconds
        self.clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sender", daemon=True)
        self._unsubscribe: Callable[[], None] | None = None
        engine = dispatcher.engine
        self.listener = Listener(engine, self.wake) if engine.dialect.name == "postgresql" else None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._unsubscribe = wakeups.subscribe(self.wake)
        if self.listener is not None:
            self.listener.start()
        self._thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop claiming, let the batch in flight finish; whether the thread has ended."""
        self._stop.set()
        self._wake.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.listener is not None:
            self.listener.stop()
        if self._thread.is_alive():
            self._thread.join(timeout)
        ended = not self._thread.is_alive()
        if ended:
            self.dispatcher.close()
        return ended

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            # Sends until a claim comes back short: then nothing more is due right now.
            jobs.send_burst(self.dispatcher, self.clock, self._stop.is_set)
            self._wake.wait(self.interval_seconds)
