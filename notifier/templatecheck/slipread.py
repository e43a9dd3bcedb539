"""A slips document read back: each slip's text by language, and the outline its CSS sees."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

from notifier.templatecheck.htmlcheck import VOID


@dataclass(frozen=True, slots=True)
class SlipsRead:
    """A slips document read back: a <section> is a slip."""

    texts: dict[tuple[int, str], str]  # (slip, language) -> its text in that language
    outlines: list[str]  # each slip's elements with their attributes bar ids, and where text is


def read_slips(html: str) -> SlipsRead:
    """Each slip's text by language (that of the nearest element with lang=) and outline."""
    reader = _SlipReader()
    reader.feed(html)
    reader.close()
    texts = {key: " ".join(parts) for key, parts in reader.texts.items()}
    return SlipsRead(texts, [" ".join(outline) for outline in reader.outlines])


class _SlipReader(HTMLParser):
    _UNREAD = frozenset({"head", "style", "script", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, str]] = []  # tag, language
        self.texts: dict[tuple[int, str], list[str]] = {}
        self.outlines: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self.outlines.append([])
        if self.outlines:
            shown = " ".join(f"{name}={value}" for name, value in attrs if name != "id")
            self.outlines[-1].append(f"<{tag} {shown}>")
        if tag not in VOID:
            lang = dict(attrs).get("lang") or (self.open[-1][1] if self.open else "")
            self.open.append((tag, lang))

    def handle_endtag(self, tag: str) -> None:
        if self.outlines:
            self.outlines[-1].append(f"</{tag}>")
        # Optional end tags (a <p> a block ends) close with the element around them.
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                del self.open[index:]
                return

    def handle_data(self, data: str) -> None:
        if not self.open or any(tag in self._UNREAD for tag, _ in self.open):
            return
        if self.outlines and data.strip():
            self.outlines[-1].append("#")
        slip = max(len(self.outlines) - 1, 0)
        self.texts.setdefault((slip, self.open[-1][1]), []).append(data)
