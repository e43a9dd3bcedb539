"""Slips as ZPL II labels, read back field by field: sizes, QR code, text that fits, inert data."""

from __future__ import annotations

import dataclasses
import math
import re
from datetime import UTC, date, datetime
from typing import Any

import pytest

from notifier.config import Settings
from notifier.rendering.context import ParcelFacts
from notifier.slips.font0 import NO_BREAK, printable, text_width, wrap
from notifier.slips.model import Slip
from notifier.slips.qr import QUIET_ZONE, build_qr_matrix
from notifier.slips.zpl import (
    LabelMediaError,
    Media,
    field_data,
    label_printer_for,
    qr_magnification,
    render_slip_zpl,
)
from notifier.vocabulary import Reason, Status
from tests.conftest import NOW, make_settings
from tests.zpltools import (
    command_value,
    decode_field_data,
    field_with,
    qr_fields,
    text_fields,
)

LONG_NAME = "Niccolò Bartolomeo Fiorentino-Sant'Angelo"
URL = "https://rapido.example/r/Hq3xL0fE6yYbqj2m9k_aBw"
MEDIA = [(w, d) for w in (48.0, 72.0, 104.0) for d in (203, 300)]
MEDIA_IDS = [f"{w:g}mm-{d}dpi" for w, d in MEDIA]
PICKUP = {
    "code": "PP01",
    "name": "Tabaccheria Da Gino",
    "address": "Corso Buenos Aires 44, 20124 Milano",
    "hours": {"mon": "07:00-20:00", "sat": "08:00-13:00"},
}


@pytest.fixture(scope="module")
def settings() -> Settings:
    return make_settings(
        "sqlite://",
        pickup_points=[PICKUP],
        depots=[
            {"code": "MI01", "name": "Milano Nord", "address": "Via Esempio 12, Milano"},
            {"code": "TO01", "name": "Torino", "address": "Via Po 1, Torino",
             "label_printer": {"width_mm": 104, "dpi": 300}},
        ],
    )  # fmt: skip


def facts(**changes: Any) -> ParcelFacts:
    base = ParcelFacts(
        tracking_number="RP123456789IT",
        carrier="rapido",
        status=Status.DELIVERY_ATTEMPTED,
        reason=Reason.RECIPIENT_ABSENT,
        # 09:49 UTC is 10:49 in Rome, the company's time zone.
        occurred_at=datetime(2026, 11, 22, 9, 49, tzinfo=UTC),
        recipient_name=LONG_NAME,
        sender_name="Libreria Sant'Orsola",
        depot="MI01",
        next_attempt_date=date(2026, 11, 24),
        next_attempt_window="10:00-14:00",
        rebooking_url=URL,
        short_code="K7QM3XRP",
    )
    return dataclasses.replace(base, **changes)


def label(
    settings: Settings,
    locale: str = "it",
    *,
    width_mm: float = 72.0,
    dpi: int = 203,
    second: str | None = None,
    **changes: Any,
) -> str:
    slip = Slip(facts(**changes), locale, second)
    return render_slip_zpl(slip, settings=settings, width_mm=width_mm, dpi=dpi, now=NOW)


def floor_dots(pt: float, dpi: int) -> float:
    return pt / 72 * dpi


# ------------------------------------------------------------------------- the label


def test_one_label_in_utf8_as_wide_as_the_media_and_as_long_as_its_content(
    settings: Settings,
) -> None:
    zpl = label(settings, width_mm=72.0, dpi=203)

    assert zpl.startswith("^XA\n^CI28\n")
    assert zpl.rstrip().endswith("^XZ")
    assert zpl.count("^XA") == zpl.count("^XZ") == 1
    assert command_value(zpl, "^PW") == math.floor(72 / 25.4 * 203)  # 575 dots
    fields = text_fields(zpl)
    bottoms = [f.bottom for f in fields] + [q.y for q in qr_fields(zpl)]
    length = command_value(zpl, "^LL")
    assert max(bottoms) < length <= max(bottoms) + 5 / 25.4 * 203 + 40


@pytest.mark.parametrize(("width_mm", "dpi"), MEDIA, ids=MEDIA_IDS)
def test_the_qr_code_is_the_printers_own_at_least_25_mm_with_its_quiet_zone_on_the_paper(
    settings: Settings, width_mm: float, dpi: int
) -> None:
    zpl = label(settings, width_mm=width_mm, dpi=dpi)

    (qr,) = qr_fields(zpl)
    assert qr.data == f"QA,{URL}"  # error correction Q, automatic mode; the _ unescaped
    modules = len(build_qr_matrix(URL)) - 2 * QUIET_ZONE
    side_mm = modules * qr.magnification / dpi * 25.4
    assert side_mm >= 25.0
    quiet = QUIET_ZONE * qr.magnification
    assert qr.x >= quiet
    assert qr.x + modules * qr.magnification + quiet <= command_value(zpl, "^PW")
    # Nothing printed within the quiet zone above or beside it, or below it (allowing the
    # printer's ^BQ shift of up to 10 dots).
    top, bottom = qr.y - quiet, qr.y + modules * qr.magnification + 10 + quiet
    right = qr.x + modules * qr.magnification + quiet
    for field in text_fields(zpl):
        overlaps_rows = field.y < bottom and field.bottom > top
        assert not (overlaps_rows and field.x < right), field.text


def test_a_qr_code_that_cannot_reach_25_mm_is_refused_not_printed_small() -> None:
    # A version 1 code (21 modules) at 300 dpi needs 15 dots a module; ^BQ stops at 10.
    with pytest.raises(LabelMediaError, match="25 mm"):
        qr_magnification("https://a.b/c", media=Media(104.0, 300), target_mm=30.0)


@pytest.mark.parametrize(("width_mm", "dpi"), MEDIA, ids=MEDIA_IDS)
def test_text_is_font_0_at_the_legibility_floor_and_key_facts_at_14_pt(
    settings: Settings, width_mm: float, dpi: int
) -> None:
    zpl = label(settings, width_mm=width_mm, dpi=dpi)
    fields = text_fields(zpl)

    assert fields
    for field in fields:
        assert field.height >= floor_dots(11, dpi), field.text
        assert field.width_param == field.height  # the font's own proportions
    key_facts = ["K7QM 3XRP", "RP12 3456", "alle 10:49", "Riproveremo", "+39 02 1234 5678"]
    for text in key_facts:
        assert field_with(zpl, text).height >= floor_dots(14, dpi), text
    # The codes to read out are larger still.
    assert field_with(zpl, "K7QM 3XRP").height >= floor_dots(16, dpi)
    assert field_with(zpl, "RP12 3456").height >= floor_dots(16, dpi)


@pytest.mark.parametrize(("width_mm", "dpi"), MEDIA, ids=MEDIA_IDS)
def test_every_line_fits_its_block_and_every_block_the_media(
    settings: Settings, width_mm: float, dpi: int
) -> None:
    zpl = label(settings, width_mm=width_mm, dpi=dpi, second="en")
    width = command_value(zpl, "^PW")
    fields = text_fields(zpl)

    previous_bottom = 0
    for field in sorted(fields, key=lambda f: f.y):
        assert field.x + field.block_width <= width
        assert field.max_lines == len(field.lines)  # never a line drawn over the last
        for line in field.lines:
            assert text_width(line, height=field.height) <= field.block_width, line
        if field.x < width // 3:  # the column under the QR code, not the one beside it
            assert field.y >= previous_bottom, field.text
            previous_bottom = field.bottom


def test_a_wide_label_sets_the_explanation_beside_the_qr_code_a_narrow_one_under_it(
    settings: Settings,
) -> None:
    wide, narrow = label(settings, width_mm=104.0), label(settings, width_mm=72.0)

    (qr_wide,) = qr_fields(wide)
    assert field_with(wide, "K7QM 3XRP").x > qr_wide.x
    (qr_narrow,) = qr_fields(narrow)
    assert field_with(narrow, "K7QM 3XRP").y > qr_narrow.y


# ----------------------------------------------------------------------- what it says


def test_it_says_what_happened_when_and_what_happens_next_in_italian(settings: Settings) -> None:
    zpl = label(settings, "it", width_mm=104.0)

    happened = field_with(zpl, "abbiamo provato").text
    assert happened == (
        "Domenica 22 novembre alle 10:49 abbiamo provato a consegnare il suo pacco ma "
        "non c'era nessuno."
    )
    assert field_with(zpl, "Riproveremo").text == "Riproveremo martedì 24 novembre, 10:00-14:00."
    assert field_with(zpl, "RP12").text == "RP12 3456 789IT"
    assert field_with(zpl, "K7QM").text == "K7QM 3XRP"
    assert field_with(zpl, "rapido.example/r").text == "rapido.example/r"
    assert field_with(zpl, "+39").text == "+39 02 1234 5678"
    assert field_with(zpl, "Non chiediamo mai pagamenti").text.endswith(
        "Sito ufficiale: rapido.example"
    )
    assert field_with(zpl, "Niccolò").text == f"per {LONG_NAME}"


def test_in_english_with_the_pickup_point_and_its_deadline(settings: Settings) -> None:
    zpl = label(
        settings,
        "en",
        width_mm=104.0,
        reason=Reason.BUSINESS_CLOSED,
        next_attempt_date=None,
        held_until=date(2026, 11, 29),
        pickup_point="PP01",
    )

    assert field_with(zpl, "We tried").text == (
        "We tried to deliver your parcel on Sunday 22 November at 10:49 but the business "
        "was closed."
    )
    waiting = field_with(zpl, "Your parcel is waiting").text
    assert waiting == "Your parcel is waiting until Sunday 29 November at Tabaccheria Da Gino"
    assert field_with(zpl, "Corso Buenos Aires").height < field_with(zpl, "waiting").height
    assert field_with(zpl, "Open Mon").text == "Open Mon 07:00-20:00, Sat 08:00-13:00"
    assert "We never ask for payment or card details" in field_with(zpl, "never ask").text


def test_a_second_language_is_a_block_of_its_own_under_a_rule(settings: Settings) -> None:
    zpl = label(settings, "it", second="en")

    assert re.search(r"\^GB\d+,\d+,\d+\^FS", zpl)
    italian, english = field_with(zpl, "alle 10:49"), field_with(zpl, "at 10:49")
    assert italian.y < english.y
    assert len(qr_fields(zpl)) == 1  # one code to scan: the first block's


def test_without_a_link_there_is_no_qr_code_and_no_code_to_type(settings: Settings) -> None:
    zpl = label(settings, rebooking_url=None, short_code=None)

    assert qr_fields(zpl) == []
    assert "K7QM" not in zpl
    assert field_with(zpl, "RP12").text == "RP12 3456 789IT"


# --------------------------------------------------------------- characters and escaping


@pytest.mark.parametrize(
    ("given", "printed"),
    [
        ("Niccolò àèéìòù ÀÉ ç ñ ß ø «»", "Niccolò àèéìòù ÀÉ ç ñ ß ø «»"),  # Latin-1 kept
        ("l’indirizzo “giusto” – sì — no…", "l'indirizzo \"giusto\" - sì - no..."),
        ("12 €", "12 EUR"),
        ("Łukasiewicz Ćirić Şişli ș", "Lukasiewicz Ciric Sisli s"),
        ("Ångström", "Ångström"),
        ("e\u0301", "é"),  # a combining accent, composed
        ("东京 Tokyo", "?? Tokyo"),
        ("Anna 😀", "Anna ?"),
        ("a\u200bb\u202ec\u2066d", "abcd"),  # zero-width, bidi override and isolate dropped
        ("C:\\temp", "C:/temp"),  # a backslash would start ^FB's \& line break
        ("a\u00adb", "ab"),  # the soft hyphen
        ("tab\there\nline", "tab here line"),
    ],
    ids=[
        "latin-1", "punctuation", "euro", "accents-off", "a-ring", "combining", "cjk",
        "emoji", "invisible", "backslash", "soft-hyphen", "breaks",
    ],
)  # fmt: skip
def test_characters_outside_latin_1_are_transliterated(given: str, printed: str) -> None:
    assert " ".join(printable(given).split()) == printed
    assert all(ch == " " or 0x20 <= ord(ch) <= 0xFF for ch in printable(given))


def test_field_data_escapes_what_would_start_a_command_or_an_escape() -> None:
    assert field_data("a^b~c_d") == "a_5Eb_7Ec_5Fd"
    assert decode_field_data(field_data("a^b~c_d_5E")) == "a^b~c_d_5E"
    assert field_data(f"per{NO_BREAK}Anna") == "per Anna"


def test_names_from_a_carrier_cannot_inject_commands(settings: Settings) -> None:
    hostile = "Eve^XZ^XA^FO0,0^GB800,800,800^FS~JA_ZZ\r\n\x1b[2J\\&"
    zpl = label(settings, recipient_name=hostile, sender_name="~DGR:X.GRF,1,1,FF^FS")

    assert zpl.count("^XA") == zpl.count("^XZ") == 1
    assert "~" not in zpl
    assert "^GB800" not in zpl
    for line in zpl.splitlines():
        assert all(ch.isprintable() for ch in line), repr(line)
    # Printed as the text it is (a word too long for a line broken inside it).
    name = field_with(zpl, "Eve").text
    assert name.replace(" ", "").startswith("perEve^XZ^XA^FO0,0^GB800,800,800^FS~JA_ZZ")
    assert "\\&" not in name  # no line break of its own either
    assert field_with(zpl, "DGR").text == "da ~DGR:X.GRF,1,1,FF^FS"


# ------------------------------------------------------------------------ wrapping


def test_wrapping_breaks_at_spaces_and_a_word_too_long_for_a_line_inside_it() -> None:
    height, width = 32, 351  # 11 pt on 2" media at 203 dpi
    lines = wrap(
        "assistenza.clienti.rapido@rapido-consegne.example and more", height=height, width=width
    )

    assert all(text_width(line, height=height) <= width for line in lines)
    assert (
        "".join(lines).replace(" ", "")
        == "assistenza.clienti.rapido@rapido-consegne.exampleandmore"
    )
    assert lines[0].endswith(("@", ".", "-"))  # broken after punctuation, not mid-name
    # An email breaks after its @ rather than inside its domain.
    narrow = text_width("assistenza@rapido.", height=height)
    assert wrap("assistenza@rapido.example", height=height, width=narrow) == [
        "assistenza@",
        "rapido.example",
    ]


def test_no_break_spaces_keep_words_together_unless_they_cannot_share_a_line() -> None:
    height = 32
    group = f"Sito{NO_BREAK}ufficiale:{NO_BREAK}x"
    # Room for "one two three Sito": only the no-break spaces keep "Sito" off that line.
    width = max(text_width("one two three Sito", height=height), text_width(group, height=height))
    assert wrap(f"one two three {group}", height=height, width=width) == ["one two three", group]

    narrow = text_width("ufficiale:", height=height)
    assert wrap(group, height=height, width=narrow) == ["Sito", "ufficiale:", "x"]


# ------------------------------------------------------------------------ media


def test_a_depot_s_own_printer_wins_over_the_default(settings: Settings) -> None:
    assert label_printer_for(settings, "TO01").width_mm == 104
    assert label_printer_for(settings, "TO01").dpi == 300
    assert label_printer_for(settings, "MI01") == settings.slips.label_printer
    assert label_printer_for(settings, None) == settings.slips.label_printer


@pytest.mark.parametrize(("width_mm", "dpi"), [(47.9, 203), (104.1, 203), (72.0, 600)])
def test_media_outside_2_to_4_inches_at_203_or_300_dpi_is_refused(
    settings: Settings, width_mm: float, dpi: int
) -> None:
    with pytest.raises(LabelMediaError):
        label(settings, width_mm=width_mm, dpi=dpi)


@pytest.mark.parametrize("length", [1, 22, 40, 61, 90, 150])
def test_the_qr_side_is_the_built_codes_without_building_it(length: int) -> None:
    from notifier.slips.qr import QUIET_ZONE, build_qr_matrix, qr_side_modules

    url = "https://rapido.example/r/" + ("Hq3xL0fE6yYbqj2m9k0aBw-_" * 7)[:length]
    assert qr_side_modules(url) == len(build_qr_matrix(url)) - 2 * QUIET_ZONE
