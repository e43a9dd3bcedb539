"""What every transport takes and gives back: OutgoingMessage in, SendResult out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from notifier.vocabulary import Channel


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One rendered message, ready for its channel; channels never touch the database."""

    outbox_id: int
    channel: Channel
    recipient: str  # E.164 phone number, or email address
    body: str  # SMS text, or the email's plain-text part
    locale: str
    subject: str | None = None  # email only
    body_html: str | None = None  # email only
    unsubscribe_url: str | None = None  # email only: List-Unsubscribe (RFC 8058)


@dataclass(frozen=True, slots=True)
class SendResult:
    """The provider accepted the message."""

    provider_id: str | None  # Twilio's message SID, the email's Message-ID
    provider_status: str | None = None  # e.g. Twilio's "queued"


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """What the provider says became of a message it accepted, when asked."""

    status: str  # Twilio's MessageStatus: queued, sent, delivered, undelivered, failed, ...
    error_code: str | None = None


@runtime_checkable
class StatusSource(Protocol):
    """A transport that can be asked what became of a message (Twilio; not the console).

    Raises TemporaryChannelError or PermanentChannelError (an id the provider does not know).
    """

    def fetch_status(self, provider_id: str) -> ProviderStatus: ...


class Transport(Protocol):
    """What carries one channel's messages (Twilio, SMTP, the console).

    Raises TemporaryChannelError or PermanentChannelError.
    """

    name: str

    def send(self, message: OutgoingMessage) -> SendResult: ...
