"""A message its channel refused for good goes once more, by the rule's next channel."""

from __future__ import annotations

import contextlib
from datetime import datetime

from sqlalchemy import Connection

from notifier.config import Settings
from notifier.errors import DuplicateMessageError
from notifier.locales import language_for
from notifier.notify.quiethours import may_hear_at
from notifier.outbox import store as outbox
from notifier.outbox.rows import ClaimedRow, NewOutboxRow
from notifier.purposes import PURPOSE_BY_VALUE, TO_THE_COMPANY
from notifier.vocabulary import Channel


def queue_fallback(
    connection: Connection,
    message: ClaimedRow,
    target: tuple[Channel, str] | None,
    *,
    settings: Settings,
    now: datetime,
) -> bool:
    """Queue the same message to `target` (from settle.fallback_target); True if queued.

    Never the same row twice: a second refusal, or a receipt after the send's own
    failure, finds the fallback already there.
    """
    # A row written before purposes were typed may carry one of ops' own words.
    purpose = PURPOSE_BY_VALUE.get(message.purpose)
    if target is None or purpose is None:
        return False
    # A refusal or a receipt can come late in the evening: the recipient's email waits
    # for the morning as the SMS would have; the depot's messages do not.
    phone = next(
        (a for c, a in ((message.channel, message.recipient), target) if c == Channel.SMS), None
    )
    due = now if purpose in TO_THE_COMPANY else may_hear_at(now, phone=phone, settings=settings)
    fallback = NewOutboxRow(
        shipment_id=message.shipment_id,
        status_event_id=message.status_event_id,
        channel=target[0],
        purpose=purpose,
        template=message.template,
        locale=language_for(message.locale, settings.company.default_locale),
        recipient=target[1],
        due_at=due,
    )
    with contextlib.suppress(DuplicateMessageError):
        outbox.enqueue(connection, fallback, now)
        return True
    return False
