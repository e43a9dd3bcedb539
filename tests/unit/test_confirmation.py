"""The rebooking confirmation: every kind renders in both languages, SMS within 2 GSM-7 segments."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from notifier.config import Settings
from notifier.rebooking.choices import Booked, Choice
from notifier.rendering.context import ParcelFacts, build_context, group_tracking
from notifier.rendering.environment import build_environment, render_message
from notifier.rendering.smstext import sms_encoding
from tests.conftest import make_settings
from tests.unit.test_render import FULL, MINIMAL, NOW, PICKUP

TEMPLATE = "rebooking_confirmed"
TUESDAY = date(2026, 11, 24)
# Realistic values: what people type, at the lengths they type it.
CHOICES = {
    "slot": Choice(kind="slot", day=TUESDAY, window="09:00-13:00"),
    "pickup": Choice(kind="pickup", pickup_point="PP-MI-12"),
    "pickup_depot": Choice(kind="pickup", pickup_point="MI01"),
    "neighbour": Choice(
        kind="neighbour", neighbour_name="Maria Rossi", neighbour_door="scala B, interno 4"
    ),
    "safe_place": Choice(kind="safe_place", instructions="Nel box auto, la porta a sinistra"),
    "callback": Choice(kind="callback", day=TUESDAY, window="14:00-17:00"),
    "dispute": Choice(kind="dispute", instructions="Ero in casa, il campanello funziona"),
}


@pytest.fixture(scope="module")
def settings() -> Settings:
    return make_settings("sqlite://", pickup_points=[PICKUP])


def booked(choice: Choice) -> Booked:
    due = datetime(2026, 11, 24, 13, 0, tzinfo=UTC) if choice.kind == "callback" else None
    return Booked(id=7, choice=choice, created_at=NOW, due_at=due)


def render(
    settings: Settings, facts: ParcelFacts, choice: Choice, locale: str
) -> tuple[str, str, str, str]:
    env = build_environment(settings)
    context = build_context(
        facts, settings=settings, locale=locale, now=NOW, booking=booked(choice)
    )
    sms = render_message(env, channel="sms", template=TEMPLATE, locale=locale, context=context)
    email = render_message(env, channel="email", template=TEMPLATE, locale=locale, context=context)
    return sms.body, email.subject or "", email.body, email.body_html or ""


@pytest.mark.parametrize("locale", ["it", "en"])
@pytest.mark.parametrize("kind", list(CHOICES))
@pytest.mark.parametrize("facts", [FULL, MINIMAL], ids=["full", "minimal"])
def test_every_kind_renders_in_both_languages(
    settings: Settings, kind: str, locale: str, facts: ParcelFacts
) -> None:
    sms, subject, body, html = render(settings, facts, CHOICES[kind], locale)
    for text in (sms, subject, body, html):
        assert "None" not in text
        assert "()" not in text
        assert " ." not in text
        assert " ," not in text
    assert subject
    grouped = group_tracking(facts.tracking_number)
    for text in (sms, body):
        assert grouped in text
        assert "+39 02 1234 5678" in text
        if facts.rebooking_url:
            assert facts.rebooking_url in text  # how to change the choice
    # The phone's hours: in the email; an SMS spends its characters on the choice itself.
    assert "08:00–20:00" in body
    assert "08:00" not in sms.replace(facts.next_attempt_window or "-", "")
    assert body.count(facts.rebooking_url or "\0") <= 1  # the footer does not repeat it
    assert f'lang="{locale}"' in html
    encoding = sms_encoding(sms)
    assert encoding.encoding == "GSM-7", sms
    assert encoding.segments <= 2, (encoding, sms)


@pytest.mark.parametrize(
    ("locale", "day", "day_short"),
    [("it", "martedì 24 novembre", "mar 24/11"), ("en", "Tuesday 24 November", "Tue 24/11")],
)
def test_a_slot_says_the_day_and_window_in_the_recipients_words(
    settings: Settings, locale: str, day: str, day_short: str
) -> None:
    sms, subject, body, _ = render(settings, FULL, CHOICES["slot"], locale)
    assert f"{day_short}, 09:00-13:00" in sms  # the en dash made plain for GSM-7
    assert f"{day}, 09:00–13:00" in subject
    assert day in body
    assert "09:00–13:00" in body
    # Changeable until 18:00 the evening before.
    assert ("lunedì 23 novembre" if locale == "it" else "Monday 23 November") in body


def test_the_booking_context(settings: Settings) -> None:
    context = build_context(
        FULL, settings=settings, locale="it", now=NOW, booking=booked(CHOICES["callback"])
    )
    booking = context["booking"]
    assert booking["kind"] == "callback"
    assert booking["day"] == "martedì 24 novembre"
    assert booking["window"] == "14:00–17:00"
    assert booking["callback_due"] == "14:00"
    assert booking["manage_url"] == FULL.rebooking_url
    assert (booking["change_until_day"], booking["change_until_time"]) == (
        "lunedì 23 novembre",
        "18:00",
    )
    pickup = build_context(
        FULL, settings=settings, locale="en", now=NOW, booking=booked(CHOICES["pickup"])
    )["booking"]["place"]
    assert pickup["name"] == "Edicola Centrale"
    assert pickup["address"] == "Piazza Esempio 3, 20124 Milano MI"
    assert pickup["hours"] == "Mon–Fri 07:00–19:30, Sat 07:00–13:00"
    depot = build_context(
        FULL, settings=settings, locale="en", now=NOW, booking=booked(CHOICES["pickup_depot"])
    )["booking"]["place"]
    assert depot["name"] == "Milano Nord"
    assert build_context(FULL, settings=settings, locale="it", now=NOW)["booking"] is None


def test_what_the_recipient_typed_is_shown_back_in_the_email_and_escaped(
    settings: Settings,
) -> None:
    choice = Choice(kind="safe_place", instructions='<b>garage</b> & "cortile"')
    sms, _, body, html = render(settings, FULL, choice, "it")
    assert '<b>garage</b> & "cortile"' in body
    assert "&lt;b&gt;garage&lt;/b&gt; &amp;" in html
    assert "garage" not in sms  # free text stays out of the SMS: its length is unknown
    assert "non risponde di furti" in body  # ops' safe-place wording


def test_a_long_neighbour_name_does_not_push_the_sms_past_two_segments(
    settings: Settings,
) -> None:
    choice = Choice(
        kind="neighbour",
        neighbour_name="Famiglia Bartolomei-Santangelo della Rovere",
        neighbour_door="scala C, piano 3, interno 12, citofono 'Bartolomei'",
    )
    sms, _, body, _ = render(settings, FULL, choice, "it")
    assert sms_encoding(sms).segments <= 2, sms
    assert "Famiglia Bartolomei-Santangelo della Rovere" in body
