"""A rating form read: the score and comment it gives, or what is wrong with each field.

Pure: the web page hands in the form's values and the [feedback] settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from notifier.config.feedback import Feedback
from notifier.untrusted import inert

SCORE_VALUES = ("1", "2", "3", "4", "5")


@dataclass(frozen=True, slots=True)
class Answer:
    """What a recipient said: a score 1 to 5 and an inert comment, or None."""

    score: int
    comment: str | None


@dataclass(frozen=True, slots=True)
class Given:
    """An answer as stored: when first given (the change window runs from it) and last changed."""

    answer: Answer
    created_at: datetime
    updated_at: datetime

    def changeable_until(self, settings: Feedback) -> datetime:
        return self.created_at + timedelta(hours=settings.change_hours)

    def changeable(self, settings: Feedback, now: datetime) -> bool:
        return now < self.changeable_until(settings)


def parse_answer(
    score: str | None, comment: str | None, settings: Feedback
) -> tuple[Answer | None, dict[str, str]]:
    """The answer a form gives, or error codes by field name: missing, invalid, too_long.

    The comment reaches depot staff on the dashboard: one clean line, its web addresses
    defanged, so neither our pages nor a reader's tools turn it into a link.
    """
    errors: dict[str, str] = {}
    if not score:
        errors["score"] = "missing"
    elif score.strip() not in SCORE_VALUES:
        errors["score"] = "invalid"
    text: str | None = None
    if settings.comments and comment:
        text = inert(comment)
        if text is not None and len(text) > settings.comment_max_chars:
            errors["comment"] = "too_long"
    if errors:
        return None, errors
    return Answer(score=int(str(score).strip()), comment=text), {}
