"""Reading an SMS reply, the per-number limit, the options a digit books and how the SMS
numbering them is settled: pure."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from notifier.config import Settings
from notifier.outbox.rows import ClaimedRow
from notifier.rebooking.choices import Booked, Choice
from notifier.rebooking.sms_menu import (
    MenuOption,
    follows_missed_delivery,
    menu_options,
    open_options,
    option_for,
)
from notifier.replies.keywords import Ask, Reading, bare_word, read_reply
from notifier.replies.limits import REPLY_LIMITS, over_limit
from notifier.sending.settle import fallback_target, stale_because
from notifier.shipments import EventRecord
from notifier.templatecheck.samples import base_facts, sample_shipment
from notifier.vocabulary import Channel, ContactKind, ContactPoint, Reason, RebookOption, Status
from tests.conftest import make_settings

READINGS = [
    ("STOP", Reading(Ask.STOP)),
    ("Stop", Reading(Ask.STOP)),
    ("  stop! ", Reading(Ask.STOP)),
    ("stop.", Reading(Ask.STOP)),
    ("¡STOP!", Reading(Ask.STOP)),
    ("\u200bstop\u200e", Reading(Ask.STOP)),
    ("StopAll", Reading(Ask.STOP)),
    ("unsubscribe", Reading(Ask.STOP)),
    ("Cancel", Reading(Ask.STOP)),
    ("END", Reading(Ask.STOP)),
    ("quit", Reading(Ask.STOP)),
    ("ANNULLA", Reading(Ask.STOP)),
    ("annullà", Reading(Ask.STOP)),
    ("Basta!!!", Reading(Ask.STOP)),
    ("arrèsta", Reading(Ask.STOP)),
    ("START", Reading(Ask.START)),
    ("unstop", Reading(Ask.START)),
    ("Inizia", Reading(Ask.START)),
    ("inizià", Reading(Ask.START)),
    ("RIATTIVA.", Reading(Ask.START)),
    ("help", Reading(Ask.HELP)),
    ("Info?", Reading(Ask.HELP)),
    ("aiuto!", Reading(Ask.HELP)),
    ("2", Reading(Ask.CHOICE, 2)),
    (" 1. ", Reading(Ask.CHOICE, 1)),
    ("#3", Reading(Ask.CHOICE, 3)),
    ("２", Reading(Ask.CHOICE, 2)),  # a full-width digit, as some keyboards type it
    ("12", Reading(Ask.CHOICE, 12)),  # a wrong number, answered as one
    ("dov'è il mio pacco?", Reading(Ask.QUESTION)),
    ("stop please", Reading(Ask.QUESTION)),  # not the whole message
    ("please stop", Reading(Ask.QUESTION)),
    ("STOP ALL", Reading(Ask.QUESTION)),
    ("S-T-O-P", Reading(Ask.QUESTION)),
    ("2 grazie", Reading(Ask.QUESTION)),
    ("RP123456789IT", Reading(Ask.QUESTION)),
    ("3331234567", Reading(Ask.QUESTION)),
    ("٢", Reading(Ask.QUESTION)),  # an Arabic-Indic digit numbers none of our options
    ("", Reading(Ask.QUESTION)),
    ("   ", Reading(Ask.QUESTION)),
    ("stop" * 500, Reading(Ask.QUESTION)),
]


@pytest.mark.parametrize(("body", "expected"), READINGS, ids=[repr(b[:20]) for b, _ in READINGS])
def test_a_keyword_is_the_whole_message_whatever_its_case_accents_and_punctuation(
    body: str, expected: Reading
) -> None:
    assert read_reply(body) == expected


@pytest.mark.parametrize(
    ("opt_out_type", "body", "expected"),
    [
        ("STOP", "REVOKE", Ask.STOP),  # a word of Twilio's own list, not of ours
        ("stop", "", Ask.STOP),
        ("START", "YES", Ask.START),
        ("HELP", "help me", Ask.HELP),
        ("", "stop", Ask.STOP),
        ("SOMETHING", "2", Ask.CHOICE),  # a value Twilio may add later: the body decides
    ],
)
def test_twilios_opt_out_type_wins_over_the_body(
    opt_out_type: str, body: str, expected: Ask
) -> None:
    reading = read_reply(body, opt_out_type=opt_out_type)
    assert reading.ask is expected
    # Only a value Twilio answered itself spares us our own answer.
    assert reading.answered_by_twilio is (opt_out_type.upper() in ("STOP", "START", "HELP"))


def test_the_bare_word_drops_accents_and_surrounding_marks_only() -> None:
    assert bare_word("  Annullà! ") == "ANNULLA"
    assert bare_word("dov'è") is None
    assert bare_word("") is None


def test_the_limit_counts_each_window() -> None:
    (short, short_most), (day, day_most) = REPLY_LIMITS
    assert not over_limit({})
    assert not over_limit({short: short_most - 1, day: day_most - 1})
    assert over_limit({short: short_most, day: short_most})
    assert over_limit({short: 0, day: day_most})


ROME_MONDAY_1049 = datetime(2026, 11, 30, 9, 49, tzinfo=UTC)  # Monday 10:49 in Rome


def menu_settings(**rebooking: Any) -> Settings:
    return make_settings(
        "sqlite://",
        rebooking={"sms_reply_menu": True, **rebooking},
        pickup_points=[
            {"code": "PP-1", "name": "Edicola", "address": "Piazza 1"},
            {"code": "PP-2", "name": "Locker", "address": "Piazza 2"},
        ],
    )


def test_each_digit_books_one_kind_from_the_attempt_alone() -> None:
    settings = menu_settings()
    options = menu_options(settings, depot="MI01", pickup_point=None, attempted_at=ROME_MONDAY_1049)
    tuesday = date(2026, 12, 1)
    assert options == [
        MenuOption(1, Choice(RebookOption.SLOT, day=tuesday, window="09:00-13:00")),
        MenuOption(2, Choice(RebookOption.PICKUP, pickup_point="PP-1")),
        MenuOption(3, Choice(RebookOption.CALLBACK, day=tuesday, window="09:00-12:00")),
    ]
    # Read again at the reply, hours later, the digits mean the same.
    assert options == menu_options(
        settings, depot="MI01", pickup_point=None, attempted_at=ROME_MONDAY_1049
    )


@pytest.mark.parametrize(
    ("local", "window"),
    [
        ("10:49", "09:00-13:00"),
        ("15:30", "14:00-18:00"),
        ("13:30", "14:00-18:00"),  # between slots: the next one that day
        ("07:10", "09:00-13:00"),
        ("19:00", "09:00-13:00"),  # after the last: the first
    ],
)
def test_the_slot_is_the_one_the_driver_came_in(local: str, window: str) -> None:
    hour, minute = map(int, local.split(":"))
    attempted = datetime(2026, 11, 30, hour - 1, minute, tzinfo=UTC)  # Rome is UTC+1
    (slot, *_) = menu_options(
        menu_settings(), depot="MI01", pickup_point=None, attempted_at=attempted
    )
    assert slot.choice.window == window


def test_the_parcels_own_pickup_point_and_only_what_the_depot_offers() -> None:
    settings = make_settings(
        "sqlite://",
        rebooking={"sms_reply_menu": True},
        pickup_points=[{"code": "PP-1", "name": "Edicola", "address": "Piazza 1"}],
        depots=[
            {
                "code": "MI01",
                "name": "Milano Nord",
                "address": "Via Esempio 12",
                "rebooking_options": ["pickup", "neighbour"],
            }
        ],
    )
    options = menu_options(
        settings, depot="MI01", pickup_point="PP-1", attempted_at=ROME_MONDAY_1049
    )
    assert [(o.digit, o.choice.pickup_point) for o in options] == [(2, "PP-1")]
    # No pickup points at all: the depot's own counter.
    bare = menu_settings().model_copy(update={"pickup_points": []})
    (_, pickup, _) = menu_options(
        bare, depot="MI01", pickup_point=None, attempted_at=ROME_MONDAY_1049
    )
    assert pickup.choice.pickup_point == "MI01"
    assert option_for(options, 1) is None


def test_nothing_is_numbered_unless_ops_turned_it_on_and_replies_are_answered() -> None:
    off = make_settings("sqlite://")
    assert menu_options(off, depot="MI01", pickup_point=None, attempted_at=ROME_MONDAY_1049) == []
    silent = make_settings(
        "sqlite://", rebooking={"sms_reply_menu": True}, channels={"sms": {"replies": False}}
    )
    assert (
        menu_options(silent, depot="MI01", pickup_point=None, attempted_at=ROME_MONDAY_1049) == []
    )


def test_options_close_with_the_lock_and_their_days() -> None:
    settings = menu_settings()
    options = menu_options(settings, depot="MI01", pickup_point=None, attempted_at=ROME_MONDAY_1049)
    tuesday = date(2026, 12, 1)
    same_day = ROME_MONDAY_1049 + timedelta(hours=2)
    assert open_options(options, settings=settings, next_attempt=None, now=same_day) == options
    # Past Monday 18:00 Tuesday is no longer on offer: only the pickup point is left.
    evening = datetime(2026, 11, 30, 17, 30, tzinfo=UTC)
    assert [
        o.digit for o in open_options(options, settings=settings, next_attempt=None, now=evening)
    ] == [2]
    # The depot's list for Tuesday's attempt is printed: nothing can be chosen.
    assert open_options(options, settings=settings, next_attempt=tuesday, now=evening) == []


def test_the_options_sms_follows_only_while_its_options_stay_open() -> None:
    settings = menu_settings()
    tuesday = date(2026, 12, 1)
    facts = {"depot": "MI01", "pickup_point": None, "attempted_at": ROME_MONDAY_1049}
    assert follows_missed_delivery(settings, **facts, next_attempt=tuesday, due_at=ROME_MONDAY_1049)
    # Due at 17:30 Rome, locked at 18:00: within the hour it must stay open for.
    late = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)
    assert not follows_missed_delivery(settings, **facts, next_attempt=tuesday, due_at=late)
    assert not follows_missed_delivery(
        make_settings("sqlite://"), **facts, next_attempt=None, due_at=ROME_MONDAY_1049
    )


def _claimed(purpose: str) -> ClaimedRow:
    return ClaimedRow(
        id=1,
        shipment_id=1,
        status_event_id=1,
        rebooking_id=None,
        channel="sms",
        purpose=purpose,
        template=purpose,
        locale="it",
        recipient="+393331234567",
        attempts=1,
    )


def test_the_options_sms_has_no_fallback_and_stops_once_a_choice_is_made() -> None:
    settings = menu_settings()
    missed = EventRecord(1, Status.DELIVERY_ATTEMPTED, Reason.RECIPIENT_ABSENT, ROME_MONDAY_1049)
    contacts = [
        ContactPoint(ContactKind.PHONE, "+393331234567", True),
        ContactPoint(ContactKind.EMAIL, "giovanni@example.it", True),
    ]
    by_email = (Channel.EMAIL, "giovanni@example.it")
    for purpose, expected in (("missed_delivery", by_email), ("reply_options", None)):
        target = fallback_target(
            _claimed(purpose), event=missed, contacts=contacts, opted_out=set(), settings=settings
        )
        assert target == expected
    chosen = Booked(
        id=1,
        choice=Choice(RebookOption.PICKUP, pickup_point="PP-1"),
        created_at=ROME_MONDAY_1049 + timedelta(minutes=3),
        due_at=None,
    )
    shipment = sample_shipment(
        base_facts(settings, status=Status.DELIVERY_ATTEMPTED, reason=Reason.RECIPIENT_ABSENT)
    )
    stale = stale_because(
        _claimed("reply_options"),
        shipment=shipment,
        event=missed,
        booking=None,
        choice=chosen,
        settings=settings,
    )
    assert stale == "stale: the recipient has chosen since"
