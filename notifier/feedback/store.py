"""All feedback SQL: opening a rating link, its parcel's one answer, and the dashboard's summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from notifier.config.feedback import Feedback
from notifier.db.tables import FEEDBACK, FEEDBACK_LINKS, SHIPMENTS
from notifier.feedback.answers import Answer, Given
from notifier.feedback.links import MAX_TOKEN_LENGTH, hash_token
from notifier.feedback.summary import MAX_COMMENTS, FeedbackComment, FeedbackSummary, summarise


@dataclass(frozen=True, slots=True)
class Opened:
    """What a live rating link opens: its parcel, the message's language, and the answer
    already given, if any. The tracking number tells the recipient which parcel it is."""

    shipment_id: int
    locale: str
    tracking_number: str
    depot: str | None
    given: Given | None


class Recorded(StrEnum):
    FIRST = "first"
    CHANGED = "changed"
    LOCKED = "locked"  # given more than change_hours ago: it stands


# Built once: every page view and every tap runs it.
_BY_TOKEN = (
    select(
        FEEDBACK_LINKS.c.shipment_id,
        FEEDBACK_LINKS.c.locale,
        SHIPMENTS.c.tracking_number,
        SHIPMENTS.c.depot,
        FEEDBACK.c.score,
        FEEDBACK.c.comment,
        FEEDBACK.c.created_at,
        FEEDBACK.c.updated_at,
    )
    .join(SHIPMENTS, SHIPMENTS.c.id == FEEDBACK_LINKS.c.shipment_id)
    .outerjoin(FEEDBACK, FEEDBACK.c.shipment_id == FEEDBACK_LINKS.c.shipment_id)
    .where(
        FEEDBACK_LINKS.c.token_hash == bindparam("hash"),
        FEEDBACK_LINKS.c.expires_at > bindparam("now"),
    )
)


def open_link(connection: Connection, token: str, *, now: datetime) -> Opened | None:
    """What a live token opens; None for unknown and expired alike."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = connection.execute(_BY_TOKEN, {"hash": hash_token(token), "now": now}).first()
    if row is None:
        return None
    given = None
    if row.score is not None:
        given = Given(Answer(int(row.score), row.comment), row.created_at, row.updated_at)
    return Opened(row.shipment_id, row.locale, row.tracking_number, row.depot, given)


def record_answer(
    connection: Connection, opened: Opened, answer: Answer, *, settings: Feedback, now: datetime
) -> Recorded:
    """The parcel's answer given, or changed while within `change_hours` of the first one.

    The first answer is an insert that a second, simultaneous one cannot duplicate (the
    unique shipment): that one becomes a change. A change is one conditional update, so
    no answer is changed after its window, whatever raced it.
    """
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    first = (
        dialect.insert(FEEDBACK)
        .values(
            shipment_id=opened.shipment_id,
            depot=opened.depot,
            score=answer.score,
            comment=answer.comment,
            locale=opened.locale,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["shipment_id"])
        # The row it made, if any: rowcount is no answer once SQLAlchemy adds RETURNING.
        .returning(FEEDBACK.c.id)
    )
    if connection.execute(first).first() is not None:
        return Recorded.FIRST
    # As Given.changeable: while now < created_at + change_hours.
    window_start = now - timedelta(hours=settings.change_hours)
    changed = connection.execute(
        update(FEEDBACK)
        .where(FEEDBACK.c.shipment_id == opened.shipment_id, FEEDBACK.c.created_at > window_start)
        .values(score=answer.score, comment=answer.comment, updated_at=now)
    )
    return Recorded.CHANGED if changed.rowcount else Recorded.LOCKED


def feedback_summary(
    connection: Connection, *, depot: str | None, since: datetime, until: datetime
) -> FeedbackSummary:
    """The answers first given in [since, until), of one depot or (None) of all depots."""
    period = [FEEDBACK.c.created_at >= since, FEEDBACK.c.created_at < until]
    if depot is not None:
        period.append(FEEDBACK.c.depot == depot)
    counted = select(FEEDBACK.c.score, func.count()).where(*period).group_by(FEEDBACK.c.score)
    counts = {int(score): int(count) for score, count in connection.execute(counted)}
    commented = (
        select(FEEDBACK.c.score, FEEDBACK.c.comment, FEEDBACK.c.depot, FEEDBACK.c.updated_at)
        .where(*period, FEEDBACK.c.comment.is_not(None), FEEDBACK.c.comment != "")
        .order_by(FEEDBACK.c.updated_at.desc(), FEEDBACK.c.id.desc())
        .limit(MAX_COMMENTS)
    )
    comments = [
        FeedbackComment(
            score=int(row.score), text=str(row.comment), depot=row.depot, answered_at=row.updated_at
        )
        for row in connection.execute(commented)
    ]
    return summarise(counts, comments)
