"""The legibility floor (design section 8): 14 pt key facts, 11 pt body, on every slip printed."""

from __future__ import annotations

from datetime import date, datetime
from itertools import count
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from notifier.config import Settings
from notifier.config.loading import load_settings
from notifier.rendering.context import ParcelFacts, format_hours
from notifier.slips.legibility import (
    BODY_FLOOR_PT,
    KEY_FLOOR_PT,
    SlipSizes,
    below_floor,
    measure_slips,
)
from notifier.slips.model import Slip
from notifier.slips.pdf import render_slips_pdf
from notifier.vocabulary import Reason, Status
from tests.conftest import REPO, TEST_SECRET_KEY, make_settings
from tests.integration.printing import grouped as printed_grouping
from tests.pdftools import need_tools, page_texts

pytestmark = pytest.mark.slow

ROME = ZoneInfo("Europe/Rome")
# The longest day and month names there are, in both languages: Wednesday, September.
ATTEMPT = datetime(2026, 9, 23, 10, 49, tzinfo=ROME)
NOW = datetime(2026, 9, 23, 12, 0, tzinfo=ROME)
NEXT_ATTEMPT = date(2026, 9, 30)
HELD_UNTIL = date(2026, 9, 30)
RECIPIENT = "Maria Carmela Dell'Acqua-Ricciardi"
SENDER = "Libreria Sant'Orsola di Giovanni Bartolomeo e Figli"
TOKEN = "Qx7rT2mKp9LwZ4vB8nHc3d"
# What comes next, as config.example.toml's depot, pickup point and locker give it.
VARIANTS: dict[str, dict[str, Any]] = {
    "next-attempt": {"next_attempt_date": NEXT_ATTEMPT, "next_attempt_window": "10:00-14:00"},
    "next-attempt-day-only": {"next_attempt_date": NEXT_ATTEMPT},
    "pickup-point-held": {"pickup_point": "PP-MI-12", "held_until": HELD_UNTIL},
    "pickup-point": {"pickup_point": "PP-MI-12"},
    "locker-held": {"pickup_point": "LK-MI-03", "held_until": HELD_UNTIL},
    "depot-held": {"held_until": HELD_UNTIL},
    "depot": {},
    "depot-held-link-only": {"held_until": HELD_UNTIL, "short_code": None},
    "nothing-known": {"depot": None},
}
DEADLINE = {
    "it": {"next": "entro martedì 29 settembre, 18:00", "held": "entro mercoledì 30 settembre"},
    "en": {"next": "by Tuesday 29 September, 18:00", "held": "by Wednesday 30 September"},
}
TRUST = {
    "it": "Non chiediamo mai pagamenti né dati della carta via SMS, email o link",
    "en": "We never ask for payment or card details by text, email or link",
}
CALL = {"it": "Assistenza clienti: +39 02 1234 5678", "en": "Customer service: +39 02 1234 5678"}


@pytest.fixture(scope="module")
def settings() -> Settings:
    env = {"NOTIFIER_DATABASE_URL": "sqlite://", "NOTIFIER_SECRET_KEY": TEST_SECRET_KEY}
    return load_settings(REPO / "config.example.toml", env)


def make_facts(settings: Settings, n: int, reason: Reason, **changes: Any) -> ParcelFacts:
    fields: dict[str, Any] = {
        "tracking_number": f"RP{n:09d}IT",
        "carrier": "rapido",
        "status": Status.DELIVERY_ATTEMPTED,
        "reason": reason,
        "occurred_at": ATTEMPT,
        "recipient_name": RECIPIENT,
        "sender_name": SENDER,
        "depot": "MI01",
        "rebooking_url": f"{settings.company.rebooking_base_url}{TOKEN}",
        "short_code": "K7MQ2XHP",
    }
    return ParcelFacts(**{**fields, **changes})


@pytest.fixture(scope="module")
def matrix(settings: Settings) -> list[tuple[str, Slip]]:
    """Every reason, every next step, both languages, the long names: one language each."""
    numbers = count(1)
    return [
        (f"{reason}/{variant}/{locale}", Slip(make_facts(settings, n, reason, **changes), locale))
        for reason in Reason
        for variant, changes in VARIANTS.items()
        for locale, n in (("it", next(numbers)), ("en", next(numbers)))
    ]


@pytest.fixture(scope="module")
def sizes(matrix: list[tuple[str, Slip]], settings: Settings) -> list[SlipSizes]:
    return measure_slips([slip for _, slip in matrix], settings=settings, now=NOW)


def test_every_single_language_slip_keeps_the_floor_on_one_page(
    matrix: list[tuple[str, Slip]], sizes: list[SlipSizes]
) -> None:
    assert len(sizes) == len(Reason) * len(VARIANTS) * 2
    problems = []
    for (label, slip), size in zip(matrix, sizes, strict=True):
        assert size.tracking_number == slip.facts.tracking_number
        assert size.locales == (slip.locale,)
        problems += [f"{label}: {breach}" for breach in below_floor(size)]
        if size.pages != 1:
            problems.append(f"{label}: {size.pages} A6 pages")
    assert problems == []
    assert min(size.key_pt for size in sizes) >= KEY_FLOOR_PT
    assert min(size.body_pt for size in sizes) >= BODY_FLOOR_PT


def test_the_reflowed_slips_still_say_everything_they_must(
    matrix: list[tuple[str, Slip]], settings: Settings, tmp_path: Path
) -> None:
    need_tools()
    pdf = tmp_path / "matrix.pdf"
    slips = [slip for _, slip in matrix]
    pdf.write_bytes(render_slips_pdf(slips, settings=settings, layout="a6", now=NOW))
    texts = page_texts(pdf)
    assert len(texts) == len(matrix)
    for (label, slip), text in zip(matrix, texts, strict=True):
        facts, locale = slip.facts, slip.locale
        squeezed = "".join(text.split())
        words = text.lower().split()
        assert "today" not in words, label
        assert "oggi" not in words, label
        assert "".join(SENDER.split()) in squeezed, label
        assert "".join(RECIPIENT.split()) in squeezed, label
        assert CALL[locale] in text, label
        assert format_hours(settings.company.phone_hours, locale) in text, label
        assert settings.company.email in text, label
        assert TRUST[locale] in text, label
        tracking = facts.tracking_number
        assert printed_grouping(tracking) in text, label
        assert ("K7MQ2XHP" if facts.short_code else f"rapido.example/r/{TOKEN}") in squeezed, label
        assert "10:49" in text, label
        assert ("23 settembre" if locale == "it" else "23 September") in text, label
        if facts.next_attempt_date:
            assert DEADLINE[locale]["next"] in text, label
        elif facts.held_until:
            assert DEADLINE[locale]["held"] in text, label
        places = [*settings.pickup_points, *settings.depots]
        code = facts.pickup_point or facts.depot
        if code and not facts.next_attempt_date:
            place = next(p for p in places if p.code == code)
            assert "".join(place.name.split()) in squeezed, label
            assert place.address in text, label
            assert format_hours(place.hours, locale) in text, label


def test_a_bilingual_slip_takes_a_second_page_rather_than_small_type(settings: Settings) -> None:
    held = make_facts(settings, 1, Reason.SIGNATURE_REQUIRED, **VARIANTS["depot-held"])
    next_attempt = make_facts(settings, 2, Reason.RECIPIENT_ABSENT, **VARIANTS["next-attempt"])
    slips = [Slip(held, "it", "en"), Slip(next_attempt, "en", "it")]
    sizes = measure_slips(slips, settings=settings, now=NOW)
    assert [size.locales for size in sizes] == [("it", "en"), ("en", "it")]
    assert [below_floor(size) for size in sizes] == [[], []]
    assert min(size.body_pt for size in sizes) >= BODY_FLOOR_PT
    assert [size.pages for size in sizes] == [2, 2]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("body { font-size: 9pt; }", "body text at 9 pt, below the 11 pt floor"),
        (".key { font-size: 12pt; }", "key facts at 12 pt, below the 14 pt floor"),
        (".trust { font-size: 10.5pt; }", "body text at 10.5 pt, below the 11 pt floor"),
        (".code { font-size: 13pt; }", "key facts at 13 pt, below the 14 pt floor"),
    ],
    ids=["body-9pt", "key-12pt", "trust-line-10.5pt", "short-code-13pt"],
)
def test_type_below_the_floor_is_reported(rule: str, expected: str, tmp_path: Path) -> None:
    override = tmp_path / "templates"
    (override / "slips").mkdir(parents=True)
    shipped = (REPO / "templates" / "slips" / "slip.css").read_text(encoding="utf-8")
    (override / "slips" / "slip.css").write_text(f"{shipped}\n{rule}\n", encoding="utf-8")
    settings = make_settings("sqlite://", templates={"override_dir": str(override)})
    slip = Slip(make_facts(settings, 7, Reason.RECIPIENT_ABSENT, **VARIANTS["depot-held"]), "en")
    (size,) = measure_slips([slip], settings=settings, now=NOW)
    assert below_floor(size) == [f"RP000000007IT: {expected}"]


@pytest.mark.parametrize(
    ("key_pt", "body_pt", "expected"),
    [
        (14.0, 11.0, []),
        (16.0, 12.5, []),
        (13.99, 11.0, ["RP1: key facts at 13.99 pt, below the 14 pt floor"]),
        (0.0, 11.0, ['RP1: no key facts (class "key")']),
        (14.0, 0.0, []),
    ],
    ids=["at-the-floor", "above", "just-below", "no-key-facts", "no-body-text"],
)
def test_below_floor_words_each_breach(key_pt: float, body_pt: float, expected: list[str]) -> None:
    size = SlipSizes("RP1", ("it",), key_pt=key_pt, body_pt=body_pt, pages=1)
    assert below_floor(size) == expected
