"""What a message says: the facts and the template context, in the recipient's language."""

from __future__ import annotations

from notifier.config import Settings

# Languages we ship templates for.
SHIPPED_LOCALES = ("it", "en")


def choose_locale(requested: str | None, settings: Settings) -> str:
    """The recipient's language when we speak it, else the company's default, else English."""
    for candidate in (requested, settings.company.default_locale):
        language = (candidate or "").replace("_", "-").split("-")[0].lower()
        if language in SHIPPED_LOCALES:
            return language
    return "en"
