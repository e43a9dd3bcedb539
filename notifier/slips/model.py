"""What a slip says and how slips are laid out: plain data, shared by every way a slip is made."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from notifier.rendering.context import ParcelFacts

Layout = Literal["a6", "a4x4"]


@dataclass(frozen=True, slots=True)
class Slip:
    """One missed delivery to print."""

    facts: ParcelFacts  # status DELIVERY_ATTEMPTED; rebooking_url and short_code usually set
    locale: str  # the recipient's language, printed first
    second_locale: str | None = None  # an optional second block; skipped when equal to locale
