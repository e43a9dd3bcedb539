"""What a check found, where: `path[:line[:column]]: severity: message`, and the summary."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"  # listed with --verbose only


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in one template file; line and column (1-based) when they are known.

    `path` is relative to the template root the file came from (the override directory or
    the shipped templates), exactly as the template is named: `sms/en/created.txt`.
    """

    path: str
    line: int | None
    column: int | None
    severity: Severity
    message: str
    sample: str | None = None  # the first sample it happened with

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        said = f"{where}: {self.severity}: {self.message}"
        return f"{said} (sample: {self.sample})" if self.sample else said


@dataclass(slots=True)
class Report:
    """Findings in the order found, each reported once however many samples hit it."""

    findings: list[Finding] = field(default_factory=list)
    samples: int = 0  # renderings done
    files: set[str] = field(default_factory=set)  # template files looked at
    _seen: set[tuple[str, int | None, int | None, str]] = field(default_factory=set)
    _undefined: set[tuple[str, int | None, int | None]] = field(default_factory=set)

    def add(self, finding: Finding) -> None:
        key = (finding.path, finding.line, finding.column, finding.message)
        if key in self._seen:
            return
        if finding.message.startswith("undefined"):
            # A name the syntax tree shows undefined fails a rendering at the same place,
            # where Jinja words it its own way ("of dict object"): one finding says it.
            place = key[:3]
            if finding.sample is not None and place in self._undefined:
                return
            self._undefined.add(place)
        self._seen.add(key)
        self.findings.append(finding)

    def extend(self, findings: Iterable[Finding]) -> None:
        for finding in findings:
            self.add(finding)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def failed(self) -> bool:
        return self.count(Severity.ERROR) > 0

    def lines(self, *, verbose: bool = False) -> list[str]:
        shown = [f for f in self.findings if verbose or f.severity != Severity.INFO]
        order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
        ranked = sorted(shown, key=lambda f: (order[f.severity], f.path, f.line or 0))
        return [str(f) for f in ranked]

    def summary(self) -> str:
        errors, warnings = self.count(Severity.ERROR), self.count(Severity.WARNING)
        return (
            f"{len(self.files)} template files, {self.samples} renderings: "
            f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
        )
