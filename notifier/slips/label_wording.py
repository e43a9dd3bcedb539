"""What a label-printer slip says: the A6 slip's own wording, as plain paragraphs.

The words come from the same macros as the PDF slip (templates/slips/<lang>/_text.html),
called with the same context (notifier.slips.context), so an edit by ops changes both.
Their HTML is read back as paragraphs: each <p> (or other block) is one, and text inside
class="key" is a key fact, as on the PDF (templates/README.md). Parts come in the PDF's
order, the design's order of prominence (section 8).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from typing import Any, Literal

from jinja2 import Environment, TemplateNotFound

from notifier.config import Settings
from notifier.errors import TemplateMissingError
from notifier.slips.context import slip_context, slip_locales
from notifier.slips.font0 import NO_BREAK
from notifier.slips.model import Slip

# key: a key fact (at least 14 pt); code: a code to read out or type (the short code,
# the tracking number), larger still; body: everything else.
Role = Literal["key", "body", "code"]
PartName = Literal["brand", "happened", "next", "act", "call", "tracking", "trust"]


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: str  # one line of text as the template wrote it; NO_BREAK where it must not break
    role: Role


@dataclass(frozen=True, slots=True)
class Part:
    name: PartName
    paragraphs: tuple[Paragraph, ...]


@dataclass(frozen=True, slots=True)
class Wording:
    """One language block of a slip."""

    locale: str
    parts: tuple[Part, ...]


def label_wording(
    slip: Slip, *, settings: Settings, env: Environment, now: datetime
) -> list[Wording]:
    """Each language block's parts, in order; the act part only when the slip has a link."""
    blocks = []
    for locale in slip_locales(slip, settings):
        try:
            # The macros, as the PDF slip calls them: attributes Jinja makes at run time.
            texts: Any = env.get_template(f"slips/{locale}/_text.html").module
        except TemplateNotFound as exc:
            raise TemplateMissingError(f"template not found: {exc.name}") from exc
        context = slip_context(slip, settings=settings, locale=locale, now=now)
        parts = [
            Part("brand", _brand(texts, context)),
            Part("happened", _paragraphs(texts.happened(context), "key")),
            Part("next", _paragraphs(texts.next_step(context), "body")),
        ]
        if slip.facts.rebooking_url:
            parts.append(Part("act", _act(texts, context)))
        parts += [
            Part("call", _call(texts, context)),
            Part("tracking", _tracking(texts, context)),
            Part("trust", _paragraphs(texts.trust(context), "body")),
        ]
        blocks.append(Wording(locale, tuple(part for part in parts if part.paragraphs)))
    return blocks


def _brand(texts: Any, c: dict[str, Any]) -> tuple[Paragraph, ...]:
    found = [Paragraph(c["company"]["name"], "key")]
    if c["recipient_name"]:
        found.append(
            Paragraph(f"{_plain(texts.to_label())}{NO_BREAK}{c['recipient_name']}", "body")
        )
    if c["sender_name"]:
        found.append(
            Paragraph(f"{_plain(texts.sender_label())}{NO_BREAK}{c['sender_name']}", "body")
        )
    return tuple(found)


def _act(texts: Any, c: dict[str, Any]) -> tuple[Paragraph, ...]:
    found = [*_paragraphs(texts.act_intro(c), "body")]
    if c["short_code"]:
        found.append(Paragraph(c["entry_text"], "key"))
        found.append(Paragraph(_plain(texts.code_label()), "body"))
        found.append(Paragraph(c["short_code_grouped"], "code"))
    else:
        found.append(Paragraph(c["link_text"], "key"))
    return tuple(found)


def _call(texts: Any, c: dict[str, Any]) -> tuple[Paragraph, ...]:
    company = c["company"]
    found = [Paragraph(_plain(texts.call_label()), "body"), Paragraph(company["phone"], "key")]
    contact = " · ".join(part for part in (company["phone_hours"], company["email"]) if part)
    if contact:
        found.append(Paragraph(contact, "body"))
    return tuple(found)


def _tracking(texts: Any, c: dict[str, Any]) -> tuple[Paragraph, ...]:
    label = Paragraph(_plain(texts.tracking_label()), "body")
    return label, Paragraph(c["tracking_grouped"], "code")


def _plain(markup: Any) -> str:
    return " ".join(p.text for p in _paragraphs(markup, "body"))


def _paragraphs(markup: Any, role: Role) -> tuple[Paragraph, ...]:
    reader = _Reader(role)
    reader.feed(str(markup))
    reader.close()
    return tuple(reader.found)


_BREAKS = str.maketrans("\t\n\r\f", "    ")


class _Reader(HTMLParser):
    """Paragraphs of a macro's HTML: a block element starts one, class "key" marks it."""

    _BLOCKS = frozenset({"p", "div", "h1", "h2", "h3", "h4", "li", "br", "section", "ul", "ol"})

    def __init__(self, role: Role) -> None:
        super().__init__(convert_charrefs=True)
        self.default: Role = role
        self.role: Role = role
        self.found: list[Paragraph] = []
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self._BLOCKS:
            return
        self._flush()
        classes = " ".join(value or "" for name, value in attrs if name == "class").split()
        if tag != "br":
            self.role = "key" if self.default == "key" or "key" in classes else "body"

    def handle_endtag(self, tag: str) -> None:
        if tag in self._BLOCKS:
            self._flush()
            self.role = self.default

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def close(self) -> None:
        super().close()
        self._flush()

    def _flush(self) -> None:
        # Spaces as HTML collapses them; a no-break space stays what it is.
        text = "".join(self._text).translate(_BREAKS)
        text = " ".join(word for word in text.split(" ") if word)
        if text:
            self.found.append(Paragraph(text, self.role))
        self._text = []
