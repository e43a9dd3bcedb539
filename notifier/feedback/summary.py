"""What the dashboard shows of recipients' ratings: counts, the average and the comments."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

SCORES = (1, 2, 3, 4, 5)
MAX_COMMENTS = 20  # the newest: a dashboard tile, not an archive


@dataclass(frozen=True, slots=True)
class FeedbackComment:
    """One recipient's comment with its score; `text` is inert (clean, no links) but not
    escaped: templates escape it as any other text."""

    score: int
    text: str
    depot: str | None
    answered_at: datetime


@dataclass(frozen=True, slots=True)
class FeedbackSummary:
    """The answers given in a period: how many, their average, how many of each score
    (keys 1 to 5 always present), and the newest comments first."""

    answers: int
    average: float | None
    by_score: dict[int, int] = field(default_factory=lambda: dict.fromkeys(SCORES, 0))
    comments: tuple[FeedbackComment, ...] = ()


def summarise(counts: Mapping[int, int], comments: Iterable[FeedbackComment]) -> FeedbackSummary:
    """The summary of answers counted by score; scores outside 1 to 5 are not answers."""
    by_score = {score: int(counts.get(score, 0)) for score in SCORES}
    answers = sum(by_score.values())
    total = sum(score * count for score, count in by_score.items())
    average = round(total / answers, 2) if answers else None
    return FeedbackSummary(
        answers=answers,
        average=average,
        by_score=by_score,
        comments=tuple(comments)[:MAX_COMMENTS],
    )
