"""Every public URL notifier hands out, built in one place from the configured bases.

Never from a request's Host header (anyone can send one), and never with a row id or
personal data in it: what a URL carries is an opaque token or nothing.
"""

from __future__ import annotations

import hashlib
import hmac

from notifier.config import Settings

TWILIO_STATUS_PATH = "/webhooks/twilio/status/"
AGGREGATOR_WEBHOOK_PATH = "/webhooks/"
TWILIO_INBOUND_PATH = "/webhooks/twilio/inbound/"
UNSUBSCRIBE_PATH = "/u/"
FEEDBACK_PATH = "/f/"


def rebooking_entry(settings: Settings) -> str:
    """Where a short code is typed by hand: the rebooking base, without a token."""
    return str(settings.company.rebooking_base_url).rstrip("/")


def rebooking_link(settings: Settings, token: str) -> str:
    """A rebooking link: the configured rebooking base + the link's token."""
    return f"{rebooking_entry(settings)}/{token}"


def company_website(settings: Settings) -> str:
    return str(settings.company.website).rstrip("/")


def webhook_token(settings: Settings, name: str) -> str:
    """The opaque path token of one of our webhooks: derived from the secret key, so a
    guessed URL is refused before its signature is even read, and changing the key moves it."""
    mac = hmac.new(settings.link_key, b"webhook:" + name.encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def public_url(settings: Settings, path: str) -> str:
    """An address on our own public origin (`web.public_base_url`), as a provider calls it."""
    return str(settings.web.public_base_url).rstrip("/") + path


def twilio_status_url(settings: Settings) -> str:
    """Where Twilio posts an SMS's delivery receipts."""
    return public_url(settings, TWILIO_STATUS_PATH + webhook_token(settings, "twilio-status"))


def twilio_inbound_url(settings: Settings) -> str:
    """Where Twilio posts the SMS recipients send us ("A message comes in"), set by ops on
    the number or Messaging Service: `/webhooks/twilio/inbound/` + its opaque token."""
    return public_url(settings, TWILIO_INBOUND_PATH + webhook_token(settings, "twilio-inbound"))


def aggregator_webhook_url(settings: Settings, source: str) -> str:
    """Where an aggregator (karrio, easypost, aftership, shippo) posts tracking news. No
    token in the path: each proves itself by its own signature or secret (Shippo's goes
    in `?token=`, which the operator appends at Shippo)."""
    return public_url(settings, AGGREGATOR_WEBHOOK_PATH + source)


def unsubscribe_url(settings: Settings, token: str) -> str:
    """An email's one-click unsubscribe address (List-Unsubscribe, RFC 8058): our own origin
    + the address's opaque token. RFC 8058 wants HTTPS: `web.public_base_url` says which."""
    return public_url(settings, UNSUBSCRIBE_PATH + token)


def feedback_url(settings: Settings, token: str) -> str:
    """A delivered parcel's one-tap rating page: our own origin + the link's opaque token."""
    return public_url(settings, FEEDBACK_PATH + token)
