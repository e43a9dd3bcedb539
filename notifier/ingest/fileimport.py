"""Importing event files: streaming them through ingest, progress, summary, rejected-line report."""

from __future__ import annotations

import csv
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from sqlalchemy import Engine

from notifier.carriers import parser_for
from notifier.config import Settings
from notifier.errors import InputFormatError
from notifier.ingest.batches import Summary, store_checked
from notifier.ingest.checking import Checked, Incoming, ItemResult, Outcome, check_payload
from notifier.ingest.filecheck import checked_in_child, worth_a_process
from notifier.ingest.files import InputFormat, input_format, read_records

SHOWN_REJECTIONS = 50


class FileImport:
    """One `notifier ingest` run over one or more files."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        console: Console,
        report_path: Path | None,
        now: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.console = console
        self.report_path = report_path
        self.now = now
        self.summary = Summary()
        self.shown = 0
        self.failed_files = 0

    def summary_line(self) -> str:
        s = self.summary
        line = (
            f"stored {s.stored}, duplicates {s.duplicates}, conflicts {s.conflicts}, "
            f"rejected {s.rejected}, unknown statuses {s.unknown_statuses}"
        )
        if self.failed_files:
            line += f", unreadable files {self.failed_files}"
        return line

    def ingest_files(self, files: list[Path], file_format: str | None) -> bool:
        """Import every file; True when nothing at all was rejected or unreadable."""
        report: TextIO | None = None
        if self.report_path is not None:
            report = self.report_path.open("w", newline="", encoding="utf-8")
        try:
            writer = csv.writer(report) if report else None
            if writer:
                writer.writerow(["file", "line", "event_id", "field", "reason"])
            with _fewer_collections():
                for path in files:
                    self._ingest_file(path, file_format, writer)
                    if report:
                        report.flush()
        finally:
            if report:
                report.close()
        hidden = self.summary.rejected - self.shown
        if hidden > 0:
            where = f"all are in {self.report_path}" if self.report_path else "use --report FILE"
            self.console.print(f"... and {hidden} more rejected lines ({where})")
        s = self.summary
        return s.rejected == 0 and s.conflicts == 0 and self.failed_files == 0

    def _ingest_file(self, path: Path, file_format: str | None, writer: Any) -> None:
        try:
            fmt = input_format(file_format, path)
            stream = path.open("rb")
        except (InputFormatError, ValueError, OSError) as exc:
            self.failed_files += 1
            self.console.print(f"{path}: cannot read: {exc}", soft_wrap=True)
            return
        with stream, self._progress(path, stream) as bar:
            try:
                for result in store_checked(
                    self.engine,
                    self._checked(path, stream, fmt, bar),
                    settings=self.settings,
                    now=self.now,
                ):
                    self.summary.count(result)
                    if result.outcome in (Outcome.REJECTED, Outcome.CONFLICT):
                        self._reject(path, result, writer)
            except InputFormatError as exc:
                self.failed_files += 1
                self.console.print(f"{path}: {exc}", soft_wrap=True)

    def _checked(
        self, path: Path, stream: BinaryIO, fmt: InputFormat, bar: _ProgressBar
    ) -> Iterator[Checked | ItemResult]:
        region = self.settings.company.default_phone_region
        if worth_a_process(path):
            yield from checked_in_child(
                path,
                fmt.file_format,
                parser=fmt.parser,
                default_region=region,
                local_timezone=self.settings.company.timezone,
                now=self.now,
                progress=bar.at,
            )
            return
        parser = parser_for(fmt.parser, local_timezone=self.settings.company.timezone)
        for record in read_records(stream, fmt.file_format):
            bar.advance()
            item = Incoming(record.line, record.payload, record.raw, record.error)
            yield from check_payload(item, parser=parser, default_region=region, now=self.now())

    def _reject(self, path: Path, result: ItemResult, writer: Any) -> None:
        for error in result.errors:
            if writer is not None:
                row = [path, result.position, result.event_id or "", error.field, error.reason]
                writer.writerow(row)
        if self.shown < SHOWN_REJECTIONS:
            self.shown += 1
            reasons = "; ".join(str(e) for e in result.errors)
            self.console.print(f"{path}:{result.position}: {reasons}", soft_wrap=True, markup=False)

    def _progress(self, path: Path, stream: BinaryIO) -> _ProgressBar:
        return _ProgressBar(self.console, path, stream)


# An import allocates millions of short-lived objects and hardly any reference cycles,
# while the contact caches and SQLAlchemy's metadata are large and long-lived. At the
# default threshold (700 allocations) the collector ran thousands of times a minute,
# walking those caches each time it reached the oldest generation: an eighth of the
# import's time. Every 50,000 allocations still collects what few cycles there are.
IMPORT_GC_THRESHOLD = 50_000


@contextmanager
def _fewer_collections() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(IMPORT_GC_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


class _ProgressBar:
    """A byte-based bar on a terminal; nothing at all when output is piped or logged."""

    def __init__(self, console: Console, path: Path, stream: BinaryIO) -> None:
        self.stream = stream
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.calls = 0
        if console.is_terminal:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            size = path.stat().st_size if path.is_file() else None
            self.task = self.progress.add_task(path.name, total=size)

    def __enter__(self) -> _ProgressBar:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def advance(self) -> None:
        self.calls += 1
        # tell() on every line would cost more than the bar is worth.
        if self.progress is not None and self.task is not None and self.calls % 512 == 0:
            self.progress.update(self.task, completed=self.stream.tell())

    def at(self, read: int) -> None:
        """`read` bytes of the file are done (when another process reads it)."""
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, completed=read)
