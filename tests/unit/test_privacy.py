"""Privacy's pure parts: whom a request names, the keyed hash, the [privacy] section."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pydantic import ValidationError

from notifier.config.privacy import Privacy
from notifier.outbox.suppression import HASH_PREFIX, hashed_address
from notifier.privacy.person import PersonNotGivenError, person_from
from notifier.privacy.scrub import payload_marker
from notifier.vocabulary import ContactKind

KEY = b"a-secret-key"


@pytest.mark.parametrize(
    ("given", "e164"),
    [
        ("+39 347 918 2736", "+393479182736"),
        ("347 918 2736", "+393479182736"),  # national: company.default_phone_region
        ("0039 347 9182736", "+393479182736"),
        ("+39 02 1234 5678", "+390212345678"),  # a landline's rows must go too
    ],
    ids=["international", "national", "00-prefix", "landline"],
)
def test_a_phone_is_taken_to_e164_as_ingest_does(given: str, e164: str) -> None:
    person = person_from(phone=given, email=None, default_region="IT")
    assert (person.kind, person.address) == (ContactKind.PHONE, e164)
    assert person.spellings == {e164, given}
    assert person.channels == ["sms"]


def test_an_email_is_one_mailbox_in_any_case() -> None:
    person = person_from(phone=None, email=" Mario.Rossi@Example.IT ", default_region="IT")
    assert person.address == "mario.rossi@example.it"
    assert person.channels == ["email"]


@pytest.mark.parametrize(
    ("phone", "email", "named"),
    [
        (None, None, "--phone or --email"),
        ("+39 347 918 2736", "a@b.it", "--phone or --email"),
        ("not a number", None, "--phone"),
        ("+39 1", None, "--phone"),
        (None, "nobody", "--email"),
    ],
    ids=["neither", "both", "words", "too-short", "no-at"],
)
def test_a_request_names_one_person(phone: str | None, email: str | None, named: str) -> None:
    with pytest.raises(PersonNotGivenError, match=named):
        person_from(phone=phone, email=email, default_region="IT")


def test_the_hash_is_keyed_stable_and_blind_to_an_emails_case() -> None:
    one = hashed_address(KEY, "email", "Mario.Rossi@example.it")
    assert one == hashed_address(KEY, "email", "mario.rossi@EXAMPLE.it")
    assert one != hashed_address(b"another-key", "email", "mario.rossi@example.it")
    assert one.startswith(HASH_PREFIX)
    assert len(one) == len(HASH_PREFIX) + 64
    assert "mario" not in one
    # Not the link key's own MAC of the address: the key is derived with a label.
    plain = hmac.new(KEY, b"mario.rossi@example.it", hashlib.sha256).hexdigest()
    assert one != HASH_PREFIX + plain
    assert hashed_address(KEY, "sms", "+393479182736") != hashed_address(
        KEY, "sms", "+393479182737"
    )


@pytest.mark.parametrize("days", [0, -1, 3651], ids=["zero-is-not-off", "negative", "too-long"])
def test_retention_has_no_off_and_a_ceiling(days: int) -> None:
    with pytest.raises(ValidationError, match="retention_days"):
        Privacy(retention_days=days)


def test_retention_defaults_to_ninety_days() -> None:
    assert Privacy().retention_days == 90


def test_a_scrubbed_payload_is_still_json_and_says_why() -> None:
    assert payload_marker("erasure") == '{"_scrubbed": "erasure"}'
