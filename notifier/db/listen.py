"""LISTEN on PostgreSQL for the outbox's wake-ups (wakeups.CHANNEL), on a connection of
its own: a listening connection must not be a pooled one, which others would borrow."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine

from notifier.db.wakeups import CHANNEL

log = logging.getLogger(__name__)

# How long one wait for a notification lasts before the stop flag is looked at again.
POLL_SECONDS = 1.0
# After a lost connection (a restart, a failover, a terminated backend), the pause
# before connecting again; the interval tick sends meanwhile.
RECONNECT_SECONDS = 2.0


class Listener:
    """A thread that calls `bell` for every NOTIFY on the outbox's channel."""

    def __init__(self, engine: Engine, bell: Callable[[], None]) -> None:
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self._bell = bell
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-listen", daemon=True)
        self.listening = threading.Event()  # set while LISTEN is in force (for tests)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(POLL_SECONDS * 3)

    def _run(self) -> None:
        import psycopg  # the postgres extra's driver; only a PostgreSQL worker gets here

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    # A wake-up may have been sent while we were not listening.
                    self._bell()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=POLL_SECONDS, stop_after=1):
                            self._bell()
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning(
                    "outbox wake-ups: listening stopped (%s), again shortly", type(exc).__name__
                )
                self._stop.wait(RECONNECT_SECONDS)
        self.listening.clear()
