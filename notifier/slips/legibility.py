"""How big slips print: the smallest key-fact and body text of each, from WeasyPrint's layout.

Design section 8 sets the floor: key facts at least 14 pt, body text at least 11 pt. The
templates mark key facts with the class "key" (templates/README.md); every other piece of
text on a slip is body text. Sizes are read from the laid-out pages, so ops' own CSS and
templates are measured as they print, not as they were meant.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from notifier.config import Settings
from notifier.slips.model import Slip
from notifier.slips.pdf import layout_slips

KEY_FLOOR_PT = 14.0
BODY_FLOOR_PT = 11.0
KEY_CLASS = "key"

# WeasyPrint lays out in CSS pixels: 96 to the inch, 72 points.
_PT_PER_PX = 72 / 96


@dataclass(frozen=True, slots=True)
class SlipSizes:
    """One slip's smallest printed text; 0.0 when it has no text of that kind."""

    tracking_number: str
    locales: tuple[str, ...]  # the slip's language blocks, recipient's first
    key_pt: float  # smallest key-fact text on the slip
    body_pt: float  # smallest body text on the slip
    pages: int  # A6 pages the slip takes


def measure_slips(slips: Sequence[Slip], *, settings: Settings, now: datetime) -> list[SlipSizes]:
    """Lay the slips out on A6 pages, in one go, and measure each one's smallest text."""
    measured = []
    for laid in layout_slips(slips, settings=settings, now=now):
        key: list[float] = []
        body: list[float] = []
        for page in laid.pages:
            # Page boxes are WeasyPrint's own layout: no public API walks them.
            for size, is_key in _text_sizes(page._page_box, key=False):
                (key if is_key else body).append(size)
        measured.append(
            SlipSizes(
                tracking_number=laid.slip.facts.tracking_number,
                locales=laid.locales,
                key_pt=_smallest(key),
                body_pt=_smallest(body),
                pages=len(laid.pages),
            )
        )
    return measured


def below_floor(sizes: SlipSizes) -> list[str]:
    """What is too small on the slip, in words; empty when it is legible."""
    breaches = []
    for kind, size, floor in (
        ("key facts", sizes.key_pt, KEY_FLOOR_PT),
        ("body text", sizes.body_pt, BODY_FLOOR_PT),
    ):
        if size == 0.0:
            if kind == "key facts":
                breaches.append(f'{sizes.tracking_number}: no key facts (class "{KEY_CLASS}")')
        elif size < floor:
            breaches.append(
                f"{sizes.tracking_number}: {kind} at {size:g} pt, below the {floor:g} pt floor"
            )
    return breaches


def _text_sizes(box: Any, *, key: bool) -> Iterator[tuple[float, bool]]:
    """(size in pt, is a key fact) of every visible piece of text under `box`."""
    element = getattr(box, "element", None)
    if element is not None and KEY_CLASS in (element.get("class") or "").split():
        key = True
    text = getattr(box, "text", None)
    if text and text.strip() and box.style["visibility"] == "visible":
        yield box.style["font_size"] * _PT_PER_PX, key
    for child in getattr(box, "children", ()):
        yield from _text_sizes(child, key=key)


def _smallest(sizes: list[float]) -> float:
    # Rounded: 14pt is 18.666... px, and back in points 13.999999999999998.
    return round(min(sizes), 2) if sizes else 0.0
