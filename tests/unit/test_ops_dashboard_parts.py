"""The dashboard's pure parts: company days across the clock changes, the nearest-rank
percentile, durations in words, and charts whose every text is escaped and told in words."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from xml.etree import ElementTree

import pytest

from notifier.ops.charts import bar_chart, line_chart
from notifier.ops.dashboard import duration_text, percentile
from notifier.ops.dashboard_store import window
from tests.conftest import make_settings

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("last", "hours"),
    [
        (date(2026, 3, 29), [24] * 6 + [23]),
        (date(2026, 10, 25), [24] * 6 + [25]),
        (date(2026, 11, 24), [24] * 7),
    ],
    ids=["spring-forward", "fall-back", "november"],
)
def test_a_window_is_company_days_with_their_own_hours(last: date, hours: list[int]) -> None:
    run = window(last, days=7, settings=make_settings("sqlite://"))
    assert run.days == tuple(last - timedelta(days=n) for n in range(6, -1, -1))
    spans = [(b - a) / timedelta(hours=1) for a, b in zip(run.bounds, run.bounds[1:], strict=False)]
    assert spans == hours
    end = run.bounds[-1]
    assert run.index(end - timedelta(microseconds=1)) == 6
    assert run.index(end) is None
    assert run.index(run.bounds[0]) == 0
    assert run.index(run.bounds[0] - timedelta(microseconds=1)) is None
    assert all(b.tzinfo is UTC for b in run.bounds)


@pytest.mark.parametrize(
    ("values", "share", "expected"),
    [
        ([], 0.5, None),
        ([7.0], 0.95, 7.0),
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.0),
        ([4.0, 3.0, 2.0, 1.0], 0.95, 4.0),
        ([float(n) for n in range(1, 101)], 0.95, 95.0),
        ([float(n) for n in range(1, 21)], 0.5, 10.0),
    ],
)
def test_percentile_is_the_nearest_rank(
    values: list[float], share: float, expected: float | None
) -> None:
    assert percentile(values, share) == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "–"), (0.4, "0 s"), (59.4, "59 s"), (60, "1 min"), (185, "3 min 5 s"), (3600, "1 h")],
)
def test_durations_read_as_words(seconds: float | None, text: str) -> None:
    assert duration_text(seconds) == text


def test_a_bar_chart_is_an_image_named_and_described_with_escaped_text() -> None:
    svg = bar_chart(key="k", title="Events <in>", labels=["Mon 1", "<b>"], values=[3, 0])
    root = ElementTree.fromstring(str(svg))  # well-formed XML: nothing unescaped
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "k-title k-desc"
    assert root.find(f"{SVG}title").text == "Events <in>"  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").text == "Mon 1: 3; <b>: 0"  # type: ignore[union-attr]
    assert len(root.findall(f"{SVG}rect")) == 2
    assert "script" not in str(svg)


def test_a_line_chart_breaks_where_a_day_has_no_value() -> None:
    svg = line_chart(
        key="l",
        title="Times",
        labels=["a", "b", "c", "d"],
        series=(("p50", [1.0, 2.0, None, 4.0]), ("p95", [2.0, 3.0, None, 8.0])),
        format_value=duration_text,
    )
    root = ElementTree.fromstring(str(svg))
    # One segment a-b for each series; d stands alone (a marker, no line).
    assert len(root.findall(f"{SVG}polyline")) == 2
    assert root.find(f"{SVG}desc").text == (  # type: ignore[union-attr]
        "p50: a 1 s; b 2 s; c –; d 4 s. p95: a 2 s; b 3 s; c –; d 8 s"
    )
