"""Checking and normalising recipients' phone numbers (E.164) and email addresses."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from notifier.vocabulary import ContactKind, ContactPoint

# Numbers that can take an SMS; FIXED_LINE_OR_MOBILE is how some plans (US, CA) look.
_TEXTABLE = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    phonenumbers.PhoneNumberType.PAGER,
}

MAX_EMAIL_LENGTH = 320  # RFC 3696 errata: 64 local + @ + 255 domain

# A shipment's contacts come back with each of its events, often tens of thousands of
# lines apart in a day's export; checking a number or address again costs ~100 us, while
# an entry costs ~300 bytes. 65,536 entries (about 20 MB each) keep a day's recipients.
CONTACT_CACHE_SIZE = 65_536


@lru_cache(maxsize=CONTACT_CACHE_SIZE)
def parse_phone(raw: str, default_region: str) -> ContactPoint:
    """E.164 when the number is valid and can take an SMS; otherwise kept with the reason."""
    given = raw.strip()[:64]
    try:
        number = phonenumbers.parse(given, default_region)
    except phonenumbers.NumberParseException as exc:
        return ContactPoint(ContactKind.PHONE, given, False, f"not a phone number: {exc._msg}")
    # number_type is UNKNOWN exactly when is_valid_number is false; asking once halves
    # the pattern matching, the dearest step of ingesting an event.
    kind = phonenumbers.number_type(number)
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        return ContactPoint(ContactKind.PHONE, given, False, "not a valid number for its region")
    if kind not in _TEXTABLE:
        return ContactPoint(ContactKind.PHONE, given, False, "not a mobile number: cannot take SMS")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return ContactPoint(ContactKind.PHONE, e164, True)


@lru_cache(maxsize=CONTACT_CACHE_SIZE)
def parse_email(raw: str) -> ContactPoint:
    given = raw.strip()[:MAX_EMAIL_LENGTH]
    try:
        checked = validate_email(given, check_deliverability=False)
    except EmailNotValidError as exc:
        return ContactPoint(ContactKind.EMAIL, given, False, str(exc)[:200])
    return ContactPoint(ContactKind.EMAIL, checked.normalized, True)
