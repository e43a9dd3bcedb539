"""Whom an erasure or access request is about: a phone number or an email address, in the
forms the database may hold it in."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from sqlalchemy import func
from sqlalchemy.sql.elements import ColumnElement

from notifier.carriers.contacts import parse_email
from notifier.db.tables import CONTACTS
from notifier.errors import NotifierError
from notifier.vocabulary import CHANNEL_CONTACT, ContactKind


class PersonNotGivenError(NotifierError, ValueError):
    """give --phone or --email (one of them)"""


@dataclass(frozen=True, slots=True)
class Person:
    """`address` is the normalised form ingest stores (E.164; the checked email address);
    `spellings` add the form as typed, which is how an invalid contact point was kept."""

    kind: ContactKind
    address: str
    spellings: frozenset[str]

    @property
    def channels(self) -> list[str]:
        return [str(c) for c, kind in CHANNEL_CONTACT.items() if kind is self.kind]

    @property
    def pairs(self) -> set[tuple[str, str]]:
        """(channel, address) for every channel that reaches this person and every spelling."""
        return {(c, s) for c in self.channels for s in self.spellings}

    def contact_matches(self) -> ColumnElement[bool]:
        """Contact points of this person: email in any case (opt-outs' rule, 0013)."""
        if self.kind is ContactKind.EMAIL:
            lowered = sorted({s.lower() for s in self.spellings})
            return (CONTACTS.c.kind == self.kind) & func.lower(CONTACTS.c.value).in_(lowered)
        return (CONTACTS.c.kind == self.kind) & CONTACTS.c.value.in_(sorted(self.spellings))


def person_from(*, phone: str | None, email: str | None, default_region: str) -> Person:
    """The person the options name; PersonNotGivenError unless exactly one is given.

    A phone number is taken to E.164 as ingest does (company.default_phone_region for a
    national form), whatever its type: a landline's row must go too.
    """
    if (phone is None) == (email is None):
        raise PersonNotGivenError()
    if phone is not None:
        given = phone.strip()
        try:
            number = phonenumbers.parse(given, default_region)
        except phonenumbers.NumberParseException as exc:
            raise PersonNotGivenError(f"--phone: not a phone number ({exc._msg})") from None
        if not phonenumbers.is_possible_number(number):
            raise PersonNotGivenError("--phone: not a possible number for its region")
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return Person(ContactKind.PHONE, e164, frozenset({e164, given}))
    assert email is not None
    given = email.strip()
    if "@" not in given:
        raise PersonNotGivenError("--email: not an email address (no @)")
    checked = parse_email(given)
    return Person(ContactKind.EMAIL, checked.value.lower(), frozenset({checked.value, given}))
