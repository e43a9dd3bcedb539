"""Slips as printed: real PDFs from WeasyPrint, read back with poppler and zbar."""

from __future__ import annotations

import math
import re
import secrets
import shutil
from collections.abc import Iterator
from datetime import date, datetime
from itertools import cycle
from pathlib import Path
from typing import Any

import pytest

from notifier.config import Settings
from notifier.rendering.context import ParcelFacts, format_hours
from notifier.slips.legibility import below_floor, measure_slips
from notifier.slips.model import Slip
from notifier.slips.pdf import ExternalResourceError, render_slips_html, render_slips_pdf
from notifier.vocabulary import Reason, Status
from tests.conftest import NOW, make_settings, require
from tests.pdftools import page_count, page_size_pt, page_texts, qr_codes, run

TRUST = {
    "it": "Non chiediamo mai pagamenti né dati della carta via SMS, email o link",
    "en": "We never ask for payment or card details by text, email or link",
}

pytestmark = pytest.mark.slow

TOOLS = ("pdftoppm", "pdftotext", "pdfinfo", "zbarimg")
A6_PT = (297.64, 419.53)
A4_PT = (595.28, 841.89)
MARGIN_PT = 6 / 25.4 * 72
BATCH = 50
# 09:49 UTC is 10:49 in Rome, the company's time zone.
ATTEMPT = datetime(2026, 11, 22, 9, 49, tzinfo=NOW.tzinfo)
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
HOURS = {"mon": "07:00-20:00", "tue": "07:00-20:00", "wed": "07:00-20:00",
         "thu": "07:00-20:00", "fri": "07:00-21:00", "sat": "08:00-13:00"}  # fmt: skip
LONG_NAME = " ".join(["Maria-Assunta Ångström-Łukasiewicz"] * 6)[:200]
LONG_ADDRESS = ("Via dei Cavalieri di Vittorio Veneto " * 10)[:300]


@pytest.fixture(scope="module", autouse=True)
def _tools() -> None:
    for tool in TOOLS:
        if shutil.which(tool) is None:
            require(tool, f"{tool} not on PATH (poppler-utils, zbar-tools)")


@pytest.fixture(scope="module")
def settings() -> Settings:
    return make_settings(
        "sqlite://",
        pickup_points=[
            {"code": "PP01", "name": "Tabaccheria Da Gino", "hours": HOURS,
             "address": "Corso Buenos Aires 44, 20124 Milano", "phone": "+39 02 555 1234"},
            {"code": "LONG", "name": "Edicola " + "Grande " * 6, "address": LONG_ADDRESS,
             "hours": HOURS},
        ],
    )  # fmt: skip


def make_facts(settings: Settings, n: int, **changes: Any) -> ParcelFacts:
    base = str(settings.company.rebooking_base_url).rstrip("/")
    fields: dict[str, Any] = {
        "tracking_number": f"RP{n:09d}IT",
        "carrier": "rapido",
        "status": Status.DELIVERY_ATTEMPTED,
        "reason": Reason.RECIPIENT_ABSENT,
        "occurred_at": ATTEMPT,
        "recipient_name": "Giovanni Bianchi",
        "sender_name": "Libreria Sant'Orsola",
        "depot": "MI01",
        "next_attempt_date": date(2026, 11, 24),
        "next_attempt_window": "10:00-14:00",
        "rebooking_url": f"{base}/{secrets.token_urlsafe(16)[:22]}",
        "short_code": "".join(secrets.choice(CODE_ALPHABET) for _ in range(8)),
    }
    return ParcelFacts(**{**fields, **changes})


def batch(settings: Settings) -> list[Slip]:
    """Every reason, three kinds of next step, both languages, some with a second one."""
    slips = []
    kinds = cycle(["attempt", "pickup", "depot"])
    reasons = cycle(Reason)
    for n in range(BATCH):
        kind = next(kinds)
        changes: dict[str, Any] = {"reason": next(reasons)}
        if kind != "attempt":
            changes |= {"next_attempt_date": None, "held_until": date(2026, 11, 29)}
        if kind == "pickup":
            changes["pickup_point"] = "PP01"
        locale = "it" if n % 2 else "en"
        second = ("en" if locale == "it" else "it") if n % 5 == 0 else None
        slips.append(Slip(make_facts(settings, n, **changes), locale, second))
    return slips


def pages_of(slips: list[Slip]) -> list[tuple[Slip, str]]:
    """The page each language block of each slip prints on: a second language is a whole
    slip of its own on the next page, never squeezed onto the first one."""
    return [
        (slip, locale)
        for slip in slips
        for locale in dict.fromkeys((slip.locale, slip.second_locale))
        if locale
    ]


@pytest.fixture(scope="module")
def slips(settings: Settings) -> list[Slip]:
    return batch(settings)


@pytest.fixture(scope="module")
def a6_pdf(slips: list[Slip], settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("a6") / "slips.pdf"
    path.write_bytes(render_slips_pdf(slips, settings=settings, layout="a6", now=NOW))
    return path


@pytest.fixture(scope="module")
def a4_pdf(slips: list[Slip], settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("a4") / "slips.pdf"
    path.write_bytes(render_slips_pdf(slips, settings=settings, layout="a4x4", now=NOW))
    return path


@pytest.fixture
def render(settings: Settings, tmp_path: Path) -> Iterator[Any]:
    def to_pdf(slips: list[Slip], layout: str = "a6", **kwargs: Any) -> Path:
        path = tmp_path / f"{layout}-{len(list(tmp_path.glob('*.pdf')))}.pdf"
        kwargs.setdefault("settings", settings)
        path.write_bytes(render_slips_pdf(slips, layout=layout, now=NOW, **kwargs))
        return path

    return to_pdf


def test_a6_batch_prints_one_page_per_slip_and_language(a6_pdf: Path, slips: list[Slip]) -> None:
    bilingual = sum(1 for slip in slips if slip.second_locale)
    assert bilingual == 10
    assert page_count(a6_pdf) == len(pages_of(slips)) == BATCH + bilingual
    assert page_size_pt(a6_pdf) == pytest.approx(A6_PT, abs=0.5)


def test_a4_sheets_hold_four_a6_pages_each(a4_pdf: Path, slips: list[Slip], tmp_path: Path) -> None:
    pages = pages_of(slips)
    assert page_count(a4_pdf) == math.ceil(len(pages) / 4) == 15
    assert page_size_pt(a4_pdf) == pytest.approx(A4_PT, abs=0.5)
    decoded = qr_codes(a4_pdf, dpi=150, cells=(2, 2))
    for sheet, found in enumerate(decoded):
        urls = [slip.facts.rebooking_url for slip, _ in pages[sheet * 4 : sheet * 4 + 4]]
        assert sorted(found) == sorted(urls), f"sheet {sheet + 1}"


def test_every_qr_decodes_to_its_own_slips_url(
    a6_pdf: Path, slips: list[Slip], tmp_path: Path
) -> None:
    decoded = qr_codes(a6_pdf, dpi=150)
    assert decoded == [[slip.facts.rebooking_url] for slip, _ in pages_of(slips)]


def test_qr_still_decodes_at_100_dpi(render: Any, settings: Settings, tmp_path: Path) -> None:
    slip = Slip(make_facts(settings, 7), "it")
    assert qr_codes(render([slip]), dpi=100) == [[slip.facts.rebooking_url]]


def test_every_page_says_what_happened_what_next_and_whom_to_call(
    a6_pdf: Path, slips: list[Slip], settings: Settings
) -> None:
    texts = page_texts(a6_pdf)
    company = settings.company
    for (slip, locale), text in zip(pages_of(slips), texts, strict=True):
        facts = slip.facts
        code = facts.short_code
        assert facts.tracking_number[:4] + " " + facts.tracking_number[4:8] in text
        assert f"{code[:4]} {code[4:]}" in text
        assert company.phone in text
        # The phone's hours in the page's own language, never the other's day names.
        hours = format_hours(company.phone_hours, locale)
        assert hours is not None
        assert hours in text
        assert company.email in text
        assert "rapido.example/r" in text
        assert "10:49" in text
        if facts.next_attempt_date:
            assert ("martedì 24 novembre" if locale == "it" else "Tuesday 24 November") in text
            assert "10:00–14:00" in text
        elif facts.pickup_point:
            assert "Tabaccheria Da Gino" in text
            assert "Corso Buenos Aires 44" in text
            assert "sab 08:00–13:00" in text or "Sat 08:00–13:00" in text
        else:
            assert "Milano Nord" in text
            assert "Via Esempio 12, Milano" in text
        assert TRUST[locale] in text


def test_wording_follows_the_reason_and_the_language(a6_pdf: Path, slips: list[Slip]) -> None:
    texts = page_texts(a6_pdf)
    absent = [(locale, t) for (s, locale), t in zip(pages_of(slips), texts, strict=True)
              if s.facts.reason == Reason.RECIPIENT_ABSENT]  # fmt: skip
    assert {locale for locale, _ in absent} == {"it", "en"}
    for locale, text in absent:
        if locale == "it":
            assert (
                "Domenica 22 novembre alle 10:49 abbiamo provato a consegnare il suo pacco ma "
                "non c'era nessuno" in text
            )
        else:
            assert (
                "We tried to deliver your parcel on Sunday 22 November at 10:49 and nobody "
                "answered" in text
            )
    pages = zip(pages_of(slips), texts, strict=True)
    refused = next(t for (s, _), t in pages if s.facts.reason == Reason.REFUSED)
    assert "rifiutato" in refused or "refused" in refused


def test_long_names_and_addresses_run_onto_another_page_at_full_size(
    render: Any, settings: Settings, tmp_path: Path
) -> None:
    worst = [
        Slip(make_facts(settings, 1, recipient_name=LONG_NAME, next_attempt_date=None,
                        pickup_point="LONG", held_until=date(2026, 11, 29)), "it", "en"),
        Slip(make_facts(settings, 2, recipient_name=LONG_NAME, next_attempt_date=None,
                        pickup_point="PP01", held_until=date(2026, 11, 29)), "en", "it"),
        Slip(make_facts(settings, 3, recipient_name="X" * 200), "it"),
    ]  # fmt: skip
    pdf = render(worst)
    # Type never shrinks to fit: what does not fit an A6 page moves to the next one.
    sizes = measure_slips(worst, settings=settings, now=NOW)
    assert [below_floor(size) for size in sizes] == [[], [], []]
    assert [size.pages > len(size.locales) for size in sizes[:2]] == [True, True]
    assert page_count(pdf) == sum(size.pages for size in sizes)
    bbox = run("pdftotext", "-bbox", pdf, "-")
    width, height = page_size_pt(pdf)
    words = re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)"', bbox
    )
    assert len(words) > 100
    for x_min, y_min, x_max, y_max in ((float(v) for v in w) for w in words):
        assert x_min >= MARGIN_PT - 1
        assert y_min >= MARGIN_PT - 1
        assert x_max <= width - MARGIN_PT + 1
        assert y_max <= height - MARGIN_PT + 1
    texts = iter("".join(text.split()) for text in page_texts(pdf))
    squeezed = ["".join(next(texts) for _ in range(size.pages)) for size in sizes]
    assert "".join(LONG_NAME.split()) in squeezed[0]
    assert "".join(LONG_NAME.split()) in squeezed[1]
    assert squeezed[0].count("".join(LONG_ADDRESS.split())) == 2  # in both languages
    assert "X" * 200 in squeezed[2]
    for size, text in zip(sizes, squeezed, strict=True):
        assert size.tracking_number in text
        assert "".join(TRUST[size.locales[0]].split()) in text


def test_accented_and_non_latin_names_are_printed(render: Any, settings: Settings) -> None:
    names = ["Zoë Ångström-Łukasiewicz", "王秀英", "Αλέξανδρος Παπαδόπουλος"]
    slips = [
        Slip(make_facts(settings, n, recipient_name=name), "it") for n, name in enumerate(names)
    ]
    texts = page_texts(render(slips))
    for name, text in zip(names, texts, strict=True):
        # A name may wrap at its hyphen or space; every character is still there, in order.
        assert "".join(name.split()) in "".join(text.split())


def test_missing_optional_facts_leave_no_gaps(
    render: Any, settings: Settings, tmp_path: Path
) -> None:
    bare = make_facts(settings, 1, reason=None, recipient_name=None, depot=None,
                      next_attempt_date=None, next_attempt_window=None,
                      rebooking_url=None, short_code=None)  # fmt: skip
    no_code = make_facts(settings, 2, short_code=None, next_attempt_window=None)
    slips = [Slip(bare, "it"), Slip(bare, "en", "it"), Slip(no_code, "en")]
    pdf = render(slips)
    texts = page_texts(pdf)
    assert len(texts) == len(pages_of(slips)) == 4
    raw_lines = [line.strip() for line in run("pdftotext", pdf, "-").splitlines()]
    assert "None" not in " ".join(texts)
    assert not [line for line in raw_lines if line.endswith(":")], "a label with nothing after it"
    assert "Il prossimo tentativo non è ancora in programma" in texts[0]
    assert "non è stato possibile completare la consegna" in texts[0]
    assert "codice" not in texts[0]
    assert " per " not in texts[0].split("Domenica")[0]
    assert "The next attempt is not planned yet" in texts[1]
    assert "Il prossimo tentativo non è ancora in programma" in texts[2]
    # Without a short code the full link is printed; the QR code still carries it.
    assert no_code.rebooking_url.split("://")[1] in "".join(texts[3].split())
    assert "code:" not in texts[3]
    assert qr_codes(pdf, dpi=150) == [[], [], [], [no_code.rebooking_url]]


def test_without_qr_the_same_slips_have_empty_boxes(
    render: Any, settings: Settings, tmp_path: Path
) -> None:
    slips = [Slip(make_facts(settings, n), "it") for n in range(2)]
    with_qr, without = render(slips), render(slips, with_qr=False)
    assert page_texts(with_qr) == page_texts(without)
    assert qr_codes(without, dpi=150) == [[], []]


def test_each_block_is_one_language_recipients_first(settings: Settings) -> None:
    facts = make_facts(settings, 1)
    html = render_slips_html(
        [Slip(facts, "en", "it"), Slip(facts, "it", "it")], settings=settings, layout="a6", now=NOW
    )
    blocks = re.findall(r'<div class="block (primary|secondary)" lang="(\w+)">', html)
    assert blocks == [("primary", "en"), ("secondary", "it"), ("primary", "it")]


def test_external_resources_are_refused(tmp_path: Path) -> None:
    override = tmp_path / "templates"
    (override / "slips").mkdir(parents=True)
    shipped = (Path(__file__).parents[2] / "templates" / "slips" / "slip.css").read_text()
    settings = make_settings("sqlite://", templates={"override_dir": str(override)})
    slips = [Slip(make_facts(settings, 1), "it")]
    for url in (
        "http://127.0.0.1:9/evil.css",
        "https://rapido.example/x.css",
        "file:///etc/hostname",
    ):
        (override / "slips" / "slip.css").write_text(f'@import url("{url}");\n{shipped}')
        with pytest.raises(ExternalResourceError, match="refused"):
            render_slips_pdf(slips, settings=settings, layout="a6", now=NOW)
    # A data: URL is inside the document, and the ops' own CSS is what gets used.
    pixel = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E"
    (override / "slips" / "slip.css").write_text(
        f'{shipped}\n.brand {{ background: url("{pixel}"); }}\n.trust {{ display: none; }}'
    )
    pdf = tmp_path / "ok.pdf"
    pdf.write_bytes(render_slips_pdf(slips, settings=settings, layout="a6", now=NOW))
    text = page_texts(pdf)[0]
    assert "Rapido Consegne" in text
    assert "Sito ufficiale" not in text


def test_paper_never_says_today_and_names_the_sender_and_the_deadline(
    a6_pdf: Path, slips: list[Slip]
) -> None:
    for (slip, locale), text in zip(pages_of(slips), page_texts(a6_pdf), strict=True):
        words = text.lower().split()
        assert "oggi" not in words
        assert "today" not in words
        assert "Libreria Sant'Orsola" in text
        if slip.facts.next_attempt_date == date(2026, 11, 24):
            # Choices for Tuesday's attempt close on Monday evening.
            deadline = (
                "entro lunedì 23 novembre, 18:00"
                if locale == "it"
                else "by Monday 23 November, 18:00"
            )
            assert deadline in text
