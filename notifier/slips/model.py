"""What a slip says and how slips are laid out: plain data, shared by every way a slip is made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from notifier.rendering.context import ParcelFacts

Layout = Literal["a6", "a4x4"]
# missed: after a missed delivery; route: a route pack's, printed before the round and
# filled in by the driver at the door; final: a held parcel's last notice before it goes
# back to its sender (design section 8). Each has its own wording file per language.
SlipKind = Literal["missed", "route", "final"]


@dataclass(frozen=True, slots=True)
class Slip:
    """One slip to print."""

    # A missed slip's: status DELIVERY_ATTEMPTED; rebooking_url and short_code usually set.
    facts: ParcelFacts
    locale: str  # the recipient's language, printed first
    second_locale: str | None = None  # an optional second block; skipped when equal to locale
    kind: SlipKind = "missed"
    # A route slip's day: printed, so that the driver writes the time only.
    round_day: date | None = None
