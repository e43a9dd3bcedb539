"""Checked value types of the configuration: time zones, locales, phones, hours, SMS senders."""

from __future__ import annotations

import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field

# Keys people are tempted to put in the file; the message says where they belong instead.
SECRET_KEYS = {
    "account_sid": "TWILIO_ACCOUNT_SID",
    "auth_token": "TWILIO_AUTH_TOKEN",
    "password": "NOTIFIER_SMTP_PASSWORD",
    "smtp_password": "NOTIFIER_SMTP_PASSWORD",
    "secret_key": "NOTIFIER_SECRET_KEY",
    "api_key": "NOTIFIER_API_KEY",
    "api_keys": "NOTIFIER_API_KEY",
    "ops_password": "NOTIFIER_OPS_PASSWORD",
}


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name like 'Europe/Rome')"
        ) from exc
    return name


def _check_locale(tag: str) -> str:
    try:
        Locale.parse(tag)
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown locale {tag!r} (use a language tag like 'it' or 'en')") from exc
    return tag


def _check_region(code: str) -> str:
    if code.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region {code!r} (use an ISO 3166 code like 'IT')")
    return code.upper()


def _check_email(address: str) -> str:
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from exc


_HOURS_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


def _check_hours(text: str) -> str:
    """Opening hours of one day: 'closed' or ranges like '08:30-12:30, 14:00-19:30'."""
    if text.strip().lower() == "closed":
        return "closed"
    for part in text.split(","):
        match = _HOURS_RANGE.match(part.strip())
        if not match:
            raise ValueError(f"{text!r} is not 'closed' or ranges like '08:30-12:30, 14:00-19:30'")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if not (h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60 and (h1, m1) < (h2, m2)):
            raise ValueError(f"{part.strip()!r} is not a valid time range")
    return ", ".join(p.strip() for p in text.split(","))


_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def _check_window(text: str) -> str:
    """A time window of one day: '09:00-13:00'."""
    match = _WINDOW.match(text.strip())
    if not match or match.group(1) + match.group(2) >= match.group(3) + match.group(4):
        raise ValueError(f"{text!r} is not a time window like '09:00-13:00'")
    return text.strip()


# Who an SMS is from (twilio.com/docs/messaging/guides/alphanumeric-sender-id): a number in
# E.164, a short code, or an alphanumeric sender ID (up to 11 letters, digits and spaces, a
# letter among them), which recipients see as a name and cannot reply to.
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_SHORT_CODE = re.compile(r"^\d{3,8}$")
_ALPHANUMERIC_ID = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
SenderKind = Literal["number", "short_code", "alphanumeric"]


def sender_kind(sender: str) -> SenderKind | None:
    """Which kind of SMS sender `sender` is, or None when it is none of them."""
    if _E164.match(sender):
        return "number"
    if _SHORT_CODE.match(sender):
        return "short_code"
    if _ALPHANUMERIC_ID.match(sender):
        return "alphanumeric"
    return None


def _check_sender(text: str) -> str:
    # A number is written as people write it ("+39 02 1234 5678") and sent as E.164.
    sender = re.sub(r"[\s\-.()]", "", text) if text.strip().startswith("+") else text.strip()
    if sender_kind(sender) is None:
        raise ValueError(
            f"{text!r} is not an SMS sender: give a number in E.164 (+ and the country "
            "code, e.g. +390212345678), a short code, or an alphanumeric sender ID (up to "
            "11 letters, digits or spaces, with at least one letter)"
        )
    return sender


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]
TimeWindow = Annotated[str, AfterValidator(_check_window)]
LocaleTag = Annotated[str, AfterValidator(_check_locale)]
PhoneRegion = Annotated[str, AfterValidator(_check_region)]
EmailAddress = Annotated[str, AfterValidator(_check_email)]
DayHours = Annotated[str, AfterValidator(_check_hours)]
NonEmpty = Annotated[str, Field(min_length=1)]
SmsSender = Annotated[str, AfterValidator(_check_sender)]
