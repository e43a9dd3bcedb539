"""One inbound SMS answered: what it asks for, done by the rules the rest of notifier keeps
(opt-outs, the page's booking rules), and the text to answer with, in one transaction.

What a number may get back, once per MessageSid:
- STOP (and its peers): texts stop; confirmed once, beyond any limit, since the law asks
  for it and it cannot repeat until the number opts in again. Email is another channel.
- START: texts resume, confirmed within the limit.
- HELP: the company's name, phone and hours, within the limit (also with replies off).
- a digit: the option the last options SMS numbered so, booked for that parcel as its page
  would book it; the confirmation follows through the outbox, so the answer is empty.
- anything else: the latest live parcel's status and link; an unknown number gets help.
Where Twilio's Advanced Opt-Out matched the keyword (`OptOutType`), Twilio has answered
it already: the opt-out is recorded and our answer is empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jinja2 import Environment
from sqlalchemy import Connection, Engine

from notifier.config import Settings
from notifier.db.engine import write_transaction
from notifier.locales import language_for
from notifier.outbox import store as outbox
from notifier.rebooking.choices import (
    ChoiceInvalidError,
    ChoiceLockedError,
    ParcelDoneError,
    SlotFullError,
)
from notifier.rebooking.sms_menu import menu_options, option_for
from notifier.rebooking.store import Parcel, book, open_shipment_parcel
from notifier.rendering.context import (
    build_context,
    choice_view,
    company_context,
    facts_on_shipment,
)
from notifier.rendering.environment import render_message
from notifier.replies import store
from notifier.replies.keywords import Ask, read_reply
from notifier.replies.limits import over_limit
from notifier.vocabulary import Channel

ANSWER_TEMPLATE = "answer"  # templates/sms/<locale>/answer.txt, by `answer.kind`


@dataclass(frozen=True, slots=True)
class Inbound:
    """An SMS a recipient sent us, as Twilio posted it."""

    provider_id: str  # Twilio's MessageSid
    sender: str  # the From number, E.164 as Twilio gives it
    # The recipient's own words: read once here, never stored, logged or repeated.
    body: str = field(repr=False)
    opt_out_type: str | None = None  # STOP, START or HELP when Twilio answered it itself


@dataclass(frozen=True, slots=True)
class _Turn:
    """One message's answering: where it runs and what it needs."""

    connection: Connection
    message: Inbound
    settings: Settings
    templates: Environment
    now: datetime

    @property
    def number(self) -> str:
        return self.message.sender


# (text to answer with or None, the inbound row's kind, the parcel it was about)
_Answer = tuple[str | None, str, int | None]


def answer_inbound(
    engine: Engine,
    message: Inbound,
    *,
    settings: Settings,
    templates: Environment,
    now: datetime,
) -> str | None:
    """The text to answer with; None for an empty answer (a retry, a limit, nothing to say).

    Everything it does commits with the record of the message, or not at all: a failure
    leaves Twilio's retry to do it all again.
    """
    with write_transaction(engine) as connection:
        row_id = store.record_inbound(
            connection, provider_id=message.provider_id, sender=message.sender, now=now
        )
        if row_id is None:
            return None  # the same MessageSid again: answered already
        turn = _Turn(connection, message, settings, templates, now)
        text, kind, shipment_id = _answer(turn, row_id)
        store.finish_inbound(connection, row_id, kind=kind, shipment_id=shipment_id)
        return text


def _answer(turn: _Turn, row_id: int) -> _Answer:
    reading = read_reply(turn.message.body, opt_out_type=turn.message.opt_out_type)
    twilio_answered = reading.answered_by_twilio
    connection, number = turn.connection, turn.number
    if reading.ask is Ask.STOP:
        reason = "Twilio opt-out (OptOutType)" if twilio_answered else "SMS reply: STOP"
        fresh = outbox.record_opt_out(
            connection, channel=Channel.SMS, address=number, reason=reason, now=turn.now
        )
        # Confirmed once: a second STOP finds the number opted out already.
        text = _say(turn, "stopped") if fresh and not twilio_answered else None
        return text, str(Ask.STOP), None
    limited = over_limit(store.handled_since(connection, number, row_id=row_id, now=turn.now))
    if reading.ask is Ask.START:
        outbox.remove_opt_out(
            connection, channel=Channel.SMS, address=number, link_key=turn.settings.link_key
        )
        text = None if limited or twilio_answered else _say(turn, "started")
        return text, str(Ask.START), None
    if limited:
        return None, store.LIMITED, None
    if reading.ask is Ask.HELP:
        return (None if twilio_answered else _say(turn, "help")), str(Ask.HELP), None
    # Beyond the words the law asks us to honour: only with replies on, and never to a
    # number that asked for no more texts.
    if not turn.settings.channels.sms.replies or outbox.opted_out(
        connection, [(Channel.SMS, number)], link_key=turn.settings.link_key
    ):
        return None, str(reading.ask), None
    if reading.ask is Ask.CHOICE and reading.digit is not None:
        return _choose(turn, reading.digit)
    return _status(turn)


def _status(turn: _Turn) -> _Answer:
    parcel = _latest_parcel(turn)
    if parcel is None:
        return _say(turn, "help"), str(Ask.HELP), None
    return _say(turn, "status", parcel), str(Ask.QUESTION), parcel.shipment.id


def _latest_parcel(turn: _Turn) -> Parcel | None:
    shipment_id = store.latest_live_shipment(turn.connection, turn.number, now=turn.now)
    return None if shipment_id is None else _open(turn, shipment_id)


def _open(turn: _Turn, shipment_id: int) -> Parcel | None:
    settings = turn.settings
    return open_shipment_parcel(
        turn.connection, shipment_id, key=settings.link_key, settings=settings, now=turn.now
    )


def _choose(turn: _Turn, digit: int) -> _Answer:
    """Book what the last options SMS numbered `digit`, for the parcel it was about."""
    offered = store.offered_options(turn.connection, turn.number)
    parcel = _open(turn, offered.shipment_id) if offered is not None else None
    if offered is None or parcel is None:
        # No options SMS this number can still answer: say so about its latest parcel.
        latest = _latest_parcel(turn)
        if latest is None:
            return _say(turn, "help"), str(Ask.HELP), None
        return _say(turn, "unavailable", latest, digit=digit), str(Ask.CHOICE), latest.shipment.id
    shipment = parcel.shipment
    if shipment.status_occurred_at != offered.attempted_at:
        # The parcel has moved on since: the options no longer say what is true.
        return _say(turn, "status", parcel), str(Ask.QUESTION), shipment.id
    options = menu_options(
        turn.settings,
        depot=shipment.depot,
        pickup_point=shipment.pickup_point,
        attempted_at=offered.attempted_at,
    )
    option = option_for(options, digit)
    text: str | None
    if option is None:
        return _say(turn, "unavailable", parcel, digit=digit), str(Ask.CHOICE), shipment.id
    try:
        # A refused choice undoes its own writes only: the message stays recorded.
        with turn.connection.begin_nested():
            book(
                turn.connection,
                link=parcel.link,
                shipment=shipment,
                choice=option.choice,
                submission=turn.message.provider_id,
                settings=turn.settings,
                now=turn.now,
            )
    except SlotFullError:
        chosen = choice_view(option.choice, turn.settings, _language(turn, parcel))
        text = _say(turn, "full", parcel, digit=digit, choice=chosen)
    except ChoiceLockedError:
        text = _say(turn, "locked", parcel)
    except ParcelDoneError:
        text = _say(turn, "status", parcel)
    except ChoiceInvalidError:
        text = _say(turn, "unavailable", parcel, digit=digit)
    else:
        text = None  # the booking's confirmation goes out through the outbox
    return text, str(Ask.CHOICE), shipment.id


def _language(turn: _Turn, parcel: Parcel | None) -> str:
    """The parcel's recipient's language, else that of the number's newest parcel, else
    the company's."""
    if parcel is not None:
        requested = parcel.shipment.recipient_locale
    else:
        requested = store.sender_locale(turn.connection, turn.number)
    return str(language_for(requested, turn.settings.company.default_locale))


def _say(turn: _Turn, kind: str, parcel: Parcel | None = None, **answer: Any) -> str:
    """The answer of this kind in the recipient's language, about `parcel` when given."""
    settings, language = turn.settings, _language(turn, parcel)
    context: dict[str, Any]
    if parcel is None:
        context = {"company": company_context(settings, language), "locale": language}
    else:
        shipment = parcel.shipment
        facts = facts_on_shipment(
            shipment,
            status=shipment.status,
            reason=shipment.reason,
            occurred_at=shipment.status_occurred_at,
            rebooking_url=parcel.link.url,
            short_code=parcel.link.code,
            with_name=False,
        )
        context = build_context(facts, settings=settings, locale=language, now=turn.now)
    # `questions`: whether a question gets an answer (channels.sms.replies), for help to say.
    questions = settings.channels.sms.replies
    context["answer"] = {"kind": kind, "digit": None, "choice": None, "questions": questions}
    context["answer"] |= answer
    text = render_message(
        turn.templates,
        channel=Channel.SMS,
        template=ANSWER_TEMPLATE,
        locale=language,
        context=context,
    )
    return text.body
