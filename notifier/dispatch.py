"""Sending the outbox: claim due rows, check they still make sense, render, send, record."""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from jinja2 import Environment, TemplateError
from sqlalchemy import Engine, select

from notifier import outbox
from notifier.channels.base import Channel, OutgoingMessage
from notifier.config import Settings
from notifier.db import read_transaction, write_transaction
from notifier.errors import (
    DuplicateMessageError,
    NotifierError,
    PermanentChannelError,
    TemporaryChannelError,
)
from notifier.links import Link, live_links, secret_key
from notifier.messages import MessageFacts, build_context, facts_on_shipment
from notifier.models import OutboxState
from notifier.rebooking import REBOOKINGS, booked_from_row
from notifier.render import render_message
from notifier.rules import CHANNEL_CONTACT, effective_rule
from notifier.smstext import sms_encoding
from notifier.vocabulary import TERMINAL_STATUSES, Reason, Status

SHIPMENTS = outbox.OUTBOX.metadata.tables["shipments"]
EVENTS = outbox.OUTBOX.metadata.tables["status_events"]
CONTACTS = outbox.OUTBOX.metadata.tables["contact_points"]
# A rebooking confirmation's purpose names the booking it confirms: "rebooked:42"; a
# dispute forwarded to the depot names the dispute: "dispute:43".
REBOOKED = "rebooked:"
DISPUTE = "dispute:"


@dataclass
class DispatchStats:
    """How one tick went, by outcome (sent, retry, failed, dead, cancelled, suppressed, lost)."""

    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def claimed(self) -> int:
        return sum(self.outcomes.values())


@dataclass(frozen=True, slots=True)
class _Context:
    """What the rows of one tick need from the database, read once."""

    shipments: Mapping[int, Mapping[str, Any]]
    events: Mapping[int, Mapping[str, Any]]
    contacts: Mapping[int, list[Mapping[str, Any]]]
    opted_out: set[tuple[str, str]]
    links: Mapping[int, Link]
    bookings: Mapping[int, Any]  # rebookings rows


class Dispatcher:
    """One worker's sending loop; any number of them may run against one database."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        channels: Mapping[str, Channel],
        templates: Environment,
        worker: str,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.channels = channels
        self.templates = templates
        self.worker = worker
        self.rng = rng or random.Random()  # noqa: S311  jitter, not secrecy

    def run_once(self, now: datetime) -> DispatchStats:
        """Claim one batch of due rows and settle every one of them."""
        config = self.settings.dispatch
        claimed = outbox.claim(
            self.engine,
            worker=self.worker,
            now=now,
            limit=config.batch_size,
            lease=timedelta(seconds=config.lease_seconds),
        )
        stats = DispatchStats()
        if not claimed:
            return stats
        context = self._load(claimed, now)
        for message in claimed:
            outcome = self._settle(message, context, now)
            stats.outcomes[outcome] += 1
        return stats

    def _load(self, claimed: list[outbox.Claimed], now: datetime) -> _Context:
        shipment_ids = {m.shipment_id for m in claimed}
        event_ids = {m.status_event_id for m in claimed if m.status_event_id is not None}
        booking_ids = {i for i in map(_booking_id, claimed) if i is not None}
        with read_transaction(self.engine) as connection:
            shipments = {
                row["id"]: dict(row)
                for row in connection.execute(
                    select(SHIPMENTS).where(SHIPMENTS.c.id.in_(shipment_ids))
                ).mappings()
            }
            events = {
                row["id"]: dict(row)
                for row in connection.execute(
                    select(EVENTS).where(EVENTS.c.id.in_(event_ids))
                ).mappings()
            }
            contacts: dict[int, list[Mapping[str, Any]]] = {}
            for row in connection.execute(
                select(CONTACTS)
                .where(CONTACTS.c.shipment_id.in_(shipment_ids))
                .order_by(CONTACTS.c.id)
            ).mappings():
                contacts.setdefault(row["shipment_id"], []).append(dict(row))
            opted = outbox.opted_out(connection, {(m.channel, m.recipient) for m in claimed})
            live = live_links(
                connection,
                shipment_ids,
                key=secret_key(self.settings),
                settings=self.settings,
                now=now,
            )
            bookings = (
                {
                    row.id: row
                    for row in connection.execute(
                        select(REBOOKINGS).where(REBOOKINGS.c.id.in_(booking_ids))
                    )
                }
                if booking_ids
                else {}
            )
        return _Context(shipments, events, contacts, opted, live, bookings)

    def _settle(self, message: outbox.Claimed, context: _Context, now: datetime) -> str:
        shipment = context.shipments[message.shipment_id]
        event = context.events.get(message.status_event_id or -1)
        if message.attempts > self.settings.dispatch.max_attempts:
            # Claimed again and again without an outcome: a worker dies on it each time.
            return self._final(message, now, OutboxState.DEAD, "gave up: no outcome recorded")
        booking_id = _booking_id(message)
        booking = None if booking_id is None else context.bookings.get(booking_id)
        if booking_id is None:
            stale = self._stale_because(shipment, event)
        elif message.purpose.startswith(DISPUTE):
            # The depot hears of a dispute whatever the recipient chose after it.
            stale = None if booking is not None else f"stale: dispute {booking_id} not found"
        else:
            stale = _superseded(booking_id, booking)
        if stale:
            return self._final(message, now, OutboxState.CANCELLED, stale)
        if (message.channel, message.recipient) in context.opted_out:
            return self._final(message, now, OutboxState.SUPPRESSED, "recipient opted out")
        try:
            link = context.links.get(message.shipment_id)
            outgoing, rendered = self._render(message, shipment, event, link, booking, now)
        except (NotifierError, TemplateError) as exc:
            # A broken template is ops' to fix; retrying keeps the message until they do.
            return self._retry(message, now, f"template: {exc}", None)
        try:
            result = self.channels[message.channel].send(outgoing)
        except TemporaryChannelError as exc:
            return self._retry(message, now, str(exc), exc.code)
        except PermanentChannelError as exc:
            return self._failed(message, event, context, now, exc)
        with write_transaction(self.engine) as connection:
            marked = outbox.mark_sent(
                connection,
                message,
                worker=self.worker,
                now=now,
                provider_id=result.provider_id,
                rendered=rendered,
            )
        return "sent" if marked else "lost"

    def _stale_because(
        self, shipment: Mapping[str, Any], event: Mapping[str, Any] | None
    ) -> str | None:
        """Why the message no longer fits the shipment, if it does not.

        A newer status supersedes it when that status ends the shipment or calls for a
        message of its own; an in-between status (IN_TRANSIT) does not, so "we have your
        parcel" still goes out when the parcel starts moving a minute later.
        """
        if event is None:
            return None
        now_status = Status(shipment["status"])
        if now_status == event["status"]:
            return None
        reason = Reason(shipment["reason"]) if shipment["reason"] else None
        if now_status in TERMINAL_STATUSES or effective_rule(self.settings, now_status, reason):
            return f"stale: the shipment is now {now_status}"
        return None

    def _render(
        self,
        message: outbox.Claimed,
        shipment: Mapping[str, Any],
        event: Mapping[str, Any] | None,
        link: Link | None,
        booking: Any,
        now: datetime,
    ) -> tuple[OutgoingMessage, dict[str, Any]]:
        facts = _facts(shipment, event, link)
        context = build_context(
            facts,
            settings=self.settings,
            locale=message.locale,
            now=now,
            booking=booked_from_row(booking) if booking is not None else None,
        )
        channel: Literal["sms", "email"] = "sms" if message.channel == "sms" else "email"
        text = render_message(
            self.templates,
            channel=channel,
            template=message.template,
            locale=message.locale,
            context=context,
        )
        rendered: dict[str, Any] = {
            "subject": text.subject,
            "body": text.body,
            "body_html": text.body_html,
        }
        if channel == "sms":
            encoding = sms_encoding(text.body)
            rendered |= {"encoding": encoding.encoding, "segments": encoding.segments}
        outgoing = OutgoingMessage(
            outbox_id=message.id,
            channel=message.channel,
            recipient=message.recipient,
            body=text.body,
            locale=message.locale,
            subject=text.subject,
            body_html=text.body_html,
            unsubscribe_url=(
                self.settings.web.url(f"/unsubscribe/{message.id}") if channel == "email" else None
            ),
        )
        return outgoing, rendered

    def _retry(self, message: outbox.Claimed, now: datetime, error: str, code: str | None) -> str:
        config = self.settings.dispatch
        if message.attempts >= config.max_attempts:
            return self._final(message, now, OutboxState.DEAD, error, code)
        # Exponential backoff with "equal jitter": spread retries so a provider outage
        # does not end in every worker retrying at the same second.
        ceiling = min(
            config.retry_max_seconds, config.retry_base_seconds * 2 ** (message.attempts - 1)
        )
        delay = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        due = now + timedelta(seconds=delay)
        with write_transaction(self.engine) as connection:
            marked = outbox.mark_retry(
                connection, message, worker=self.worker, now=now, due_at=due, error=error, code=code
            )
        return "retry" if marked else "lost"

    def _final(
        self,
        message: outbox.Claimed,
        now: datetime,
        state: OutboxState,
        error: str | None,
        code: str | None = None,
    ) -> str:
        with write_transaction(self.engine) as connection:
            marked = outbox.mark_final(
                connection,
                message,
                worker=self.worker,
                now=now,
                state=state,
                error=error,
                code=code,
            )
        return str(state) if marked else "lost"

    def _failed(
        self,
        message: outbox.Claimed,
        event: Mapping[str, Any] | None,
        context: _Context,
        now: datetime,
        exc: PermanentChannelError,
    ) -> str:
        """Never retried; the opt-out and the fallback are recorded with the failure."""
        fallback = self._fallback(message, event, context, now)
        with write_transaction(self.engine) as connection:
            marked = outbox.mark_final(
                connection,
                message,
                worker=self.worker,
                now=now,
                state=OutboxState.FAILED,
                error=str(exc),
                code=exc.code,
            )
            if not marked:
                return "lost"
            if exc.opted_out:
                outbox.record_opt_out(
                    connection,
                    channel=message.channel,
                    address=message.recipient,
                    reason=f"provider error {exc.code}" if exc.code else "provider: opted out",
                    now=now,
                )
            if fallback is not None:
                with contextlib.suppress(DuplicateMessageError):  # never the same row twice
                    outbox.enqueue(connection, fallback, now)
        return str(OutboxState.FAILED)

    def _fallback(
        self,
        message: outbox.Claimed,
        event: Mapping[str, Any] | None,
        context: _Context,
        now: datetime,
    ) -> outbox.NewMessage | None:
        """The same message on the rule's next channel with a usable address, if any."""
        if event is None:
            return None
        reason = Reason(event["reason"]) if event["reason"] else None
        rule = effective_rule(self.settings, Status(event["status"]), reason)
        if rule is None or message.channel not in rule.channels:
            return None
        contacts = list(reversed(context.contacts.get(message.shipment_id, [])))
        for channel in rule.channels[rule.channels.index(message.channel) + 1 :]:
            for contact in contacts:
                usable = contact["valid"] and (channel, contact["value"]) not in context.opted_out
                if contact["kind"] == CHANNEL_CONTACT[channel] and usable:
                    return outbox.NewMessage(
                        shipment_id=message.shipment_id,
                        status_event_id=message.status_event_id,
                        channel=channel,
                        purpose=message.purpose,
                        template=message.template,
                        locale=message.locale,
                        recipient=contact["value"],
                        due_at=now,
                    )
        return None


def _facts(
    shipment: Mapping[str, Any], event: Mapping[str, Any] | None, link: Link | None
) -> MessageFacts:
    """What the message talks about: the event it answers, on the shipment as it is now."""
    answered = event if event is not None else shipment
    return facts_on_shipment(
        shipment,
        status=Status(answered["status"]),
        reason=answered["reason"],
        occurred_at=event["occurred_at"] if event else shipment["status_occurred_at"],
        # The same link as the slip: the shipment's newest live one.
        rebooking_url=link.url if link else None,
        short_code=link.code if link else None,
    )


def _booking_id(message: outbox.Claimed) -> int | None:
    for prefix in (REBOOKED, DISPUTE):
        number = message.purpose.removeprefix(prefix)
        if message.purpose.startswith(prefix) and number.isdigit():
            return int(number)
    return None


def _superseded(booking_id: int, booking: Any) -> str | None:
    """A confirmation answers the recipient's own choice, so the shipment's status never
    makes it stale; a newer choice does, and that choice's confirmation goes instead."""
    if booking is None:
        return f"stale: booking {booking_id} not found"
    if booking.replaced_at is not None:
        return "stale: the recipient has since made another choice"
    return None
