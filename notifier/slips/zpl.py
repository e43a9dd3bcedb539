"""Missed-delivery slips for the driver's label printer (design section 8): one ZPL II label.

The handheld prints it at the door, right after the attempt, on a Zebra-compatible mobile
printer: 2", 3" or 4" media at 203 or 300 dpi, continuous (receipt) paper whose length
the label sets (^LL). Everything is laid out here, in dots, so nothing depends on how a
printer wraps: lines are broken with font 0's widths (notifier.slips.font0) and each
paragraph is one ^FB field block with exactly those lines. Text is in the resident
scalable font 0 at the design's floor or above (key facts 14 pt, body 11 pt); the QR code
is the printer's own ^BQ (model 2, error correction Q), at least 25 mm wide with its
quiet zone of 4 modules on the paper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from jinja2 import Environment

from notifier.config import Settings
from notifier.config.settings import LabelPrinter
from notifier.errors import NotifierError
from notifier.rendering.environment import build_environment
from notifier.slips.font0 import NO_BREAK, printable, text_width, wrap
from notifier.slips.label_wording import Paragraph, Part, label_wording
from notifier.slips.model import Slip
from notifier.slips.qr import QUIET_ZONE, qr_side_modules

# Design section 8: key facts at least 14 pt, body text at least 11 pt; a code to read
# out or type (short code, tracking number) larger, 18 pt, or 16 pt where that keeps it
# on one line of narrow media.
KEY_PT = 14.0
BODY_PT = 11.0
CODE_PT = (18.0, 16.0)
QR_MIN_MM = 25.0  # design section 8: labels
QR_MAX_MAGNIFICATION = 10  # ^BQ's own limit
WIDTH_MM = (48.0, 104.0)  # 2" to 4" media, printable width
DPIS = (203, 300)

# Left and right of the text, inside the printable width: the paper is wider still
# (2" paper is 50.8 mm for 48 mm of print), so this is a margin on top of the paper's own.
_MARGIN_MM = 1.0
_TOP_MM = 2.0
_BOTTOM_MM = 5.0  # the tear bar is just past the last printed line
_PART_GAP_MM = 2.5
_BESIDE_MIN_MM = 40.0  # text beside the QR code only in a column at least this wide
# Zebra printers draw ^BQ a little below its ^FO (by the ^BY bar height, 10 dots by
# default); the layout leaves that much more room under the code.
_QR_SHIFT_DOTS = 10


class LabelMediaError(NotifierError, ValueError):
    """The label printer's media cannot hold a slip."""


@dataclass(frozen=True, slots=True)
class Media:
    width_mm: float
    dpi: int

    def dots(self, mm: float) -> int:
        return round(mm * self.dpi / 25.4)

    def font(self, pt: float) -> int:
        """Character height in dots for a size in points (1 pt = 1/72 inch), rounded up."""
        return math.ceil(pt * self.dpi / 72 - 1e-9)

    @property
    def width(self) -> int:
        return math.floor(self.width_mm * self.dpi / 25.4)


def label_printer_for(settings: Settings, depot_code: str | None) -> LabelPrinter:
    """The depot's own label printer settings, else the company's default."""
    depot = next((d for d in settings.depots if d.code == depot_code), None)
    if depot is not None and depot.label_printer is not None:
        return depot.label_printer
    return settings.slips.label_printer


def render_slip_zpl(
    slip: Slip,
    *,
    settings: Settings,
    width_mm: float,
    dpi: int,
    now: datetime,
    env: Environment | None = None,
) -> str:
    """One ZPL II label (^XA ... ^XZ) for media `width_mm` wide (printable) at `dpi`.

    `env` is the one Jinja environment, where the caller has it (the web app does);
    else one is built from `settings`.
    """
    if not WIDTH_MM[0] <= width_mm <= WIDTH_MM[1] or dpi not in DPIS:
        raise LabelMediaError(f"no slip on {width_mm:g} mm at {dpi} dpi: 48-104 mm, 203/300 dpi")
    media = Media(width_mm, dpi)
    blocks = label_wording(slip, settings=settings, env=env or build_environment(settings), now=now)
    label = _Label(media, y=media.dots(_TOP_MM))
    url = slip.facts.rebooking_url
    for index, block in enumerate(blocks):
        if index:
            label.rule()
        for part in block.parts:
            if part.name == "act" and url and index == 0:
                label.act(part, url=url, qr_size_mm=settings.slips.qr_size_mm)
            else:
                label.part(part)
    length = label.y - media.dots(_PART_GAP_MM) + media.dots(_BOTTOM_MM)
    header = ["^XA", "^CI28", f"^PW{media.width}", f"^LL{length}", "^LH0,0"]
    return "\n".join([*header, *label.commands, "^XZ"]) + "\n"


def qr_magnification(url: str, *, media: Media, target_mm: float) -> int:
    """Dots per module: the QR code at least 25 mm wide and, with its quiet zone, as big
    as the PDF slip's (`target_mm`) where the media is wide enough."""
    modules = qr_side_modules(url)
    least = math.ceil(QR_MIN_MM * media.dpi / 25.4 / modules)  # never rounded below 25 mm
    wanted = max(least, math.ceil(media.dots(target_mm) / (modules + 2 * QUIET_ZONE)))
    fits = min(media.width // (modules + 2 * QUIET_ZONE), QR_MAX_MAGNIFICATION)
    if fits < least:
        raise LabelMediaError(
            f"a {modules}-module QR code cannot be {QR_MIN_MM:g} mm wide on "
            f"{media.width_mm:g} mm at {media.dpi} dpi"
        )
    return min(wanted, fits)


def field_data(text: str) -> str:
    """Printable text as ^FH field data: ^ and ~ would start a command, _ an escape."""
    escaped = text.replace("_", "_5F").replace("^", "_5E").replace("~", "_7E")
    return escaped.replace(NO_BREAK, " ")


@dataclass(slots=True)
class _Label:
    """The label's fields so far, and how far down it is filled."""

    media: Media
    y: int
    commands: list[str] = field(default_factory=list)

    @property
    def left(self) -> int:
        return self.media.dots(_MARGIN_MM)

    @property
    def right(self) -> int:
        return self.media.width - self.media.dots(_MARGIN_MM)

    def part(self, part: Part) -> None:
        self.y = self.paragraphs(part.paragraphs, x=self.left, y=self.y)
        self.y += self.media.dots(_PART_GAP_MM)

    def act(self, part: Part, *, url: str, qr_size_mm: float) -> None:
        """The QR code, and the words that explain it beside it where there is room."""
        media = self.media
        magnification = qr_magnification(url, media=media, target_mm=qr_size_mm)
        quiet = QUIET_ZONE * magnification
        side = qr_side_modules(url) * magnification
        x = max(self.left, quiet)
        top = self.y + max(0, quiet - media.dots(_PART_GAP_MM))
        self.commands.append(f"^FO{x},{top}^BQN,2,{magnification},Q^FH^FDQA,{field_data(url)}^FS")
        below = top + side + _QR_SHIFT_DOTS + quiet
        beside = x + side + quiet
        if self.right - beside >= media.dots(_BESIDE_MIN_MM):
            text_bottom = self.paragraphs(part.paragraphs, x=beside, y=top)
            self.y = max(below, text_bottom + media.dots(_PART_GAP_MM))
        else:
            self.y = self.paragraphs(part.paragraphs, x=self.left, y=below)
            self.y += media.dots(_PART_GAP_MM)

    def rule(self) -> None:
        """A line across, between two language blocks."""
        thickness = self.media.dots(0.4)
        width = self.right - self.left
        self.commands.append(f"^FO{self.left},{self.y}^GB{width},{thickness},{thickness}^FS")
        self.y += thickness + self.media.dots(_PART_GAP_MM)

    def paragraphs(self, paragraphs: tuple[Paragraph, ...], *, x: int, y: int) -> int:
        """Lay the paragraphs out from (x, y), one under the other: where they end."""
        gap = round(self.media.font(BODY_PT) * 0.3)
        for index, paragraph in enumerate(paragraphs):
            if index:
                y += gap
            y = self.text(printable(paragraph.text), role=paragraph.role, x=x, y=y)
        return y

    def text(self, text: str, *, role: str, x: int, y: int) -> int:
        width = self.right - x
        height = self._height(text, role=role, width=width)
        lines = wrap(text, height=height, width=width)
        if not lines:
            return y
        spacing = round(height * 0.15)
        data = r"\&".join(field_data(line) for line in lines)
        self.commands.append(
            f"^FO{x},{y}^A0N,{height},{height}^FB{width},{len(lines)},{spacing},L,0^FH^FD{data}^FS"
        )
        return y + len(lines) * height + (len(lines) - 1) * spacing

    def _height(self, text: str, *, role: str, width: int) -> int:
        if role == "body":
            return self.media.font(BODY_PT)
        if role == "key":
            return self.media.font(KEY_PT)
        sizes = [self.media.font(pt) for pt in CODE_PT]
        return next((h for h in sizes if text_width(text, height=h) <= width), sizes[0])
