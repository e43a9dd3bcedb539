"""Ingest throughput against a same-run Core executemany ceiling, and the CLI's peak memory."""

from __future__ import annotations

import heapq
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import select

from benchmarks.report import record
from notifier import paths
from notifier.config import Settings, load_settings
from notifier.db import schema
from notifier.db.engine import make_engine, read_transaction, write_transaction
from notifier.db.tables import EVENTS, SHIPMENTS
from notifier.ingest.fileimport import FileImport

TARGET_RATIO = 0.30
TARGET_PEAK_MB = 300
# A hung or runaway CLI must not hold `make bench` (or a CI job) forever.
CLI_TIMEOUT_S = 900


@dataclass(frozen=True, slots=True)
class Sizes:
    throughput: int  # events for ours against the ceiling
    memory: int  # events for the CLI's peak memory


FULL = Sizes(throughput=200_000, memory=1_000_000)
QUICK = Sizes(throughput=20_000, memory=100_000)

# Every shipment has five events, statuses in order; the mix decides which messages the
# rules ask for (delivered, a missed delivery then delivered, a missed delivery then held).
JOURNEYS = (
    (65, ("CREATED", "IN_TRANSIT", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED")),
    (25, ("CREATED", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERY_ATTEMPTED", "DELIVERED")),
    (
        10,
        ("CREATED", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERY_ATTEMPTED", "AVAILABLE_FOR_PICKUP"),
    ),
)
EVENTS_PER_SHIPMENT = 5
FIRST_NAMES = (
    "Giovanni", "Maria", "Luca", "Francesca", "Marco", "Giulia", "Alessandro", "Chiara",
    "Matteo", "Sara", "Lorenzo", "Elena", "Andrea", "Valentina", "Davide", "Anna", "Simone",
    "Martina", "Federico", "Paola", "Niccolò", "Beatrice", "Stefano", "Ilaria", "Jürgen",
)  # fmt: skip
LAST_NAMES = (
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
    "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano",
    "Rizzo", "Lombardi", "Moretti", "D'Angelo", "Fabbri", "Sanità", "Müller",
)  # fmt: skip
MAIL_DOMAINS = ("gmail.com", "libero.it", "outlook.it", "yahoo.it", "tiscali.it", "icloud.com")
# Italian mobile ranges (TIM, Vodafone, WindTre, Iliad, Fastweb...), all valid SMS numbers.
MOBILE_PREFIXES = (
    "320", "324", "327", "328", "329", "330", "331", "333", "334", "335", "336", "337",
    "338", "339", "340", "342", "343", "345", "346", "347", "348", "349", "350", "351",
    "366", "368", "370", "377", "380", "388", "389", "391", "392", "393",
)  # fmt: skip
SENDERS = (
    "Libreria Sant'Orsola", "Ottica Bellavista", "Farmacia Centrale", "Casa & Cucina",
    "Elettronica Duomo", "Torrefazione Moka", "Sartoria Ferri", "Vivaio Le Rose",
    "Calzature Bruni", "Pasticceria Già Dolce", "Ferramenta Tosi", "Profumeria Élite",
)  # fmt: skip
DEPOTS = ("MI01", "MI02", "TO01", "BO01", "FI01", "RM01", "RM02", "NA01")
MISSED_REASONS = ("RECIPIENT_ABSENT", "RECIPIENT_ABSENT", "BUSINESS_CLOSED", "ADDRESS_INACCESSIBLE")
ROME_WINTER = timezone(timedelta(hours=1))
# A steady flow of parcels, each taking a day or two: in a file ordered by time, a
# shipment's next event comes thousands of lines after the last one, as in a TMS export,
# so a batch rarely holds two events of one shipment.
SHIPMENTS_PER_DAY = 10_000


def generate(path: Path, count: int, *, now: datetime, seed: int) -> int:
    """Write `count` native events as JSON Lines, oldest first; returns the shipments."""
    rng = random.Random(seed)
    shipments = -(-count // EVENTS_PER_SHIPMENT)
    every = timedelta(days=1) / SHIPMENTS_PER_DAY
    # The last shipment starts 3 days ago: its five events end at most 40 hours later.
    first = now - timedelta(days=3) - every * (shipments - 1)
    with path.open("w", encoding="utf-8") as out:
        for event in _in_time_order(count, shipments, rng, first, every):
            out.write(json.dumps(event, ensure_ascii=False) + "\n")
    return shipments


def _in_time_order(
    count: int, shipments: int, rng: random.Random, first: datetime, every: timedelta
) -> Iterator[dict[str, Any]]:
    # Merge the shipments' histories by time, holding only the ones under way.
    pending: list[tuple[datetime, int, int, list[tuple[datetime, dict[str, Any]]]]] = []
    admitted = 0
    for _ in range(count):
        # Shipment n's events are all at or after first + n * every, so none not yet
        # admitted can come before the earliest pending one.
        while admitted < shipments and (not pending or first + every * admitted <= pending[0][0]):
            history = _history(admitted, rng, first + every * admitted)
            heapq.heappush(pending, (history[0][0], admitted, 0, history))
            admitted += 1
        _, n, step, history = heapq.heappop(pending)
        yield history[step][1]
        if step + 1 < len(history):
            heapq.heappush(pending, (history[step + 1][0], n, step + 1, history))


def _history(n: int, rng: random.Random, start: datetime) -> list[tuple[datetime, dict[str, Any]]]:
    """One shipment's five events with their times, oldest first, from `start`."""
    (journey,) = rng.choices([j for _, j in JOURNEYS], weights=[w for w, _ in JOURNEYS])
    common = {
        "source": "tms",
        "carrier": "rapido",
        "tracking_number": f"RP{n:09d}IT",
        "depot": rng.choice(DEPOTS),
        "recipient": _recipient(n, rng),
        "sender": {"name": rng.choice(SENDERS)},
    }
    moment = start
    events = []
    for step, status in enumerate(journey):
        if step:
            moment += timedelta(minutes=rng.randint(60, 600))
        event: dict[str, Any] = {"event_id": f"tms-{n:08d}-{step}", **common, "status": status}
        event["occurred_at"] = moment.astimezone(ROME_WINTER).isoformat(timespec="seconds")
        event |= _status_facts(status, n, moment, rng)
        events.append((moment, event))
    return events


def _recipient(n: int, rng: random.Random) -> dict[str, str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
    local = local.encode("ascii", "ignore").decode()  # Niccolò -> niccol: a mailbox as typed
    number = f"{rng.choice(MOBILE_PREFIXES)}{rng.randint(0, 9_999_999):07d}"
    # The same numbers as people write them: spaced, bare, with +39 or 0039.
    phone = rng.choice(
        (
            f"+39 {number[:3]} {number[3:6]} {number[6:]}",
            number,
            f"+39{number}",
            f"0039 {number}",
            f"{number[:3]}-{number[3:6]}-{number[6:]}",
        )
    )
    return {
        "name": f"{first} {last}",
        "phone": phone,
        "email": f"{local}{n % 100}@{rng.choice(MAIL_DOMAINS)}",
        "locale": "it" if rng.random() < 0.85 else "en",
    }


def _status_facts(status: str, n: int, moment: datetime, rng: random.Random) -> dict[str, Any]:
    day = moment.astimezone(ROME_WINTER).date()
    if status in ("CREATED", "IN_TRANSIT"):
        return {"estimated_delivery": (day + timedelta(days=1)).isoformat()}
    if status == "OUT_FOR_DELIVERY":
        return {"route_stop": n % 120 + 1}
    if status == "DELIVERY_ATTEMPTED":
        window = rng.choice(("09:00-13:00", "10:00-14:00", "14:00-18:00"))
        return {
            "reason": rng.choice(MISSED_REASONS),
            "route_stop": n % 120 + 1,
            "next_attempt": {"date": (day + timedelta(days=1)).isoformat(), "window": window},
        }
    if status == "AVAILABLE_FOR_PICKUP":
        return {
            "pickup_point": f"PP-{rng.choice(DEPOTS)[:2]}-{rng.randint(1, 40):02d}",
            "held_until": (day + timedelta(days=10)).isoformat(),
        }
    return {}


def _settings(url: str) -> Settings:
    return load_settings(paths.example_config(), env={"NOTIFIER_DATABASE_URL": url})


def _fresh_database(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    schema.upgrade(engine)
    engine.dispose()
    return url


def ours(events: Path, database: Path, now: datetime) -> float:
    """Seconds for `notifier ingest`'s own code path, into a fresh migrated SQLite file."""
    url = _fresh_database(database)
    engine = make_engine(url)
    run = FileImport(
        engine=engine,
        settings=_settings(url),
        console=Console(file=io.StringIO()),
        report_path=None,
        now=lambda: now,
    )
    started = time.perf_counter()
    ok = run.ingest_files([events], None)
    elapsed = time.perf_counter() - started
    engine.dispose()
    if not ok:
        raise RuntimeError(f"the generated events did not all go in: {run.summary_line()}")
    return elapsed


def ceiling(stored: Path, database: Path, batch_size: int) -> tuple[float, int]:
    """Seconds to insert the rows ours stored again, pre-built, with Core executemany.

    The rows are read back from ours' database, so they are the same in every column
    (payload text and shipment_id included); the shipments they point at are copied
    first, untimed, for the foreign key.
    """
    source = make_engine(f"sqlite:///{stored}")
    with read_transaction(source) as connection:
        shipments = [dict(row) for row in connection.execute(select(SHIPMENTS)).mappings()]
        columns = [c for c in EVENTS.c if c.name != "id"]
        query = select(*columns).order_by(EVENTS.c.id)
        rows = [dict(row) for row in connection.execute(query).mappings()]
    source.dispose()
    engine = make_engine(_fresh_database(database))
    with write_transaction(engine) as connection:
        connection.execute(SHIPMENTS.insert(), shipments)
    started = time.perf_counter()
    for i in range(0, len(rows), batch_size):
        with write_transaction(engine) as connection:
            connection.execute(EVENTS.insert(), rows[i : i + batch_size])
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, len(rows)


def _notifier_command() -> list[str]:
    # The installed console script, as an operator runs it; `-m notifier` without one.
    script = Path(sys.executable).with_name("notifier")
    if script.exists():
        return [str(script)]
    found = shutil.which("notifier")
    return [found] if found else [sys.executable, "-m", "notifier"]


# Linux keeps a process's peak RSS across exec, and a child forked from this benchmark
# starts out with this process's pages counted: after the throughput run that is hundreds
# of MB that the CLI never used. A small launcher (a fresh interpreter) forks the CLI
# instead and reports that child's own peak, read with wait4. Output and errors go to
# the two files named first (the same file twice for a log of both).
_LAUNCHER = """
import os, subprocess, sys
out = open(sys.argv[1], "wb")
err = subprocess.STDOUT if sys.argv[2] == sys.argv[1] else open(sys.argv[2], "wb")
child = subprocess.Popen(sys.argv[3:], stdout=out, stderr=err)
_, status, usage = os.wait4(child.pid, 0)
print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def peak_memory(events: Path, database: Path, log: Path) -> tuple[float, float]:
    """Peak RSS in MB of `notifier ingest FILE --config ...` run as a child, and its seconds."""
    env = {**os.environ, "NOTIFIER_DATABASE_URL": _fresh_database(database)}
    command = [*_notifier_command(), "ingest", str(events), "--config", str(paths.example_config())]
    return _launch(command, env, log)


def checker_peak_memory(events: Path, log: Path) -> float:
    """Peak RSS in MB of the child that reads and checks the file for the CLI, run alone.

    The CLI's own peak (wait4) counts the larger of the two processes, not their sum;
    this is the other one. Its output, the checked lines, goes to /dev/null.
    """
    region = _settings("sqlite://").company.default_phone_region
    child = ["-m", "notifier.ingest.filecheck", str(events), "jsonl", "native", region, "0"]
    command = [sys.executable, *child]
    peak, _ = _launch(command, dict(os.environ), Path(os.devnull), errors=log)
    return peak


def _launch(
    command: list[str], env: dict[str, str], output: Path, errors: Path | None = None
) -> tuple[float, float]:
    """Run `command` through the launcher: its peak RSS in MB and its seconds."""
    started = time.perf_counter()
    launched = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, str(output), str(errors or output), *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )
    elapsed = time.perf_counter() - started
    if launched.returncode != 0:
        raise RuntimeError(f"the launcher failed: {launched.stderr[-2000:]}")
    peak_kib, returncode = (int(part) for part in launched.stdout.split())
    if returncode != 0:
        shown = errors or output
        tail = shown.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise RuntimeError(f"{' '.join(command)} exited {returncode}:\n{tail}")
    return peak_kib / 1024, elapsed  # Linux counts ru_maxrss in KiB


def _verdict(met: bool) -> str:
    return "ok" if met else "MISSED"


def throughput(workdir: Path, count: int, now: datetime) -> None:
    events = workdir / "events.jsonl"
    shipments = generate(events, count, now=now, seed=42)
    batch = _settings("sqlite://").ingest.batch_size
    ours_s = ours(events, workdir / "ours.db", now)
    ceiling_s, rows = ceiling(workdir / "ours.db", workdir / "ceiling.db", batch)
    if rows != count:
        raise RuntimeError(f"ours stored {rows} status_events rows, expected {count}")
    ours_rate, ceiling_rate = count / ours_s, count / ceiling_s
    ratio = ours_rate / ceiling_rate
    size = events.stat().st_size / 1e6
    print(
        f"ingest {count:,} events: ours {ours_rate:,.0f} ev/s, ceiling {ceiling_rate:,.0f} rows/s, "
        f"ratio {ratio:.2f} (target >= {TARGET_RATIO:.2f}) {_verdict(ratio >= TARGET_RATIO)}"
    )
    record(
        "ingest", f"{count:,} events", ours=ours_rate, ceiling=ceiling_rate, unit="events/s",
        ratio=ratio, target=f">= {TARGET_RATIO:.2f}", met=ratio >= TARGET_RATIO,
    )  # fmt: skip
    print(f"  input    {size:.0f} MB of JSON Lines, {shipments:,} shipments, batches of {batch}")
    print(f"  ours     {ours_s:6.1f} s  FileImport.ingest_files, as `notifier ingest` runs it")
    print(f"  ceiling  {ceiling_s:6.1f} s  the same status_events rows, Core executemany")
    for name in ("events.jsonl", "ours.db", "ceiling.db"):
        for leftover in workdir.glob(f"{name}*"):  # with SQLite's -wal and -shm
            leftover.unlink()


def memory(workdir: Path, count: int, now: datetime) -> None:
    events = workdir / "big.jsonl"
    generate(events, count, now=now, seed=7)
    size = events.stat().st_size / 1e6
    peak, seconds = peak_memory(events, workdir / "memory.db", workdir / "cli.log")
    checker = checker_peak_memory(events, workdir / "checker.log")
    total = peak + checker
    print(
        f"ingest {count:,} events with the CLI: peak RSS {total:,.0f} MB in all "
        f"(target < {TARGET_PEAK_MB}) {_verdict(total < TARGET_PEAK_MB)}"
    )
    print(f"  input    {size:.0f} MB of JSON Lines")
    print(f"  peaks    {peak:,.0f} MB storing (the CLI), {checker:,.0f} MB checking (its child)")
    print(f"  run      {seconds:6.1f} s, {count / seconds:,.0f} events/s with start-up")


def main(quick: bool) -> None:
    sizes = QUICK if quick else FULL
    # Events are dated just before the real clock, so the CLI, which reads it, takes them all.
    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="notifier-bench-") as tmp:
        throughput(Path(tmp), sizes.throughput, now)
        memory(Path(tmp), sizes.memory, now)
