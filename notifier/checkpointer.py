"""SQLite WAL checkpoints in a background thread while a large import writes.

In WAL mode the connection whose commit takes the log past `wal_autocheckpoint` pages
copies the log into the database and syncs it, inside that commit. During an import
that was a sixth of the time. SQLite's own advice is to run checkpoints "in a separate
thread or process" (sqlite.org/wal.html): here a thread with its own connection runs a
PASSIVE checkpoint, which never blocks the writer, whenever the log has grown. SQLite
does the copying and syncing without Python's lock, so it runs beside the import on
another core, and the writer finds the log already copied.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from sqlalchemy import Engine

# Often enough that the log stays well under SQLite's automatic threshold (1,000
# pages, about two batches of the import), so the writer never has to.
POLL_SECONDS = 0.05


class WalCheckpointer:
    """While entered, checkpoint the engine's SQLite file from a thread; else nothing.

    A pass that fails stops the thread, and the error is raised when the block ends:
    the import's own commits are unaffected, but a database that cannot checkpoint is
    something to hear about.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def applies(self) -> bool:
        database = self.engine.url.database
        return self.engine.dialect.name == "sqlite" and bool(database) and database != ":memory:"

    def __enter__(self) -> WalCheckpointer:
        if self.applies:
            self._thread = threading.Thread(
                target=self._run, name="notifier-wal-checkpoint", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._failure is not None and error is None:
            raise self._failure

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @staticmethod
    def checkpoint(cursor: Any) -> tuple[int, int]:
        """One PASSIVE pass: copies what it can without waiting for or blocking anyone.

        Returns the pages in the log and how many of them are now in the database file.
        """
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        _busy, logged, copied = cursor.fetchone()
        return int(logged), int(copied)

    def _run(self) -> None:
        try:
            # A driver connection of its own: the pool's others belong to the import.
            connection = self.engine.raw_connection()
            try:
                cursor = connection.cursor()
                while not self._stop.wait(POLL_SECONDS):
                    self.checkpoint(cursor)
            finally:
                connection.close()
        except BaseException as exc:  # raised in the importing thread, at __exit__
            self._failure = exc
