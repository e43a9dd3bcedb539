"""A slip's template context, per language block: the one the PDF and the label both print.

Kept apart from notifier.slips.pdf, which loads WeasyPrint (slow to import): the label
code and the template check build the same context without it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from notifier.config import Settings
from notifier.locales import day_long, language_for, parse_language
from notifier.rendering.context import build_context
from notifier.slips.model import Slip


def slip_locales(slip: Slip, settings: Settings) -> list[str]:
    """The slip's language blocks, the recipient's first; a second equal to it is skipped."""
    first = language_for(slip.locale, settings.company.default_locale)
    second = parse_language(slip.second_locale)
    return [first, second] if second is not None and second != first else [first]


def slip_context(slip: Slip, *, settings: Settings, locale: str, now: datetime) -> dict[str, Any]:
    """The message context plus the slip's own variables (templates/README.md, "Slips")."""
    facts = slip.facts
    context = build_context(facts, settings=settings, locale=locale, now=now)
    code = facts.short_code or ""
    context.update(
        short_code_grouped=" ".join(code[i : i + 4] for i in range(0, len(code), 4)),
        entry_text=_without_scheme(context["rebooking_entry"]),
        link_text=_without_scheme(facts.rebooking_url or ""),
        domain=urlsplit(context["company"]["website"]).hostname or context["company"]["website"],
        round_day=day_long(slip.round_day, locale) if slip.round_day else None,
    )
    return context


def _without_scheme(url: str) -> str:
    """'https://rapido.example/r' -> 'rapido.example/r': shorter to read and to type."""
    return url.split("://", 1)[-1].rstrip("/")
