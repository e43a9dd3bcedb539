"""SMS text: GSM-7 normalisation, encoding and segment count (3GPP TS 23.038)."""

from __future__ import annotations

from dataclasses import dataclass
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
    "ë": "e", "ï": "i", "ç": "Ç", "Á": "A", "Í": "I", "Ó": "O", "Ú": "U",
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
    """Replace what forces UCS-2 by its plain GSM-7 equivalent, where one exists."""
    return text.translate(_TRANSLATION)


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
