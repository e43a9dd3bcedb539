"""The one locale rule: which languages notifier speaks, and how a requested tag maps to one.

Every writer of an outbox row, a page and a slip takes its language from `language_for`,
so a recipient's `fr` or `en-GB` can never reach a template lookup that has no such file.
Dates in words live here too, so a day reads the same in a message, a page and a slip.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from functools import lru_cache

from babel.dates import format_date


class Language(StrEnum):
    """A language we ship templates for."""

    IT = "it"
    EN = "en"


SHIPPED_LANGUAGES: tuple[Language, ...] = tuple(Language)
# The last resort when neither the recipient's tag nor the company's default is shipped.
FALLBACK = Language.EN
# Each language named in itself, for a language switch.
LANGUAGE_NAMES = {Language.IT: "Italiano", Language.EN: "English"}
_BY_PRIMARY = {language.value: language for language in Language}


def parse_language(tag: str | None) -> Language | None:
    """The shipped language of a tag ('en-GB', 'it_IT', 'EN'), or None when we lack it."""
    primary = (tag or "").strip().replace("_", "-").split("-")[0].lower()
    return _BY_PRIMARY.get(primary)


def language_for(requested: str | None, default: str | None) -> Language:
    """The recipient's language when we speak it, else the company's default, else English."""
    return parse_language(requested) or parse_language(default) or FALLBACK


# Dates repeat across a tick's messages and a page's views; Babel's formatting is the
# dearest part of building a message's context.
@lru_cache(maxsize=4096)
def day_long(day: date, language: str) -> str:
    """'martedì 24 novembre', 'Tuesday 24 November'."""
    return format_date(day, "EEEE d MMMM", locale=language)


@lru_cache(maxsize=4096)
def day_short(day: date, language: str) -> str:
    """'mar 24/11', 'Tue 24/11': for SMS, where every character counts."""
    return format_date(day, "EEE d/M", locale=language)
