"""The template previews' pure parts: an SMS's cost at the configured price, the inline
styles an email's HTML part carries (the page's policy lets exactly those through)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from notifier.config.prices import SmsPrice
from notifier.templatecheck.gallery import sms_cost
from notifier.templatecheck.overview import inline_styles


@pytest.mark.parametrize(
    ("price", "currency", "segments", "said"),
    [
        ("0.075", "EUR", 2, "0.150 EUR"),
        ("0.075", "EUR", 1, "0.075 EUR"),
        ("0.05", "GBP", 3, "0.15 GBP"),
        ("0.0725", "CHF", 4, "0.2900 CHF"),
        ("1", "EUR", 2, "2.00 EUR"),
        ("0", "EUR", 3, "0.00 EUR"),
        ("0.1234567", "EUR", 1, "0.123457 EUR"),
    ],
    ids=["two-segments", "one", "pence", "four-places", "whole", "free", "at-most-six"],
)
def test_an_sms_costs_its_segments_times_the_price(
    price: str, currency: str, segments: int, said: str
) -> None:
    assert sms_cost(segments, SmsPrice(per_segment=Decimal(price), currency=currency)) == said


def test_without_a_price_there_is_no_cost() -> None:
    assert sms_cost(2, None) is None


@pytest.mark.parametrize("currency", ["eur", "EURO", "€"])
def test_a_currency_is_an_iso_4217_code(currency: str) -> None:
    with pytest.raises(ValueError, match="currency"):
        SmsPrice(per_segment=Decimal("0.075"), currency=currency)


def test_inline_styles_are_the_values_the_browser_hashes() -> None:
    html = (
        '<body style="margin:0;"><p style="color:#111;">a &amp; b</p>'
        '<a style="font-family:&quot;Arial&quot;">x</a><style>p { color: red; }</style>'
    )
    assert inline_styles(html) == {
        "margin:0;",
        "color:#111;",
        'font-family:"Arial"',
        "p { color: red; }",
    }
