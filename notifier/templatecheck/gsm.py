"""SMS against GSM-7 (3GPP TS 23.038): characters a template writes that force UCS-2; lengths."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from jinja2 import Environment, TemplateSyntaxError

from notifier.rendering.smstext import GSM7_BASIC, GSM7_EXTENSION, SmsEncoding, sms_encoding
from notifier.templatecheck.findings import Finding, Severity
from notifier.templatecheck.sources import SourceText

_GSM7 = GSM7_BASIC | GSM7_EXTENSION
# Text the lexer hands back: the template's own words, and quoted strings in its tags
# (`{{ reason_text or "…" }}`, `replace("-", "–")`) that end up in the message too.
_WRITTEN = frozenset({"data", "string"})


def char_name(char: str) -> str:
    return f"'{char}' U+{ord(char):04X} {unicodedata.name(char, 'unnamed')}"


def non_gsm7(text: str) -> list[str]:
    """The characters of `text` outside GSM-7, each once, in order of appearance."""
    return list(dict.fromkeys(c for c in text if c not in _GSM7))


def literal_findings(env: Environment, name: str, *, source: str) -> list[Finding]:
    """Each character outside GSM-7 that the SMS template's own text contains.

    The sender makes typographic punctuation plain, but a template should say what is
    sent: `’` in a template is an apostrophe in the SMS, and a reader of the file should
    not have to know that.
    """
    text = SourceText(source)
    found = []
    cursor = 0
    try:
        tokens = list(env.lex(source))
    except TemplateSyntaxError:
        return []  # reported by the names check
    for _line, kind, value in tokens:
        start = source.find(value, cursor)
        if start < 0:
            continue
        cursor = start + len(value)
        if kind not in _WRITTEN:
            continue
        for offset, char in enumerate(value):
            if char in _GSM7 or char == "\t":  # a tab only indents the template's lines
                continue
            line, column = text.position(start + offset)
            plain = "" if unicodedata.category(char).startswith("L") else " (write the plain form)"
            found.append(
                Finding(
                    name,
                    line,
                    column,
                    Severity.ERROR,
                    f"{char_name(char)} is not GSM-7: it forces UCS-2 or is replaced when "
                    f"sent{plain}",
                )
            )
    return found


@dataclass(slots=True)
class SmsLengths:
    """One SMS template's renderings in one language: the longest, and how many were too long."""

    path: str
    longest: SmsEncoding | None = None
    longest_sample: str = ""
    renderings: int = 0
    too_long: int = 0
    ucs2: dict[str, str] | None = None  # character -> sample, for renderings still UCS-2

    def add(self, text: str, *, sample: str, max_segments: int) -> None:
        encoding = sms_encoding(text)
        self.renderings += 1
        if encoding.segments > max_segments:
            self.too_long += 1
        if self.longest is None or encoding.length > self.longest.length:
            self.longest, self.longest_sample = encoding, sample
        if encoding.encoding == "UCS-2":
            self.ucs2 = self.ucs2 or {}
            for char in non_gsm7(text):
                self.ucs2.setdefault(char, sample)

    def findings(self, max_segments: int) -> list[Finding]:
        if self.longest is None:
            return []
        longest = self.longest
        units = "septets" if longest.encoding == "GSM-7" else "UTF-16 units"
        said = f"{longest.encoding}, {longest.segments} segment{'s' * (longest.segments != 1)}"
        found = [
            Finding(
                self.path,
                None,
                None,
                Severity.INFO,
                f"{said} at most ({longest.length} {units}, '{self.longest_sample}'), "
                f"{self.renderings} renderings",
            )
        ]
        if self.too_long:
            found.append(
                Finding(
                    self.path,
                    1,
                    1,
                    Severity.ERROR,
                    f"{self.too_long} of {self.renderings} renderings need more than "
                    f"templates.sms_max_segments = {max_segments} segments; the longest: "
                    f"{said}, {longest.length} {units} ('{self.longest_sample}')",
                )
            )
        for char, sample in (self.ucs2 or {}).items():
            found.append(
                Finding(
                    self.path,
                    None,
                    None,
                    Severity.WARNING,
                    f"sent as UCS-2 (70 characters a segment): {char_name(char)} ('{sample}')",
                )
            )
        return found
