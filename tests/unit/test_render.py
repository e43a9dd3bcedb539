"""Message templates: every one renders in Italian and English, with full or minimal facts."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from notifier.config import Settings
from notifier.errors import TemplateMissingError
from notifier.locales import SHIPPED_LANGUAGES, language_for
from notifier.rendering.context import ParcelFacts, build_context, format_hours, group_tracking
from notifier.rendering.environment import build_environment, render_message
from notifier.rendering.smstext import normalise_sms, sms_encoding
from notifier.vocabulary import Channel, Reason, Status
from tests.conftest import make_settings

NOW = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
TEMPLATES = [
    "created",
    "out_for_delivery",
    "missed_delivery",
    "missed_delivery_payment",
    "missed_delivery_reminder",
    "ready_for_pickup",
    "pickup_reminder",
    "delivered",
    "exception",
    "returning",
]
PICKUP = {
    "code": "PP-MI-12",
    "name": "Edicola Centrale",
    "address": "Piazza Esempio 3, 20124 Milano MI",
    "hours": {d: "07:00-19:30" for d in ("mon", "tue", "wed", "thu", "fri")}
    | {"sat": "07:00-13:00"},
}
FULL = ParcelFacts(
    tracking_number="RP123456789IT",
    carrier="rapido",
    status=Status.DELIVERY_ATTEMPTED,
    reason=Reason.RECIPIENT_ABSENT,
    occurred_at=datetime(2026, 11, 22, 9, 49, tzinfo=UTC),
    recipient_name="Giovanni Bianchi",
    sender_name="Libreria Sant'Orsola",
    depot="MI01",
    next_attempt_date=date(2026, 11, 24),
    next_attempt_window="10:00-14:00",
    held_until=date(2026, 12, 2),
    pickup_point="PP-MI-12",
    estimated_delivery=date(2026, 11, 24),
    rebooking_url="https://rapido.example/r/Hq3xL0fE6yYbqj2m9k0aBw",
    short_code="K7M4QX2P",
)
MINIMAL = ParcelFacts(
    tracking_number="RP9X",
    carrier="",
    status=Status.DELIVERY_ATTEMPTED,
    reason=None,
    occurred_at=datetime(2026, 11, 20, 9, 49, tzinfo=UTC),
    depot="NOWHERE",
)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return make_settings("sqlite://", pickup_points=[PICKUP])


@pytest.mark.parametrize("locale", ["it", "en"])
@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("facts", [FULL, MINIMAL], ids=["full", "minimal"])
def test_every_template_renders_in_both_languages(
    settings: Settings, template: str, locale: str, facts: ParcelFacts
) -> None:
    env = build_environment(settings)
    context = build_context(facts, settings=settings, locale=locale, now=NOW)
    sms = render_message(env, channel="sms", template=template, locale=locale, context=context)
    email = render_message(env, channel="email", template=template, locale=locale, context=context)
    for text in (sms.body, email.body, email.subject or "", email.body_html or ""):
        assert "None" not in text
        assert "()" not in text
        assert " ." not in text
        assert " ," not in text
    grouped = group_tracking(facts.tracking_number)
    assert grouped in sms.body or facts.tracking_number in sms.body
    assert "+39 02 1234 5678" in sms.body
    # Someone waiting for two parcels tells the emails apart in the inbox, unopened.
    assert grouped in (email.subject or "")
    assert grouped in email.body
    assert "+39 02 1234 5678" in email.body
    hours = {"it": "lun–ven 08:00–20:00", "en": "Mon–Fri 08:00–20:00"}[locale]
    source, _, _ = env.loader.get_source(env, f"sms/{locale}/{template}.txt")  # type: ignore[union-attr]
    if "phone_hours" in source:
        assert normalise_sms(hours) in sms.body
    assert hours in email.body
    assert email.body_html is not None
    assert f'lang="{locale}"' in email.body_html
    assert grouped in email.body_html
    encoding = sms_encoding(sms.body)
    assert encoding.encoding == "GSM-7", sms.body
    assert encoding.segments <= 2, (encoding, sms.body)


def test_italian_dates_for_an_italian_recipient(settings: Settings) -> None:
    context = build_context(FULL, settings=settings, locale="it", now=NOW)
    email = render_message(
        build_environment(settings),
        channel="email",
        template="missed_delivery",
        locale="it",
        context=context,
    )
    assert "oggi alle 10:49" in email.body
    assert "martedì 24 novembre, 10:00–14:00" in email.body
    assert "non c'era nessuno" in email.body
    sms = render_message(
        build_environment(settings),
        channel="sms",
        template="missed_delivery",
        locale="it",
        context=context,
    )
    assert "mar 24/11, 10:00-14:00" in sms.body  # short, and the en dash made plain for GSM-7


def test_english_dates(settings: Settings) -> None:
    context = build_context(FULL, settings=settings, locale="en", now=NOW)
    assert context["next_attempt"] == "Tuesday 24 November, 10:00–14:00"
    assert context["event_time"] == "10:49"


def test_the_html_part_escapes_what_recipients_typed(settings: Settings) -> None:
    facts = ParcelFacts(
        tracking_number=FULL.tracking_number,
        carrier="",
        status=Status.DELIVERED,
        reason=None,
        occurred_at=FULL.occurred_at,
        recipient_name="<script>alert(1)</script>",
    )
    context = build_context(facts, settings=settings, locale="en", now=NOW)
    email = render_message(
        build_environment(settings),
        channel="email",
        template="delivered",
        locale="en",
        context=context,
    )
    assert "<script>" not in (email.body_html or "")
    assert "&lt;script&gt;" in (email.body_html or "")
    assert "https://rapido.example" in (email.body_html or "")


def test_an_override_directory_replaces_one_template(tmp_path: Path) -> None:
    (tmp_path / "sms" / "it").mkdir(parents=True)
    (tmp_path / "sms" / "it" / "delivered.txt").write_text(
        "Consegnato {{ tracking_grouped }}!", encoding="utf-8"
    )
    settings = make_settings("sqlite://", templates={"override_dir": str(tmp_path)})
    env = build_environment(settings)
    context = build_context(FULL, settings=settings, locale="it", now=NOW)
    assert render_message(
        env, channel="sms", template="delivered", locale="it", context=context
    ).body == ("Consegnato RP12 3456 789IT!")
    other = render_message(env, channel="sms", template="created", locale="it", context=context)
    assert "abbiamo ricevuto" in other.body


def test_a_missing_template_is_named(settings: Settings) -> None:
    context = build_context(FULL, settings=settings, locale="it", now=NOW)
    with pytest.raises(TemplateMissingError, match=r"sms/it/nonexistent\.txt"):
        render_message(
            build_environment(settings),
            channel="sms",
            template="nonexistent",
            locale="it",
            context=context,
        )


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("it", "it"),
        ("it-IT", "it"),
        ("EN_gb", "en"),
        ("en-GB", "en"),
        ("fr", "it"),
        ("de", "it"),
        (None, "it"),
        ("", "it"),
    ],
)
def test_language_for(settings: Settings, requested: str | None, expected: str) -> None:
    language = language_for(requested, settings.company.default_locale)
    assert language == expected
    assert language in SHIPPED_LANGUAGES


@pytest.mark.parametrize(("default", "expected"), [("fr", "en"), ("en-US", "en"), ("it", "it")])
def test_an_unshipped_default_falls_back_to_english(default: str, expected: str) -> None:
    assert language_for("de-CH", default) == expected


def test_opening_hours_collapse_equal_days(settings: Settings) -> None:
    (pickup,) = settings.pickup_points
    assert format_hours(pickup.hours, "it") == "lun–ven 07:00–19:30, sab 07:00–13:00"
    assert format_hours(pickup.hours, "en") == "Mon–Fri 07:00–19:30, Sat 07:00–13:00"


HOSTILE_SENDER = "Amazon\nDogana: paga 1,99 EUR su https://evil.example/p"


@pytest.mark.parametrize("locale", ["it", "en"])
def test_a_sender_name_with_a_line_break_and_a_link_stays_inert_text(
    settings: Settings, locale: str
) -> None:
    facts = dataclasses.replace(FULL, status=Status.CREATED, sender_name=HOSTILE_SENDER)
    env = build_environment(settings)
    context = build_context(facts, settings=settings, locale=locale, now=NOW)
    sms = render_message(env, channel="sms", template="created", locale=locale, context=context)
    email = render_message(env, channel="email", template="created", locale=locale, context=context)
    assert "evil[.]example/p" in email.body
    # An SMS gives a sender the room it needs, no more.
    assert "Amazon Dogana: paga 1,99 EUR su..." in sms.body
    for body in (sms.body, email.body):
        assert "https://evil" not in body
        assert not [line for line in body.splitlines() if line.strip().startswith("Dogana")]
    assert email.body_html is not None
    assert "evil" not in "".join(email.body_html.split('href="')[1:]).split('"')[0]
    links = [part.split('"')[0] for part in email.body_html.split('href="')[1:]]
    assert links
    assert all("evil" not in link for link in links)
    assert FULL.rebooking_url in links  # the template's own address is still a link


def test_only_addresses_the_template_was_given_become_links(settings: Settings) -> None:
    env = build_environment(settings)
    context = build_context(FULL, settings=settings, locale="it", now=NOW)
    email = render_message(
        env, channel="email", template="missed_delivery", locale="it", context=context
    )
    assert email.body_html is not None
    assert f'<a href="{FULL.rebooking_url}"' in email.body_html
    assert "overflow-wrap:anywhere" in email.body_html  # long links wrap on a phone


@pytest.mark.parametrize(
    ("now", "changes", "can_choose", "choose_by"),
    [
        pytest.param(
            datetime(2026, 11, 22, 11, 0, tzinfo=UTC),
            {},
            True,
            "lunedì 23 novembre, 18:00",
            id="before-the-evening-before-the-next-attempt",
        ),
        pytest.param(
            datetime(2026, 11, 23, 17, 30, tzinfo=UTC),  # 18:30 in Rome
            {},
            False,
            None,
            id="the-depot-list-is-printed",
        ),
        pytest.param(
            datetime(2026, 11, 22, 11, 0, tzinfo=UTC),
            {"next_attempt_date": None, "next_attempt_window": None},
            True,
            "mercoledì 2 dicembre",
            id="held-parcel-its-last-day",
        ),
        pytest.param(
            datetime(2026, 11, 22, 11, 0, tzinfo=UTC),
            {
                "status": Status.CREATED,
                "reason": None,
                "next_attempt_date": None,
                "next_attempt_window": None,
                "held_until": None,
            },
            True,
            "lunedì 23 novembre, 18:00",
            id="before-any-attempt-the-expected-day-counts",
        ),
        pytest.param(
            datetime(2026, 11, 22, 11, 0, tzinfo=UTC),
            {"rebooking_url": None},
            False,
            None,
            id="no-link-no-invitation",
        ),
        pytest.param(
            datetime(2026, 11, 22, 11, 0, tzinfo=UTC),
            {"status": Status.DELIVERED, "reason": None},
            False,
            None,
            id="delivered",
        ),
    ],
)
def test_a_message_invites_a_choice_only_while_one_counts(
    settings: Settings,
    now: datetime,
    changes: dict[str, object],
    can_choose: bool,
    choose_by: str | None,
) -> None:
    facts = dataclasses.replace(FULL, **changes)  # type: ignore[arg-type]
    context = build_context(facts, settings=settings, locale="it", now=now)
    assert (context["can_choose"], context["choose_by"]) == (can_choose, choose_by)


@pytest.mark.parametrize(
    ("locale", "that_day"), [("it", "Se quel giorno"), ("en", "If you will not be in that day")]
)
def test_we_have_your_parcel_speaks_of_that_day_only_when_it_names_one(
    settings: Settings, locale: str, that_day: str
) -> None:
    """Without an expected day, "if you will not be in that day" points at nothing."""
    environment = build_environment(settings)
    created = dataclasses.replace(FULL, status=Status.CREATED, reason=None)
    undated = dataclasses.replace(created, estimated_delivery=None)
    bodies = {}
    for name, facts in (("dated", created), ("undated", undated)):
        context = build_context(facts, settings=settings, locale=locale, now=NOW)
        assert context["can_choose"]
        bodies[name] = render_message(
            environment, channel=Channel.EMAIL, template="created", locale=locale, context=context
        ).body
    assert that_day in bodies["dated"]
    assert "24" in bodies["dated"].split(that_day)[0]  # the day is named before it
    assert that_day not in bodies["undated"]
    assert ("giorno" if locale == "it" else "another day") in bodies["undated"]
    assert FULL.rebooking_url is not None
    assert FULL.rebooking_url in bodies["undated"]


def test_a_next_attempt_whose_day_is_over_is_not_announced(settings: Settings) -> None:
    two_days_later = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    context = build_context(FULL, settings=settings, locale="it", now=two_days_later)
    assert context["next_attempt"] is None
    text = render_message(
        build_environment(settings),
        channel=Channel.SMS,
        template="missed_delivery_reminder",
        locale=language_for("it", "it"),
        context=context,
    )
    assert "24/11" not in text.body
    on_the_day = build_context(
        FULL, settings=settings, locale="it", now=datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    )
    assert on_the_day["next_attempt"] == "martedì 24 novembre, 10:00–14:00"


@pytest.mark.parametrize(
    ("number", "grouped"),
    [
        ("RP123456789IT", "RP12 3456 789IT"),  # S10: the country never split off
        ("1Z999AA10123456784", "1Z99 9AA1 0123 4567 84"),
        ("ABCDEFGHI", "ABCD EFGHI"),
        ("ABCDEFGH", "ABCD EFGH"),
        ("ABCDE", "ABCDE"),
        ("ABC", "ABC"),
    ],
)
def test_tracking_numbers_read_in_fours_without_a_lone_last_character(
    number: str, grouped: str
) -> None:
    assert group_tracking(number) == grouped
