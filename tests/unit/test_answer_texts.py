"""Every answer to a recipient's SMS, in each language, for each status, reason and
situation of the template check's samples, on the example config: the checks the message
matrix makes of what we send (GSM-7 in two segments at most, one language, the tracking
number, a link wherever a choice is invited), and the options SMS the same way."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from notifier.config import Settings
from notifier.config.loading import load_settings
from notifier.rebooking.choices import Choice
from notifier.rendering.context import build_context, choice_view, company_context
from notifier.rendering.environment import build_environment, render_message
from notifier.rendering.smstext import sms_encoding
from notifier.replies.answer import ANSWER_TEMPLATE
from notifier.templatecheck.language import foreign_words, name_forms
from notifier.templatecheck.samples import BOOKED_DAY, message_samples, proper_names
from notifier.vocabulary import Channel, Reason, RebookOption, Status
from tests.conftest import TEST_SECRET_KEY

REPO = Path(__file__).resolve().parents[2]
LANGUAGES = ("it", "en")
INVITES = re.compile(r"scelga|choose|another day|altro giorno", re.IGNORECASE)
WITHOUT_PARCEL = ("stopped", "started", "help")
ABOUT_A_PARCEL = ("status", "full", "locked", "unavailable")


@pytest.fixture(scope="module")
def settings() -> Settings:
    shipped = load_settings(REPO / "config.example.toml", {"NOTIFIER_SECRET_KEY": TEST_SECRET_KEY})
    rebooking = shipped.rebooking.model_copy(update={"sms_reply_menu": True})
    return shipped.model_copy(update={"rebooking": rebooking})


class Texts:
    """Renders SMS with the example config's one environment, and says what is wrong."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.env = build_environment(settings)
        self.names = name_forms(self.env, proper_names(settings))

    def render(self, language: str, context: dict[str, Any], template: str) -> str:
        return render_message(
            self.env, channel=Channel.SMS, template=template, locale=language, context=context
        ).body

    def problems(self, text: str, language: str) -> list[str]:
        found = []
        encoding = sms_encoding(text)
        most = self.settings.templates.sms_max_segments
        if encoding.encoding != "GSM-7" or encoding.segments > most:
            found.append(f"{encoding.encoding}, {encoding.segments} segments")
        words = foreign_words(text, language=language, names=self.names)
        if words:
            found.append(f"other language: {[w.word for w in words]}")
        if "None" in text or "  " in text:
            found.append("a gap")
        return found


@pytest.fixture(scope="module")
def texts(settings: Settings) -> Texts:
    return Texts(settings)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", WITHOUT_PARCEL)
def test_an_answer_about_no_parcel_fits_and_speaks_one_language(
    texts: Texts, settings: Settings, language: str, kind: str
) -> None:
    context = {
        "company": company_context(settings, language),
        "locale": language,
        "answer": {"kind": kind, "digit": None, "choice": None, "questions": True},
    }
    text = texts.render(language, context, ANSWER_TEMPLATE)
    assert texts.problems(text, language) == [], text
    assert text.startswith(settings.company.name)
    if kind == "help":
        assert settings.company.phone in text
        assert context["company"]["phone_hours"].replace("–", "-") in text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("status", list(Status))
def test_every_answer_about_a_parcel_fits_and_names_it(
    texts: Texts, settings: Settings, language: str, status: Status
) -> None:
    slot = Choice(RebookOption.SLOT, day=BOOKED_DAY, window=settings.rebooking.slots[-1].window)
    chosen = choice_view(slot, settings, language)
    problems = []
    for reason in (None, *Reason):
        for sample in message_samples(settings, status=status, reason=reason):
            context = build_context(
                sample.facts, settings=settings, locale=language, now=sample.now
            )
            for kind in ABOUT_A_PARCEL:
                context["answer"] = {"kind": kind, "digit": 7, "choice": chosen, "questions": True}
                text = texts.render(language, context, ANSWER_TEMPLATE)
                found = texts.problems(text, language)
                if context["tracking_grouped"] not in text:
                    found.append("no tracking number")
                if INVITES.search(text) and not (
                    sample.facts.rebooking_url and sample.facts.rebooking_url in text
                ):
                    found.append("invites a choice without a link")
                problems += [(sample.label, kind, p, text) for p in found]
    assert problems == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_options_sms_fits_in_every_situation(
    texts: Texts, settings: Settings, language: str
) -> None:
    problems, numbered = [], 0
    for reason in (None, Reason.SIGNATURE_REQUIRED, Reason.PAYMENT_REQUIRED):
        for sample in message_samples(settings, status=Status.DELIVERY_ATTEMPTED, reason=reason):
            context = build_context(
                sample.facts, settings=settings, locale=language, now=sample.now
            )
            text = texts.render(language, context, "reply_options")
            numbered += bool(context["reply_options"])
            found = texts.problems(text, language)
            if context["tracking_grouped"] not in text:
                found.append("no tracking number")
            problems += [(sample.label, p, text) for p in found]
    assert problems == []
    assert numbered  # the samples do number options, not only the fallback text
