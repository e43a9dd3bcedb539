"""notifier's sending against procrastinate, a well-kept PostgreSQL task queue, on the
same jobs: each takes one queued message, calls a provider that answers in 20 ms, and
records it sent. One worker process each, 16 jobs in flight; messages a second.

procrastinate does less per job than notifier (no staleness checks, no rendering, no
fallbacks): it is the peer to beat for the queue's own cost. It is installed with the
bench extras only (`pip install -e '.[bench]'`); without it the suite says so and stops.
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from typing import Any

from sqlalchemy import create_engine, text

from benchmarks import scale
from benchmarks.report import record

CONCURRENCY = 16
_TABLE = "CREATE TABLE messages (id int PRIMARY KEY, sent_at timestamptz)"
_ROWS = "INSERT INTO messages SELECT g, NULL FROM generate_series(1, :count) g"
_SENT = "SELECT count(*) FROM messages WHERE sent_at IS NOT NULL"


def _procrastinate_worker(url: str, start: Any) -> None:
    import procrastinate
    import psycopg

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))
    # Each job records its message on a connection of the job thread's own, as a sender
    # thread of notifier's does.
    local: dict[int, Any] = {}

    @app.task(name="send", queue="sms")
    def send(row: int) -> None:
        import threading

        connection = local.get(threading.get_ident())
        if connection is None:
            connection = local[threading.get_ident()] = psycopg.connect(url, autocommit=True)
        time.sleep(scale.LATENCY)  # the provider's answer
        connection.execute("UPDATE messages SET sent_at = now() WHERE id = %s", (row,))

    start.wait()
    app.run_worker(
        queues=["sms"], concurrency=CONCURRENCY, wait=False, install_signal_handlers=False
    )


def _procrastinate(count: int) -> float:
    import procrastinate

    name = f"notifier_peer_{uuid.uuid4().hex[:10]}"
    admin = create_engine(scale.ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = scale.ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(conninfo=url))
        with app.open():
            app.schema_manager.apply_schema()
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as connection:
            connection.execute(
                text("CREATE TABLE messages (id int PRIMARY KEY, sent_at timestamptz)")
            )
            connection.execute(
                text(f"INSERT INTO messages SELECT g, NULL FROM generate_series(1, {count}) g")
            )
        engine.dispose()

        @app.task(name="send", queue="sms")
        def send(row: int) -> None: ...

        with app.open():
            send.batch_defer(*({"row": n} for n in range(1, count + 1)))
        context = multiprocessing.get_context("spawn")
        start = context.Barrier(2)
        worker = context.Process(target=_procrastinate_worker, args=(url, start))
        worker.start()
        start.wait()
        began = time.perf_counter()
        worker.join()
        took = time.perf_counter() - began
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as connection:
            done = connection.execute(
                text("SELECT count(*) FROM messages WHERE sent_at IS NOT NULL")
            ).scalar_one()
        engine.dispose()
        assert done == count, f"procrastinate sent {done} of {count}"
        return count / took
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main(quick: bool) -> None:
    try:
        import procrastinate  # noqa: F401
    except ImportError:
        print("   procrastinate is not installed: pip install -e '.[bench]'")
        return
    count = 800 if quick else 4000
    theirs = _procrastinate(count)
    ours = scale._run(count, 1, CONCURRENCY)
    ratio = ours / theirs
    verdict = "ok" if ratio >= 1.0 else "MISSED"
    print(
        f"   one worker, {CONCURRENCY} in flight, 20 ms provider: notifier {ours:,.0f} msg/s, "
        f"procrastinate {theirs:,.0f} msg/s, ratio {ratio:.2f} (target >= 1) {verdict}",
        flush=True,
    )
    record(
        "peer", f"notifier vs procrastinate, 1 worker, {CONCURRENCY} in flight", ours=ours,
        ceiling=theirs, unit="messages/s", ratio=ratio, target=">= 1", met=ratio >= 1.0,
    )  # fmt: skip
