"""Text in the label printer's font 0: which characters it prints, how wide, where lines break.

Font 0 (CG Triumvirate Bold Condensed) is in every ZPL II printer. Under ^CI28 (UTF-8)
it prints printable ASCII and the Latin-1 letters and signs (U+00A1-U+00FF: à è é ì ò ù,
ç ñ ß ø, « » ° £ ·) on every model: those are kept. Anything else becomes what people
would write on a keyboard without it: typographic punctuation its plain form, a Latin
letter without its accent ("Ł" -> "L", "ș" -> "s"), "€" "EUR"; what has no such form
(CJK, emoji) prints as "?", never as a printer's empty box. Controls and format
characters print nothing. A backslash becomes "/": inside ^FB, "\\&" starts a new line.

Widths are font 0's advances as the ZPL renderer our tests use draws them (its font 0 is
a Helvetica Bold Condensed, CG Triumvirate's twin), plus a margin for the printer's own
rasteriser: a line measured here never needs the printer to wrap it again.
"""

from __future__ import annotations

import math
import unicodedata
from functools import lru_cache

NO_BREAK = "\u00a0"  # joins words the wrapping must keep on one line; prints as a space

_KEPT = frozenset(
    [chr(c) for c in range(0x20, 0x7F) if chr(c) != "\\"]
    + [chr(c) for c in range(0xA0, 0x100) if c != 0xAD]  # not the soft hyphen
)
_PLAIN = {
    "’": "'", "‘": "'", "‚": "'", "‛": "'", "′": "'", "`": "'",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"',
    "–": "-", "—": "-", "‒": "-", "−": "-", "‐": "-", "‑": "-", "•": "-",
    "…": "...", "€": "EUR", "\\": "/",
    "\u2007": NO_BREAK, "\u202f": NO_BREAK, "\u2060": "",
    # Letters with no decomposition to a Latin-1 base.
    "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i", "ĸ": "k",
    "Œ": "OE", "œ": "oe", "Ŋ": "N", "ŋ": "n", "ẞ": "SS", "ſ": "s", "Ŧ": "T", "ŧ": "t",
}  # fmt: skip
_UNPRINTABLE = "?"
_BREAK_AFTER = "/@-."  # where a word too long for a line breaks best, best first

# Advance widths in thousandths of the character height, printable ASCII in code order
# (space to tilde); the backslash never prints (see above).
_ASCII_ADVANCES = (
    250, 333, 333, 500, 500, 833, 667, 250, 333, 333, 500, 500, 333, 800, 333, 278,
    500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 278, 278, 500, 500, 500, 500,
    833, 556, 556, 556, 611, 500, 500, 611, 611, 278, 444, 556, 500, 778, 611, 611,
    556, 611, 611, 556, 500, 611, 556, 833, 556, 556, 500, 333, 250, 333, 500, 500,
    333, 500, 500, 444, 500, 500, 278, 500, 500, 278, 278, 444, 278, 778, 500, 500,
    500, 500, 333, 444, 278, 500, 444, 667, 444, 444, 389, 274, 250, 274, 500,
)  # fmt: skip
_ADVANCES = dict(zip(map(chr, range(0x20, 0x7F)), _ASCII_ADVANCES, strict=True))
# Latin-1 signs and the letters that are no accented ASCII letter (those take their
# base letter's width).
_ADVANCES |= {
    NO_BREAK: 250, "¡": 333, "¦": 250, "¨": 333, "©": 830, "ª": 300, "®": 830, "¯": 333,
    "°": 400, "²": 300, "³": 300, "´": 333, "¶": 550, "·": 333, "¸": 333, "¹": 300,
    "º": 300, "¼": 750, "½": 750, "¾": 750, "Æ": 778, "Ð": 611, "Ø": 611, "Þ": 556,
    "æ": 722,
}  # fmt: skip
_WIDEST = max(_ADVANCES.values())
# The printer's rasteriser may round each glyph up; 10 % covers it with room to spare.
_MARGIN = 1.10


def printable(text: str) -> str:
    """The text in characters font 0 prints (see the module's docstring), one line."""
    if text.isascii() and text.isprintable() and "\\" not in text:
        return text  # the common case, checked in C
    return "".join(_printable(char) for char in unicodedata.normalize("NFC", text))


@lru_cache(maxsize=4096)
def _printable(char: str) -> str:
    if char in _KEPT:
        return char
    if char in _PLAIN:
        return _PLAIN[char]
    category = unicodedata.category(char)
    if category in ("Zs", "Zl", "Zp") or char in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85":
        return " "  # any space or line break: the layout breaks lines itself
    if category in ("Cc", "Cf", "Co", "Mn", "Me"):
        return ""  # controls, bidi and zero-width marks, a combining mark left alone
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if base and all(c in _KEPT or c in _PLAIN for c in base):
        return "".join(_PLAIN.get(c, c) for c in base)
    return _UNPRINTABLE


@lru_cache(maxsize=512)
def _advance(char: str) -> int:
    if char in _ADVANCES:
        return _ADVANCES[char]
    base = unicodedata.normalize("NFD", char)[0]
    return _ADVANCES.get(base, _WIDEST)


def text_width(text: str, *, height: int) -> int:
    """Dots the printable `text` takes at a character height of `height` dots (at most)."""
    return _dots(_units(text), height)


def _units(text: str) -> int:
    return sum(map(_advance, text))


def _dots(units: int, height: int) -> int:
    return math.ceil(units * height * _MARGIN / 1000)


def wrap(text: str, *, height: int, width: int) -> list[str]:
    """The printable `text` in lines of at most `width` dots, broken at spaces.

    A word wider than a line on its own (a long address, an email) is broken inside it,
    after a "/", else an "@", "-" or "." where one comes late enough ("assistenza@" /
    "rapido.example"), else where the line is full.
    """
    lines: list[str] = []
    line, line_units = "", 0  # the line's width in font units, kept as it grows
    space = _advance(" ")
    words = [w for w in text.split(" ") if w]  # not split(): that splits at NO_BREAK too
    words.reverse()  # popped from the end
    while words:
        word = words.pop()
        units = line_units + space + _units(word) if line else _units(word)
        if _dots(units, height) <= width:
            line, line_units = (f"{line} {word}" if line else word), units
            continue
        if NO_BREAK in word and text_width(word, height=height) > width:
            # Words kept together that cannot share a line even alone: each on its own.
            words.extend(reversed([w for w in word.split(NO_BREAK) if w]))
            continue
        if line:
            lines.append(line)
        pieces = _broken(word, height=height, width=width)
        lines.extend(pieces[:-1])
        line = pieces[-1]
        line_units = _units(line)
    if line:
        lines.append(line)
    return lines


def _broken(word: str, *, height: int, width: int) -> list[str]:
    pieces = []
    while text_width(word, height=height) > width:
        fits = 1
        while fits < len(word) and text_width(word[: fits + 1], height=height) <= width:
            fits += 1
        cut = fits
        for mark in _BREAK_AFTER:
            after = word.rfind(mark, 0, fits) + 1
            if after >= fits // 3:
                cut = after
                break
        pieces.append(word[:cut])
        word = word[cut:]
    return [*pieces, word]
