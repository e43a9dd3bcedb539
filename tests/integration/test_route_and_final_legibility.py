"""The legibility floor (design section 8) on route packs' slips and final notices: 14 pt
key facts, 11 pt body, one A6 page for one language, with the longest real names."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from notifier.config import Settings
from notifier.config.loading import load_settings
from notifier.rendering.context import ParcelFacts
from notifier.slips.legibility import BODY_FLOOR_PT, KEY_FLOOR_PT, below_floor, measure_slips
from notifier.slips.model import Slip, SlipKind
from notifier.slips.pdf import render_slips_pdf
from notifier.vocabulary import Status
from tests.conftest import REPO, TEST_SECRET_KEY
from tests.integration.printing import grouped as printed_grouping
from tests.pdftools import need_tools, page_texts, qr_codes

pytestmark = pytest.mark.slow

ROME = ZoneInfo("Europe/Rome")
# The longest day and month names there are, in both languages: Wednesday, September.
ROUND = date(2026, 9, 23)
NOW = datetime(2026, 9, 23, 6, 30, tzinfo=ROME)
RECIPIENT = "Niccolò Bartolomeo Fiorentino-Sant'Angelo"
SENDER = "Libreria Sant'Orsola di Giovanni Bartolomeo e Figli"
TOKEN = "Qx7rT2mKp9LwZ4vB8nHc3d"
VARIANTS: dict[SlipKind, dict[str, dict[str, Any]]] = {
    "route": {
        "out-for-delivery": {"status": Status.OUT_FOR_DELIVERY},
        "planned": {"status": Status.IN_TRANSIT},
        "next-attempt-later": {
            "status": Status.OUT_FOR_DELIVERY,
            "next_attempt_date": date(2026, 9, 30),
            "next_attempt_window": "10:00-14:00",
        },
        "link-only": {"status": Status.OUT_FOR_DELIVERY, "short_code": None},
    },
    "final": {
        "pickup-point": {"pickup_point": "PP-MI-12"},
        "locker": {"pickup_point": "LK-MI-03"},
        "depot": {},
        "unknown-pickup-point": {"pickup_point": "PP-XX-99"},
        "link-only": {"pickup_point": "PP-MI-12", "short_code": None},
    },
}


@pytest.fixture(scope="module")
def settings() -> Settings:
    env = {"NOTIFIER_DATABASE_URL": "sqlite://", "NOTIFIER_SECRET_KEY": TEST_SECRET_KEY}
    return load_settings(REPO / "config.example.toml", env)


def make_slip(settings: Settings, n: int, kind: SlipKind, locale: str, **changes: Any) -> Slip:
    fields: dict[str, Any] = {
        "tracking_number": f"RP{n:09d}IT",
        "carrier": "rapido",
        "status": Status.AVAILABLE_FOR_PICKUP,
        "reason": None,
        "occurred_at": NOW,
        "recipient_name": RECIPIENT,
        "sender_name": SENDER,
        "depot": "MI01",
        "rebooking_url": f"{settings.company.rebooking_base_url}{TOKEN}{n}",
        "short_code": "K7MQ2XHP",
    }
    if kind == "final":
        fields["held_until"] = date(2026, 9, 26)
    facts = ParcelFacts(**{**fields, **changes})
    return Slip(facts, locale, kind=kind, round_day=ROUND if kind == "route" else None)


@pytest.fixture(scope="module")
def matrix(settings: Settings) -> list[tuple[str, Slip]]:
    found = []
    for kind, variants in VARIANTS.items():
        for variant, changes in variants.items():
            for locale in ("it", "en"):
                slip = make_slip(settings, len(found) + 1, kind, locale, **changes)
                found.append((f"{kind}/{variant}/{locale}", slip))
    return found


def test_every_route_slip_and_final_notice_keeps_the_floor_on_one_page(
    matrix: list[tuple[str, Slip]], settings: Settings
) -> None:
    sizes = measure_slips([slip for _, slip in matrix], settings=settings, now=NOW)
    problems = []
    for (label, _), size in zip(matrix, sizes, strict=True):
        problems += [f"{label}: {breach}" for breach in below_floor(size)]
        if size.pages != 1:
            problems.append(f"{label}: {size.pages} A6 pages")
    assert problems == []
    assert min(size.key_pt for size in sizes) >= KEY_FLOOR_PT
    assert min(size.body_pt for size in sizes) >= BODY_FLOOR_PT


def test_they_still_say_everything_and_every_code_scans_at_100_dpi(
    matrix: list[tuple[str, Slip]], settings: Settings, tmp_path: Path
) -> None:
    need_tools()
    pdf = tmp_path / "matrix.pdf"
    slips = [slip for _, slip in matrix]
    pdf.write_bytes(render_slips_pdf(slips, settings=settings, layout="a6", now=NOW))
    texts = page_texts(pdf)
    assert qr_codes(pdf, dpi=100) == [[slip.facts.rebooking_url] for slip in slips]
    for (label, slip), text in zip(matrix, texts, strict=True):
        squeezed = "".join(text.split())
        assert "".join(RECIPIENT.split()) in squeezed, label
        assert "".join(SENDER.split()) in squeezed, label
        number = slip.facts.tracking_number
        assert printed_grouping(number) in text, label
        assert ("K7MQ2XHP" if slip.facts.short_code else f"rapido.example/r/{TOKEN}") in squeezed
        assert "+39 02 1234 5678" in text, label
        italian = slip.locale == "it"
        assert ("23 settembre" if italian else "23 September") in text or slip.kind == "final"
        if slip.kind == "final":
            assert ("sabato 26 settembre" if italian else "Saturday 26 September") in text, label
        words = text.lower().split()
        assert "today" not in words, label
        assert "oggi" not in words, label
