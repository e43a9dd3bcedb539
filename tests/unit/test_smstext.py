"""SMS text: GSM-7 where a plain equivalent exists, and honest segment counts."""

from __future__ import annotations

import pytest

from notifier.rendering.smstext import normalise_sms, sms_encoding


def test_a_typographic_apostrophe_becomes_plain_and_one_gsm7_segment() -> None:
    text = normalise_sms("Non abbiamo trovato nessuno all’indirizzo indicato.")
    assert "all'indirizzo" in text
    assert sms_encoding(text).encoding == "GSM-7"
    assert sms_encoding(text).segments == 1


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("“consegna” – domani…", '"consegna" - domani...'),
        ("10:00–14:00", "10:00-14:00"),
        ("è é ù ì ò à É", "è é ù ì ò à É"),  # GSM-7 has these: untouched
        ("PERCHÉ È ARRIVATO", "PERCHÉ E ARRIVATO"),
        ("ore\u00a010", "ore 10"),
        ("Ćirić, Škoda Store, François", "Ciric, Skoda Store, Francois"),
        ("Łódź, Ştefan, Øresund, Ñandú, Müller", "Lodz, Stefan, Øresund, Ñandu, Müller"),
        ("Пётр 📦", "Пётр 📦"),  # nothing plain to write instead: stays, and is UCS-2
    ],
    ids=[
        "quotes dash ellipsis",
        "en dash",
        "italian letters kept",
        "capital È",
        "nbsp",
        "names to their base letters",
        "gsm letters kept, others to base",
        "no equivalent",
    ],
)
def test_normalisation(given: str, expected: str) -> None:
    assert normalise_sms(given) == expected


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "length"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 1, 160),
        ("a" * 161, "GSM-7", 2, 161),
        ("a" * 306, "GSM-7", 2, 306),
        ("a" * 307, "GSM-7", 3, 307),
        ("€" * 80, "GSM-7", 1, 160),
        ("a" * 159 + "€", "GSM-7", 2, 161),
        ("a" * 152 + "€" + "a" * 10, "GSM-7", 2, 164),  # the escape pair is not split
        ("ж" * 70, "UCS-2", 1, 70),
        ("ж" * 71, "UCS-2", 2, 71),
        ("ж" * 134, "UCS-2", 2, 134),
        ("ж" * 135, "UCS-2", 3, 135),
        ("Pacco in arrivo 📦", "UCS-2", 1, 18),
        ("ж" * 66 + "📦" + "ж" * 10, "UCS-2", 2, 78),  # the surrogate pair is not split
    ],
    ids=lambda v: None,
)
def test_encoding_and_segments(text: str, encoding: str, segments: int, length: int) -> None:
    result = sms_encoding(text)
    assert (result.encoding, result.segments, result.length) == (encoding, segments, length)
