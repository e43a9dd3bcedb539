"""Untrusted text is inert: no controls or format characters, no line of its own, no links."""

from __future__ import annotations

import pytest

from notifier.untrusted import clean_line, defang, inert


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Giovanni Bianchi", "Giovanni Bianchi"),
        ("Amazon\nDogana: paga 1,99 EUR", "Amazon Dogana: paga 1,99 EUR"),
        ("a\r\n\tb", "a b"),
        ("Rossi\u2028Verdi\u2029", "Rossi Verdi"),
        ("\u202eevil\u202c name", "evil name"),  # right-to-left override
        ("Gio\u200bvanni\ufeff", "Giovanni"),  # zero-width space, BOM
        ("bell\x07 and \x9bCSI", "bell and CSI"),  # C0 and C1 controls
        ("  Niccolò   D'Ambrosio ", "Niccolò D'Ambrosio"),
        ("Ćirić \u00a0Škoda", "Ćirić Škoda"),
    ],
)
def test_clean_line(given: str, expected: str) -> None:
    assert clean_line(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("paga su https://evil.example/p", "paga su evil[.]example/p"),
        ("www.evil.example", "www[.]evil[.]example"),
        ("Amazon.it", "Amazon[.]it"),
        ("Libreria Sant'Orsola S.r.l.", "Libreria Sant'Orsola S.r.l."),
        ("1,99 EUR, v.le Monza 12", "1,99 EUR, v.le Monza 12"),
        ("no dots at all", "no dots at all"),
    ],
)
def test_defang(given: str, expected: str) -> None:
    assert defang(given) == expected


def test_a_sender_with_a_line_break_and_a_link_is_one_inert_line() -> None:
    shown = inert("Amazon\nDogana: paga 1,99 EUR su https://evil.example/p")
    assert shown == "Amazon Dogana: paga 1,99 EUR su evil[.]example/p"
    assert "\n" not in shown
    assert "://" not in shown


@pytest.mark.parametrize("empty", [None, "", "\u200b\n"])
def test_nothing_stays_nothing(empty: str | None) -> None:
    assert not inert(empty)
