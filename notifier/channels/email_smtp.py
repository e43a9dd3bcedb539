"""Email over SMTP: a multipart message with the headers mail providers expect of a sender."""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from notifier.channels.base import OutgoingMessage, SendResult
from notifier.config.settings import EmailChannel
from notifier.errors import PermanentChannelError, TemporaryChannelError


class SmtpEmailChannel:
    name = "email"

    def __init__(
        self,
        connect: Callable[[], smtplib.SMTP],
        *,
        from_address: str,
        from_name: str,
        message_id_domain: str,
    ) -> None:
        self.connect = connect
        self.from_address = from_address
        self.from_name = from_name
        self.message_id_domain = message_id_domain

    def build_message(self, message: OutgoingMessage, now: datetime) -> EmailMessage:
        email = EmailMessage()
        username, _, domain = self.from_address.partition("@")
        email["From"] = Address(self.from_name, username, domain)
        email["To"] = message.recipient
        email["Subject"] = message.subject or ""
        email["Date"] = format_datetime(now)
        email["Message-ID"] = make_msgid(domain=self.message_id_domain)
        email["Content-Language"] = message.locale
        # RFC 3834: an automatic message; keeps auto-responders from answering it.
        email["Auto-Submitted"] = "auto-generated"
        if message.unsubscribe_url:
            # RFC 2369 and RFC 8058 one-click unsubscribe, which Gmail and Yahoo require
            # of bulk senders.
            email["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
            email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        email.set_content(message.body)
        if message.body_html:
            email.add_alternative(message.body_html, subtype="html")
        return email

    def send(self, message: OutgoingMessage) -> SendResult:
        email = self.build_message(message, datetime.now(UTC))
        try:
            smtp = self.connect()
            try:
                smtp.send_message(email)
            finally:
                _close(smtp)
        except Exception as exc:
            raise classify(exc) from exc
        return SendResult(provider_id=str(email["Message-ID"]), provider_status="accepted")


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def classify(exc: Exception) -> TemporaryChannelError | PermanentChannelError:
    """The one place SMTP failures become retry-or-not (RFC 5321 section 4.2.1)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()))
        return _by_code(code, reply)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        # Our credentials, not the recipient: keep the message until ops fix the login.
        return TemporaryChannelError(
            f"SMTP login refused: {exc.smtp_code}", code=str(exc.smtp_code)
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPServerDisconnected | OSError | socket.timeout):
        return TemporaryChannelError(f"SMTP server unreachable: {type(exc).__name__}")
    if isinstance(exc, smtplib.SMTPException):
        return TemporaryChannelError(f"SMTP error: {type(exc).__name__}")
    return TemporaryChannelError(f"unexpected error sending email: {type(exc).__name__}")


def _by_code(code: int, reply: bytes | str) -> TemporaryChannelError | PermanentChannelError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    if 500 <= code < 600:
        return PermanentChannelError(f"SMTP {code}: {text}"[:300], code=str(code))
    return TemporaryChannelError(f"SMTP {code}: {text}"[:300], code=str(code))


def smtp_connector(config: EmailChannel, password: str | None) -> Callable[[], smtplib.SMTP]:
    """Opens a ready connection: TLS as configured, logged in when a username is set."""

    def connect() -> smtplib.SMTP:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if config.security == "tls":
            smtp = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout_seconds, context=context
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds)
            if config.security == "starttls":
                smtp.starttls(context=context)
        if config.username:
            smtp.login(config.username, password or "")
        return smtp

    return connect
