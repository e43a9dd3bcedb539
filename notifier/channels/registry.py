"""Which channel object serves "sms" and "email", from Settings: an explicit dict, no scanning."""

from __future__ import annotations

import sys
from typing import TextIO
from urllib.parse import urlsplit

from twilio.http.http_client import TwilioHttpClient

from notifier.channels.base import Transport
from notifier.channels.console import ConsoleChannel
from notifier.channels.email_smtp import SmtpEmailChannel, smtp_connector
from notifier.channels.sms_twilio import TwilioSmsChannel, build_twilio_client
from notifier.config import Settings
from notifier.errors import ConfigError, ConfigProblem
from notifier.urls import twilio_status_url
from notifier.vocabulary import Channel


def build_channels(
    settings: Settings,
    *,
    stream: TextIO | None = None,
    twilio_http_client: TwilioHttpClient | None = None,
) -> dict[Channel, Transport]:
    return {
        Channel.SMS: _sms(settings, stream or sys.stdout, twilio_http_client),
        Channel.EMAIL: _email(settings, stream or sys.stdout),
    }


def _sms(settings: Settings, stream: TextIO, http_client: TwilioHttpClient | None) -> Transport:
    config = settings.channels.sms
    if config.transport == "console":
        return ConsoleChannel("sms", stream)
    sid, token = settings.secrets.twilio_account_sid, settings.secrets.twilio_auth_token
    missing = [n for n, v in (("TWILIO_ACCOUNT_SID", sid), ("TWILIO_AUTH_TOKEN", token)) if not v]
    if sid is None or token is None:
        raise ConfigError(
            [
                ConfigProblem("environment", name, 'needed by channels.sms.transport = "twilio"')
                for name in missing
            ]
        )
    return TwilioSmsChannel(
        client=build_twilio_client(
            sid.get_secret_value(),
            token.get_secret_value(),
            http_client,
            api_base_url=str(config.api_base_url),
        ),
        from_number=config.from_number,
        messaging_service_sid=config.messaging_service_sid,
        # Receipts come back to our public origin, at an opaque address (never a row id):
        # the same for every message, which Twilio's MessageSid then names.
        status_callback_url=lambda _outbox_id: twilio_status_url(settings),
    )


def _email(settings: Settings, stream: TextIO) -> Transport:
    config = settings.channels.email
    if config.transport == "console":
        return ConsoleChannel("email", stream)
    password = settings.secrets.smtp_password
    return SmtpEmailChannel(
        smtp_connector(config, password.get_secret_value() if password else None),
        from_address=config.from_address,
        from_name=config.from_name or settings.company.name,
        message_id_domain=urlsplit(str(settings.company.website)).hostname or "localhost",
    )
