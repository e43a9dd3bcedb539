"""The dashboard's charts as inline SVG, drawn by hand: a few bars, two lines.

Why by hand and not a plotting library: the charts are seven bars or two seven-point
lines, which is forty lines of SVG; a library (matplotlib, pygal) would add a large
dependency, its own fonts and styles, and markup we could not promise accessible. Drawn
here, each chart is a `role="img"` with a <title> and a <desc> that says every number,
the page puts a table of the same numbers next to it, it uses black, grey and dashes
only (so it reads printed in black and white), no script, no external asset, and it
scales with its container (viewBox) from a phone to a sheet of paper.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 320, 150
LEFT, RIGHT, TOP, BOTTOM = 8, 312, 26, 122  # the plot area
INK, GREY = "#111", "#555"


def _number(value: float) -> str:
    return f"{value:g}"


def _open(key: str, title: str, desc: str) -> list[str]:
    return [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{key}-title {key}-desc" id="{key}">',
        f'<title id="{key}-title">{escape(title)}</title>',
        f'<desc id="{key}-desc">{escape(desc)}</desc>',
    ]


def _axis_labels(labels: Sequence[str], centre: Callable[[int], float]) -> list[str]:
    return [
        f'<text x="{centre(at):.1f}" y="{BOTTOM + 16}" text-anchor="middle" font-size="11" '
        f'fill="{INK}">{escape(label)}</text>'
        for at, label in enumerate(labels)
    ]


def _baseline() -> str:
    return f'<line x1="{LEFT}" y1="{BOTTOM}" x2="{RIGHT}" y2="{BOTTOM}" stroke="{INK}"/>'


def bar_chart(*, key: str, title: str, labels: Sequence[str], values: Sequence[int]) -> Markup:
    """One bar per label, its number above it; an empty run draws a flat baseline."""
    desc = "; ".join(f"{label}: {value}" for label, value in zip(labels, values, strict=True))
    parts = _open(key, title, desc)
    top = max(values, default=0) or 1
    step = (RIGHT - LEFT) / max(len(values), 1)
    width = step * 0.6

    def centre(at: int) -> float:
        return LEFT + step * (at + 0.5)

    for at, value in enumerate(values):
        height = (BOTTOM - TOP) * value / top
        parts.append(
            f'<rect x="{centre(at) - width / 2:.1f}" y="{BOTTOM - height:.1f}" '
            f'width="{width:.1f}" height="{height:.1f}" fill="{GREY}"/>'
        )
        parts.append(
            f'<text x="{centre(at):.1f}" y="{BOTTOM - height - 4:.1f}" text-anchor="middle" '
            f'font-size="11" fill="{INK}">{value}</text>'
        )
    parts += [_baseline(), *_axis_labels(labels, centre), "</svg>"]
    return Markup("".join(parts))  # noqa: S704  every text in it went through escape()


# Told apart without colour: a solid line with dots, a dashed one with squares.
_STYLES = (("", "circle"), ("6 4", "square"))


def line_chart(
    *,
    key: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    format_value: Callable[[float | None], str] = lambda v: "–" if v is None else _number(v),
) -> Markup:
    """One line per series (at most two), broken where a day has no value; the top of the
    scale is written at the top left, and a legend names each line."""
    desc = ". ".join(
        f"{name}: "
        + "; ".join(f"{label} {format_value(v)}" for label, v in zip(labels, values, strict=True))
        for name, values in series
    )
    parts = _open(key, title, desc)
    known = [v for _, values in series for v in values if v is not None]
    top = max(known, default=0.0) or 1.0
    step = (RIGHT - LEFT) / max(len(labels), 1)

    def centre(at: int) -> float:
        return LEFT + step * (at + 0.5)

    def y(value: float) -> float:
        return BOTTOM - (BOTTOM - TOP) * value / top

    parts.append(
        f'<text x="{LEFT}" y="{TOP - 6}" font-size="11" fill="{INK}">'
        f"top: {escape(format_value(top if known else None))}</text>"
    )
    for (name, values), (dashes, marker) in zip(series, _STYLES, strict=False):
        dash = f' stroke-dasharray="{dashes}"' if dashes else ""
        run: list[str] = []
        for at, value in [*enumerate(values), (len(values), None)]:
            if value is None:
                if len(run) > 1:
                    parts.append(
                        f'<polyline points="{" ".join(run)}" fill="none" stroke="{INK}" '
                        f'stroke-width="2"{dash}/>'
                    )
                run = []
                continue
            run.append(f"{centre(at):.1f},{y(value):.1f}")
            parts.append(_marker(marker, centre(at), y(value)))
        legend_x = RIGHT - 120 + 60 * _STYLES.index((dashes, marker))
        parts += [
            f'<line x1="{legend_x}" y1="{TOP - 10}" x2="{legend_x + 18}" y2="{TOP - 10}" '
            f'stroke="{INK}" stroke-width="2"{dash}/>',
            _marker(marker, legend_x + 9, TOP - 10),
            f'<text x="{legend_x + 22}" y="{TOP - 6}" font-size="11" fill="{INK}">'
            f"{escape(name)}</text>",
        ]
    parts += [_baseline(), *_axis_labels(labels, centre), "</svg>"]
    return Markup("".join(parts))  # noqa: S704  every text in it went through escape()


def _marker(shape: str, x: float, y: float) -> str:
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{INK}"/>'
    return (
        f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" '
        f'fill="none" stroke="{INK}"/>'
    )
