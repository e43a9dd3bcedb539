"""Importing event files: streaming them through ingest, progress, summary, rejected-line report."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
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

from notifier.config import Settings
from notifier.errors import InputFormatError
from notifier.eventfiles import FileFormat, detect_format, read_records
from notifier.ingest import Incoming, ItemResult, Outcome, Summary, ingest

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
            f"stored {s.stored}, duplicates {s.duplicates}, rejected {s.rejected}, "
            f"unknown statuses {s.unknown_statuses}"
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
        return self.summary.rejected == 0 and self.failed_files == 0

    def _ingest_file(self, path: Path, file_format: str | None, writer: Any) -> None:
        try:
            fmt = FileFormat(file_format) if file_format else detect_format(path)
            stream = path.open("rb")
        except (InputFormatError, ValueError, OSError) as exc:
            self.failed_files += 1
            self.console.print(f"{path}: cannot read: {exc}", soft_wrap=True)
            return
        with stream, self._progress(path, stream) as advance:
            try:
                for result in ingest(
                    self.engine,
                    self._incoming(stream, fmt, advance),
                    settings=self.settings,
                    now=self.now,
                ):
                    self.summary.count(result)
                    if result.outcome is Outcome.REJECTED:
                        self._reject(path, result, writer)
            except InputFormatError as exc:
                self.failed_files += 1
                self.console.print(f"{path}: {exc}", soft_wrap=True)

    def _incoming(
        self, stream: BinaryIO, fmt: FileFormat, advance: Callable[[], None]
    ) -> Iterator[Incoming]:
        for record in read_records(stream, fmt):
            advance()
            yield Incoming(record.line, record.payload, record.raw, record.error)

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

    def __enter__(self) -> Callable[[], None]:
        if self.progress is not None:
            self.progress.start()
        return self.advance

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def advance(self) -> None:
        self.calls += 1
        # tell() on every line would cost more than the bar is worth.
        if self.progress is not None and self.task is not None and self.calls % 512 == 0:
            self.progress.update(self.task, completed=self.stream.tell())
