"""SMS text: GSM-7 normalisation, encoding and segment count (3GPP TS 23.038)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

# GSM 03.38 basic character set (3GPP TS 23.038 section 6.2.1), one septet each.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table (section 6.2.1.1): an escape septet plus one, so two each.
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

# Characters that force UCS-2 but have a plain GSM-7 equivalent people read the same way.
# Letters GSM-7 lacks in one case only (È, À, Ì, Ò, Ù) keep their accent where the
# other case exists (É is there) and otherwise fall back to the base letter.
_PLAIN = {
    "’": "'", "‘": "'", "‚": "'", "‛": "'", "′": "'", "`": "'", "´": "'",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
    "–": "-", "—": "-", "‒": "-", "−": "-", "‐": "-", "‑": "-", "•": "-", "·": "-",
    "…": "...",
    "\u00a0": " ", "\u2007": " ", "\u2009": " ", "\u202f": " ", "\u200b": "",
    "È": "E", "À": "A", "Ì": "I", "Ò": "O", "Ù": "U",
    "á": "a", "í": "i", "ó": "o", "ú": "u", "â": "a", "ê": "e", "î": "i", "ô": "o", "û": "u",
    "ë": "e", "ï": "i", "ç": "c", "Á": "A", "Í": "I", "Ó": "O", "Ú": "U",
    # Letters with no decomposition to a GSM-7 base (see _transliterated).
    "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i",
    "Œ": "OE", "œ": "oe", "Þ": "Th", "þ": "th", "Ŋ": "N", "ŋ": "n",
}  # fmt: skip
_TRANSLATION = str.maketrans(_PLAIN)

GSM7_SINGLE, GSM7_MULTI = 160, 153  # septets: one segment, or each of several (UDH)
UCS2_SINGLE, UCS2_MULTI = 70, 67  # UTF-16 code units likewise


@dataclass(frozen=True, slots=True)
class SmsEncoding:
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int
    length: int  # septets (GSM-7) or UTF-16 code units (UCS-2)


def normalise_sms(text: str) -> str:
    """Replace what forces UCS-2 by its plain GSM-7 equivalent, where one exists.

    Typographic punctuation by the table above; a Latin letter GSM-7 lacks by its base
    letter (a name "Ćirić" reads "Ciric", "Škoda" "Skoda"), as people write when a
    keyboard lacks the accent. Whatever has no such equivalent (Cyrillic, emoji) stays,
    and the message is UCS-2.
    """
    text = text.translate(_TRANSLATION)
    if all(c in _GSM7 for c in text):
        return text
    return "".join(c if c in _GSM7 else _transliterated(c) for c in text)


_GSM7 = GSM7_BASIC | GSM7_EXTENSION


@lru_cache(maxsize=2048)
def _transliterated(char: str) -> str:
    """The character without its accents when that leaves only GSM-7 (Ć -> C, ș -> s)."""
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if base and all(c in _GSM7 for c in base) else char


def sms_encoding(text: str) -> SmsEncoding:
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        septets = [2 if c in GSM7_EXTENSION else 1 for c in text]
        return SmsEncoding("GSM-7", _segments(septets, GSM7_SINGLE, GSM7_MULTI), sum(septets))
    units = [2 if ord(c) > 0xFFFF else 1 for c in text]  # surrogate pairs take two
    return SmsEncoding("UCS-2", _segments(units, UCS2_SINGLE, UCS2_MULTI), sum(units))


def _segments(sizes: list[int], single: int, multi: int) -> int:
    """Segments needed when no character is split across two (escape + char, surrogates)."""
    if sum(sizes) <= single:
        return 1 if sizes else 0
    segments, used = 1, 0
    for size in sizes:
        if used + size > multi:
            segments, used = segments + 1, 0
        used += size
    return segments
