"""Rating pages as `notifier serve` renders them (web/feedback.py), for a sample parcel: each
page's full context, in every state a recipient can meet it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_time

from notifier.config import Settings
from notifier.feedback.answers import Answer
from notifier.locales import LANGUAGE_NAMES, SHIPPED_LANGUAGES, day_long
from notifier.rendering.context import format_hours, group_tracking
from notifier.templatecheck.samples import ATTEMPT_DAY, TOKEN, TRACKING
from notifier.urls import FEEDBACK_PATH

FEEDBACK_PAGES = ("question", "thanks", "bad_link", "unavailable")
# The forms' hidden token as web/feedback.py gives it (43 URL-safe characters).
_CSRF = "c" * 43


def feedback_samples(settings: Settings, lang: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(page, what, context) for every rating page a recipient can meet."""
    frame = _frame(settings, lang)
    parcel = {"tracking_grouped": group_tracking(TRACKING), "errors": {}, "values": {}}
    question = {**frame, **parcel, "csrf": _CSRF}
    yield "question", "no answer yet", question
    yield "question", "no answer yet, comments off", {**question, "comments": False}
    too_long = {"comment": "x" * (settings.feedback.comment_max_chars + 1)}
    for errors in ({"score": "missing"}, {"score": "invalid"}, {"comment": "too_long"}):
        said = ", ".join(f"{k}: {v}" for k, v in errors.items())
        yield "question", f"errors {said}", {**question, "errors": errors, "values": too_long}
    yield "question", "form expired", {**question, "errors": {"form": "expired"}}
    until = datetime.combine(ATTEMPT_DAY, time(18, 30), tzinfo=ZoneInfo(settings.company.timezone))
    answered = {
        **frame,
        **parcel,
        "given": Answer(4, "OK"),
        "values": {"comment": "OK"},
        "changeable": True,
        "locked_now": False,
        "change_until_day": day_long(until.date(), lang),
        "change_until_time": format_time(until, "HH:mm", locale=lang),
        "csrf": _CSRF,
    }
    yield "thanks", "changeable", answered
    yield "thanks", "changeable, no comment", {**answered, "given": Answer(5, None)}
    locked = {**answered, "changeable": False, "csrf": ""}
    yield "thanks", "no longer changeable", locked
    yield "thanks", "a change refused, too late", {**locked, "locked_now": True}
    yield "bad_link", "unknown or expired", frame
    yield "unavailable", "database down", frame


def _frame(settings: Settings, lang: str) -> dict[str, Any]:
    """What web/feedback.py's _render gives every page."""
    return {
        "lang": lang,
        "other_langs": [(code, LANGUAGE_NAMES[code]) for code in SHIPPED_LANGUAGES if code != lang],
        "path": FEEDBACK_PATH + TOKEN,
        "company": settings.company,
        "company_hours": format_hours(settings.company.phone_hours, lang),
        "csrf": "",
        "comments": settings.feedback.comments,
        "comment_max": settings.feedback.comment_max_chars,
    }
