"""Every figure of a `make bench` run, with its ceiling, in one table (Markdown and JSON).

Suites print as they go and call `record` for each figure; `python -m benchmarks` writes
the table when the run ends (`--table PREFIX`: PREFIX.md and PREFIX.json).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Figure:
    suite: str
    what: str
    ours: float
    ceiling: float
    unit: str
    ratio: float
    target: str  # e.g. ">= 0.50", "<= 1.50", "" when there is none
    met: bool | None


FIGURES: list[Figure] = []


def record(
    suite: str,
    what: str,
    *,
    ours: float,
    ceiling: float,
    unit: str,
    ratio: float,
    target: str = "",
    met: bool | None = None,
) -> None:
    FIGURES.append(Figure(suite, what, ours, ceiling, unit, ratio, target, met))


def write(prefix: Path) -> tuple[Path, Path]:
    """PREFIX.md and PREFIX.json with every figure recorded so far."""
    rows = [
        "| suite | figure | ours | ceiling | unit | ratio | target | met |",
        "| --- | --- | ---: | ---: | --- | ---: | --- | --- |",
    ]
    for f in FIGURES:
        met = "" if f.met is None else ("yes" if f.met else "MISSED")
        rows.append(
            f"| {f.suite} | {f.what} | {f.ours:,.2f} | {f.ceiling:,.2f} | {f.unit} | "
            f"{f.ratio:.2f} | {f.target} | {met} |"
        )
    markdown = prefix.with_suffix(".md")
    markdown.write_text("\n".join(rows) + "\n", encoding="utf-8")
    data = prefix.with_suffix(".json")
    data.write_text(json.dumps([asdict(f) for f in FIGURES], indent=2) + "\n", encoding="utf-8")
    return markdown, data
