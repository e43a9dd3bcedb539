"""A claimed row made into the message its channel sends: facts, context, template, text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment

from notifier.channels.base import OutgoingMessage
from notifier.config import Settings
from notifier.locales import language_for
from notifier.notify.rules import first_usable
from notifier.outbox.rows import ClaimedRow
from notifier.purposes import TO_THE_COMPANY
from notifier.rebooking.choices import Booked
from notifier.rebooking.links import Link
from notifier.rebooking.promises import Promised
from notifier.rendering.context import (
    ParcelFacts,
    build_context,
    facts_on_shipment,
    recipient_details,
)
from notifier.rendering.environment import render_message
from notifier.rendering.smstext import sms_encoding
from notifier.shipments import EventRecord, ShipmentRecord
from notifier.urls import FEEDBACK_PATH, public_url
from notifier.vocabulary import Channel, ContactKind, ContactPoint


@dataclass(frozen=True, slots=True)
class Composed:
    outgoing: OutgoingMessage
    stored: dict[str, Any]  # what the outbox row keeps: subject, bodies, encoding, segments


def compose(
    message: ClaimedRow,
    *,
    shipment: ShipmentRecord,
    event: EventRecord | None,
    link: Link | None,
    booking: Booked | None,
    contacts: Sequence[ContactPoint],
    settings: Settings,
    templates: Environment,
    now: datetime,
    unsubscribe_url: str | None = None,
    promise: Promised | None = None,
    feedback_url: str | None = None,
) -> Composed:
    """Render the row as it should read now. Raises TemplateMissingError or a Jinja error.

    `contacts` are the shipment's as the tick read them, oldest first; `unsubscribe_url`
    is the recipient address's, carried only when `offers_unsubscribe` says so;
    `promise` is what a row about a broken promise names; `feedback_url` is the parcel's
    rating link, carried by a DELIVERED message when feedback is on (feedback/links.py).
    """
    # Rows are written in a shipped language; one stored before that rule existed still
    # renders in one rather than failing on a template that is not there.
    language = language_for(message.locale, settings.company.default_locale)
    context = build_context(
        _facts(shipment, event, link, feedback_url),
        settings=settings,
        locale=language,
        now=now,
        booking=booking,
        promise=promise,
    )
    # For the depot's messages (a dispute to act on): the depot calls, so an SMS opt-out
    # does not hide the number.
    phone = first_usable(contacts, ContactKind.PHONE, Channel.SMS, ())
    context["recipient"] = recipient_details(shipment, phone=phone.value if phone else None)
    channel = Channel(message.channel)
    text = render_message(
        templates, channel=channel, template=message.template, locale=language, context=context
    )
    secrets = _secrets(settings, link, feedback_url)
    stored: dict[str, Any] = {
        "subject": text.subject,
        "body": without_secrets(text.body, secrets),
        "body_html": without_secrets(text.body_html, secrets),
    }
    if channel == Channel.SMS:
        # Counted on the text as sent, not as kept.
        encoding = sms_encoding(text.body)
        stored |= {"encoding": encoding.encoding, "segments": encoding.segments}
    outgoing = OutgoingMessage(
        outbox_id=message.id,
        channel=channel,
        recipient=message.recipient,
        body=text.body,
        locale=language,
        subject=text.subject,
        body_html=text.body_html,
        unsubscribe_url=unsubscribe_url if offers_unsubscribe(message) else None,
    )
    return Composed(outgoing, stored)


# What the outbox keeps in place of a link's token or typed code (GSM-7, like the SMS).
WITHHELD = "(withheld)"


def without_secrets(text: str | None, secrets: Sequence[str]) -> str | None:
    """The text as the outbox keeps it: each link's token and typed code replaced by
    WITHHELD. The links' own tables keep only salts and hashes; the message as sent must
    not undo that, or a copy of the database (a backup, an export) would open every
    recipient's rebooking and rating pages."""
    if text is None:
        return None
    for secret in secrets:
        text = text.replace(secret, WITHHELD)
    return text


def _secrets(settings: Settings, link: Link | None, feedback_url: str | None) -> list[str]:
    secrets = [link.token, link.code] if link is not None else []
    if feedback_url is not None:
        secrets.append(feedback_url.removeprefix(public_url(settings, FEEDBACK_PATH)))
    return secrets


def offers_unsubscribe(message: ClaimedRow) -> bool:
    """Email to a recipient carries one-click unsubscribe (RFC 8058); mail to the depot not."""
    return message.channel == Channel.EMAIL and message.purpose not in TO_THE_COMPANY


def _facts(
    shipment: ShipmentRecord,
    event: EventRecord | None,
    link: Link | None,
    feedback_url: str | None = None,
) -> ParcelFacts:
    """What the message talks about: the event it answers, on the shipment as it is now."""
    return facts_on_shipment(
        shipment,
        status=event.status if event else shipment.status,
        reason=event.reason if event else shipment.reason,
        occurred_at=event.occurred_at if event else shipment.status_occurred_at,
        # The same link as the slip: the shipment's newest live one.
        rebooking_url=link.url if link else None,
        short_code=link.code if link else None,
        feedback_url=feedback_url,
    )
