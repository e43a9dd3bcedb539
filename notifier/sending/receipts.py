"""Delivery receipts: what the SMS provider later says became of a message it accepted.

Receipts come late, twice, and out of order (Twilio retries a callback; `sent` may arrive
after `delivered`), so a row only ever moves forward: sent -> delivered, undelivered or
failed, and a final state is never changed again. A message the network refused for good
goes once more by the rule's next channel, and an opt-out is recorded. A handset that was
unreachable (30003) first gets the same SMS again, a bounded number of times (retry.py).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from notifier.config import Settings
from notifier.db.bulk import Bulk
from notifier.db.contacts import stored_contacts
from notifier.db.engine import write_transaction
from notifier.db.tables import EVENTS, OUTBOX
from notifier.outbox import store as outbox
from notifier.outbox.rows import ClaimedRow
from notifier.sending import settle
from notifier.sending.fallback import queue_fallback
from notifier.sending.retry import unreachable_retry_at
from notifier.shipments import EventRecord
from notifier.vocabulary import Channel, OutboxState

# Twilio's final message statuses, and what each makes of our row.
FINAL = {
    "delivered": OutboxState.DELIVERED,
    "undelivered": OutboxState.UNDELIVERED,
    "failed": OutboxState.FAILED,
}
# Error codes no retry of the same SMS can fix (twilio.com/docs/api/errors): the message
# goes by email instead when the recipient has an address. 30003 only once its own
# retries are spent: a phone switched off or out of coverage may answer in a few hours.
PERMANENT = {
    "21610": "recipient unsubscribed (replied STOP)",
    "21614": "'To' is not a mobile number",
    "30003": "handset unreachable",
    "30004": "message blocked by the recipient",
    "30005": "unknown or inactive number",
    "30006": "landline or unreachable carrier",
    "30007": "filtered by the carrier",
}
OPT_OUT_CODES = frozenset({"21610", "30004"})
HANDSET_UNREACHABLE = "30003"


class ReceiptOutcome(StrEnum):
    RECORDED = "recorded"
    UNCHANGED = "unchanged"  # a repeat, a late `sent`, or a receipt for a finished row
    UNKNOWN = "unknown"  # no SMS of ours has this provider id
    RESENDING = "resending"  # 30003: the same SMS goes again later


def apply_receipt(
    engine: Engine,
    *,
    provider_id: str,
    status: str,
    error_code: str | None,
    settings: Settings,
    now: datetime,
) -> ReceiptOutcome:
    """Record one receipt, in one transaction, at most once per row and final state."""
    state = FINAL.get(status)
    with write_transaction(engine) as connection:
        row = connection.execute(
            select(OUTBOX).where(
                OUTBOX.c.provider_id == provider_id, OUTBOX.c.channel == str(Channel.SMS)
            )
        ).first()
        if row is None:
            return ReceiptOutcome.UNKNOWN
        if state is None:
            return ReceiptOutcome.UNCHANGED  # queued, sending, sent: nothing new
        code = error_code or None
        why = PERMANENT.get(code or "", f"provider error {code}" if code else None)
        retry_at = None
        if state is not OutboxState.DELIVERED and code == HANDSET_UNREACHABLE:
            retry_at = unreachable_retry_at(
                row.attempts, recipient=row.recipient, settings=settings, now=now
            )
        values: dict[str, Any] = {
            "state": str(state),
            "error_code": code,
            "last_error": None if state is OutboxState.DELIVERED else why,
            "finished_at": now,
            "updated_at": now,
        }
        if retry_at is not None:
            # Back in the queue as the same row: its claim counts the try, and the checks
            # before sending (stale, superseded, opted out) judge it again then. A new
            # send is a new wait for its receipt.
            values.update(
                state=str(OutboxState.PENDING),
                due_at=retry_at,
                last_error=f"{why}: to be sent again",
                finished_at=None,
                receipt_checks=0,
                receipt_checked_at=None,
            )
        # Only a row still waiting for its outcome moves: the guard makes the update the
        # test, so two receipts racing in two workers cannot both win.
        moved = connection.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == row.id, OUTBOX.c.state == str(OutboxState.SENT))
            .values(**values)
        ).rowcount
        if moved != 1:
            return ReceiptOutcome.UNCHANGED
        if retry_at is not None:
            return ReceiptOutcome.RESENDING
        if state is not OutboxState.DELIVERED and code in PERMANENT:
            _refused_for_good(connection, row, code, settings=settings, now=now)
        return ReceiptOutcome.RECORDED


def _refused_for_good(
    connection: Connection, row: Any, code: str, *, settings: Settings, now: datetime
) -> None:
    """Record an opt-out the code means, and send the message by the rule's next channel."""
    if code in OPT_OUT_CODES:
        outbox.record_opt_out(
            connection,
            channel=row.channel,
            address=row.recipient,
            reason=f"provider error {code}",
            now=now,
        )
    message = ClaimedRow(
        id=row.id,
        shipment_id=row.shipment_id,
        status_event_id=row.status_event_id,
        rebooking_id=row.rebooking_id,
        channel=row.channel,
        purpose=row.purpose,
        template=row.template,
        locale=row.locale,
        recipient=row.recipient,
        attempts=row.attempts,
    )
    event = None
    if row.status_event_id is not None:
        found = connection.execute(
            select(EVENTS.c.id, EVENTS.c.status, EVENTS.c.reason, EVENTS.c.occurred_at).where(
                EVENTS.c.id == row.status_event_id
            )
        ).first()
        event = EventRecord.from_mapping(found._mapping) if found else None
    contacts = stored_contacts(Bulk(connection), [row.shipment_id]).get(row.shipment_id, [])
    pairs = {(str(ch), c.value) for c in contacts for ch in Channel}
    opted = outbox.opted_out(connection, pairs, link_key=settings.link_key)
    target = settle.fallback_target(
        message, event=event, contacts=contacts, opted_out=opted, settings=settings
    )
    queue_fallback(connection, message, target, settings=settings, now=now)
