"""The inbox folder: event files dropped by depot systems, each claimed, ingested once and filed.

Several workers, on one machine or several sharing the folder, may watch it at once. A
file belongs to whoever renames it into `processing/` first: a rename within one folder
is atomic, so the loser simply finds it gone. Each watched folder (the inbox for native
events, and `inbox/<aggregator>/` for that aggregator's payloads) has its own
`processing/`, `done/` and `rejected/`, so every rename stays on one filesystem.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Engine

from notifier.carriers import NATIVE, PARSERS, parser_for
from notifier.config import Settings
from notifier.db.faults import is_database_fault
from notifier.errors import InputFormatError
from notifier.ingest.batches import Summary, store_checked
from notifier.ingest.checking import Checked, Incoming, ItemResult, Outcome, check_payload
from notifier.ingest.files import FileFormat, InputFormat, read_records

PROCESSING, DONE, REJECTED = "processing", "done", "rejected"
MARKER = ".done"
REPORT = ".report.json"
_NATIVE_SUFFIXES = {".jsonl": FileFormat.JSONL, ".ndjson": FileFormat.JSONL, ".csv": FileFormat.CSV}
_AGGREGATOR_SUFFIXES = (".json", ".jsonl", ".ndjson")
# What copy tools and editors leave while they write: never a finished export.
_UNFINISHED = frozenset({".tmp", ".part", ".partial", ".crdownload", ".swp"})
# A claim left in processing/ this long is a dead worker's: any worker takes it again.
# Far longer than any file takes to ingest; a second ingest of the same lines is safe
# anyway, since events are deduplicated by (source, event_id): it only costs the time.
RECLAIM_AFTER = timedelta(hours=1)
# Claiming adds 30 characters to a name and filing up to 20: within the usual 255 bytes.
MAX_NAME_BYTES = 200
# A report lists at most this many refused lines (its counts are always complete).
MAX_LISTED_LINES = 10_000
_CLAIM = re.compile(r"^(?P<name>.+)\.(?P<stamp>\d{8}T\d{6}Z)-[0-9a-f]{12}$")


@dataclass(frozen=True, slots=True)
class _Look:
    """What a file looked like: a rewrite, an append or a replacement changes one of these."""

    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, stat: os.stat_result) -> _Look:
        return cls(stat.st_size, stat.st_mtime_ns, stat.st_ino)


@dataclass(slots=True)
class _Sighting:
    look: _Look
    since: datetime


@dataclass(frozen=True, slots=True)
class _Folder:
    path: Path
    parser: str  # a key of carriers.PARSERS

    def input_format(self, name: str) -> InputFormat | None:
        """How to read a file of this name here; None for a name that is no export."""
        lowered = name.lower()
        suffix = Path(lowered).suffix
        if name.startswith((".", "~")) or _UNFINISHED & set(Path(lowered).suffixes):
            return None
        if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            return None
        if self.parser == NATIVE:
            file_format = _NATIVE_SUFFIXES.get(suffix)
            return InputFormat(file_format) if file_format else None
        return InputFormat(FileFormat.JSON, self.parser) if suffix in _AGGREGATOR_SUFFIXES else None


@dataclass(frozen=True, slots=True)
class Filed:
    """A file ingested and moved to done/ or rejected/, with its report beside it."""

    name: str
    folder: str  # DONE or REJECTED
    filed_as: Path
    summary: Summary
    error: str | None = None


@dataclass(slots=True)
class InboxPass:
    filed: list[Filed] = field(default_factory=list)
    # Left in processing/ because the database could not serve: retried next pass.
    deferred: list[str] = field(default_factory=list)
    # Seen but not yet stable: looked at again next pass.
    waiting: int = 0


class Inbox:
    """One worker's watch over the inbox folder; `run_once` is one pass."""

    def __init__(self, *, root: Path, engine: Engine, settings: Settings) -> None:
        self.root = root
        self.engine = engine
        self.settings = settings
        self._seen: dict[Path, _Sighting] = {}
        # This worker's own claims the database failed under: retried at once next pass.
        self._retry: set[Path] = set()

    def run_once(self, now: datetime) -> InboxPass:
        """Take every file that is ready, one at a time (claiming them all first would
        starve the other workers); stop at the first database fault."""
        result = InboxPass()
        for folder in self._folders():
            if not self._pass_over(folder, now, result):
                break
        return result

    def _folders(self) -> list[_Folder]:
        folders = [_Folder(self.root, NATIVE)]
        for name in PARSERS:
            if name != NATIVE and (self.root / name).is_dir():
                folders.append(_Folder(self.root / name, name))
        for folder in folders:
            for sub in (PROCESSING, DONE, REJECTED):
                (folder.path / sub).mkdir(exist_ok=True)
        return folders

    def _pass_over(self, folder: _Folder, now: datetime, result: InboxPass) -> bool:
        """False when the database failed: the rest of the pass would fail the same way."""
        for reclaimed, name in _left_in_processing(folder, self._retry, now):
            if not self._take(folder, reclaimed, name, now, result):
                return False
        seen_now: set[Path] = set()
        for path, look in self._ready(folder, now, seen_now, result):
            claimed = self._claim(path, look, now)
            if claimed is None:
                continue
            path.with_name(path.name + MARKER).unlink(missing_ok=True)
            if not self._take(folder, claimed, path.name, now, result):
                return False
        for path in [p for p in self._seen if p.parent == folder.path and p not in seen_now]:
            del self._seen[path]
        return True

    def _ready(
        self, folder: _Folder, now: datetime, seen_now: set[Path], result: InboxPass
    ) -> Iterator[tuple[Path, _Look]]:
        """The folder's exports that are finished: marked done, or unchanged long enough.

        "Unchanged" is what this worker saw, and when by `now`; never a file's mtime
        against our clock, since a shared folder's times come from another machine's.
        """
        with os.scandir(folder.path) as entries:
            names = sorted(e.name for e in entries if e.is_file())
        present = set(names)
        for name in names:
            if folder.input_format(name) is None:
                continue
            path = folder.path / name
            try:
                look = _Look.of(path.stat())
            except FileNotFoundError:
                continue  # claimed by another worker since the listing
            seen_now.add(path)
            if name + MARKER in present and _marks(path.with_name(name + MARKER), look):
                yield path, look
                continue
            sighting = self._seen.get(path)
            if sighting is None or sighting.look != look:
                self._seen[path] = _Sighting(look, now)
                result.waiting += 1
            elif now - sighting.since >= self.settings.ingest.inbox_stable:
                yield path, look
            else:
                result.waiting += 1

    def _claim(self, path: Path, look: _Look, now: datetime) -> Path | None:
        """The file renamed into processing/ under a claim of ours; None when another
        worker was first, or it changed since it was judged finished."""
        self._seen.pop(path, None)
        try:
            if _Look.of(path.stat()) != look:
                return None
            claimed = _claim_path(path.parent, path.name, now)
            os.rename(path, claimed)
        except FileNotFoundError:
            return None
        return claimed

    def _take(
        self, folder: _Folder, claimed: Path, name: str, now: datetime, result: InboxPass
    ) -> bool:
        """Ingest and file a claimed file; False when the database failed under it."""
        fmt = folder.input_format(name)
        assert fmt is not None
        try:
            filed = self._ingest(folder, claimed, name, fmt, now)
        except Exception as exc:
            if not is_database_fault(exc):
                # A bug: the claim stays in processing/, taken again after RECLAIM_AFTER.
                raise
            # Never rejected/ for this: the file is fine and what it says is not lost.
            self._retry.add(claimed)
            result.deferred.append(name)
            return False
        if filed is not None:
            result.filed.append(filed)
        return True

    def _ingest(
        self, folder: _Folder, claimed: Path, name: str, fmt: InputFormat, now: datetime
    ) -> Filed | None:
        summary = Summary()
        refused: list[ItemResult] = []
        error = None
        try:
            with claimed.open("rb") as stream:
                for item in store_checked(
                    self.engine,
                    self._checked(stream, fmt, now),
                    settings=self.settings,
                    now=lambda: now,
                ):
                    summary.count(item)
                    if item.outcome in (Outcome.REJECTED, Outcome.CONFLICT):
                        refused.append(item)
        except InputFormatError as exc:
            error = str(exc)
        except OSError as exc:
            error = f"cannot read: {exc.strerror or type(exc).__name__}"
        ok = error is None and not refused
        report = _report(name, fmt, summary, refused, error, now)
        filed_as = _file(claimed, folder.path / (DONE if ok else REJECTED), name, report)
        if filed_as is None:
            return None
        return Filed(name, DONE if ok else REJECTED, filed_as, summary, error)

    def _checked(
        self, stream: BinaryIO, fmt: InputFormat, now: datetime
    ) -> Iterator[Checked | ItemResult]:
        region = self.settings.company.default_phone_region
        parser = parser_for(fmt.parser, local_timezone=self.settings.company.timezone)
        for record in read_records(stream, fmt.file_format):
            item = Incoming(record.line, record.payload, record.raw, record.error)
            yield from check_payload(item, parser=parser, default_region=region, now=now)


def _left_in_processing(
    folder: _Folder, retry: set[Path], now: datetime
) -> Iterator[tuple[Path, str]]:
    """Our own claims to retry, and claims a dead worker left, each claimed anew."""
    processing = folder.path / PROCESSING
    present = sorted(processing.iterdir())
    # Ours to retry, unless another worker took it as ours looked dead.
    retry -= {p for p in retry if p.parent == processing} - set(present)
    for path in present:
        match = _CLAIM.match(path.name)
        if match is None or folder.input_format(match["name"]) is None:
            continue
        stamp = datetime.strptime(match["stamp"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if path in retry or now - stamp >= RECLAIM_AFTER:
            retry.discard(path)
            claimed = _claim_path(folder.path, match["name"], now)
            try:
                os.rename(path, claimed)
            except FileNotFoundError:
                continue  # another worker took it again first
            yield claimed, match["name"]


def _marks(marker: Path, look: _Look) -> bool:
    """Whether `<name>.done` speaks for the file as it is now: a marker older than the
    file's last change was left by an earlier file of the same name."""
    try:
        return marker.stat().st_mtime_ns >= look.mtime_ns
    except FileNotFoundError:
        return False


def claim_name(name: str, now: datetime) -> str:
    """`name` as claimed: when (judging a dead worker's claim by it) and by whom, uniquely."""
    return f"{name}.{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}"


def _claim_path(folder: Path, name: str, now: datetime) -> Path:
    return folder / PROCESSING / claim_name(name, now)


def _report(
    name: str,
    fmt: InputFormat,
    summary: Summary,
    refused: list[ItemResult],
    error: str | None,
    now: datetime,
) -> dict[str, Any]:
    """What became of the file: counts, and each refused line's number and why (the
    field and reason, never the line itself: it holds names, phones and addresses)."""
    report: dict[str, Any] = {
        "file": name,
        "format": fmt.file_format.value,
        "parser": fmt.parser,
        "finished_at": now.astimezone(UTC).isoformat(),
        "stored": summary.stored,
        "duplicates": summary.duplicates,
        "conflicts": summary.conflicts,
        "rejected": summary.rejected,
        "unknown_statuses": summary.unknown_statuses,
    }
    if error is not None:
        report["error"] = error
    report["refused_lines"] = [
        {
            "line": item.position,
            "outcome": item.outcome.value,
            "event_id": item.event_id,
            "errors": [{"field": e.field, "reason": e.reason} for e in item.errors],
        }
        for item in refused[:MAX_LISTED_LINES]
    ]
    if len(refused) > MAX_LISTED_LINES:
        report["refused_lines_not_listed"] = len(refused) - MAX_LISTED_LINES
    return report


def _file(claimed: Path, folder: Path, name: str, report: dict[str, Any]) -> Path | None:
    """Move the claimed file to `folder` under its name (made unique: nothing there is
    ever overwritten) with its report beside it; None when another worker filed it."""
    stem, suffix = _split(name)
    text = json.dumps(report, ensure_ascii=False, indent=2) + "\n"
    number = 1
    while True:
        candidate = folder / (name if number == 1 else f"{stem}-{number}{suffix}")
        number += 1
        if candidate.exists():
            continue
        report_path = candidate.with_name(candidate.name + REPORT)
        try:
            # Creating the report exclusively reserves the name against another worker
            # filing a file of the same name at the same moment.
            handle = report_path.open("x", encoding="utf-8")
        except FileExistsError:
            continue
        # Written before the file moves: a file in done/ always has its whole report.
        with handle:
            handle.write(text)
        try:
            os.rename(claimed, candidate)
        except FileNotFoundError:
            # Reclaimed by another worker as ours looked dead (RECLAIM_AFTER): it files it.
            report_path.unlink(missing_ok=True)
            return None
        return candidate


def _split(name: str) -> tuple[str, str]:
    """`x.jsonl` -> (`x`, `.jsonl`): a second file `x.jsonl` is filed as `x-2.jsonl`."""
    suffix = Path(name).suffix
    return name[: len(name) - len(suffix)], suffix
