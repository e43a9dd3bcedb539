"""Rendered HTML that does not parse: end tags with no start, elements left open, wrong nesting.

Python's html.parser never refuses anything, so the tree is kept here, with the HTML
Standard's optional end tags (section 13.1.2.4: a <p> ends where a block starts, an <li>
at the next <li>) and void elements, which are all that our pages and emails lean on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from notifier.templatecheck.findings import Finding, Severity
from notifier.templatecheck.sources import SourceText

VOID = frozenset((
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
))  # fmt: skip
# Elements whose end tag may be left out, and the start tags that end them.
_P_ENDERS = frozenset((
    "address", "article", "aside", "blockquote", "details", "div", "dl", "fieldset", "figcaption",
    "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr",
    "main", "menu", "nav", "ol", "p", "pre", "section", "table", "ul",
))  # fmt: skip
_ENDED_BY: dict[str, frozenset[str]] = {
    "p": _P_ENDERS,
    "li": frozenset({"li"}),
    "dt": frozenset({"dt", "dd"}),
    "dd": frozenset({"dt", "dd"}),
    "option": frozenset({"option", "optgroup"}),
    "tr": frozenset({"tr"}),
    "td": frozenset({"td", "th", "tr"}),
    "th": frozenset({"td", "th", "tr"}),
}
_TAG_NAME = re.compile(r"<(/?[a-zA-Z][a-zA-Z0-9-]*)")
_OPTIONAL_END = frozenset({*_ENDED_BY, "html", "head", "body", "tbody", "thead", "colgroup"})


@dataclass(frozen=True, slots=True)
class HtmlProblem:
    line: int  # of the rendered document, 1-based
    column: int
    tag: str  # the tag's own text, to find it in the template: "</div>", "<span"
    message: str


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, int, int, str]] = []  # name, line, column, start text
        self.problems: list[HtmlProblem] = []

    def _here(self) -> tuple[int, int]:
        line, offset = self.getpos()
        return line, offset + 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        text = self.get_starttag_text() or f"<{tag}"
        while self.open and tag in _ENDED_BY.get(self.open[-1][0], frozenset()):
            self.open.pop()
        names = [a for a, _ in attrs]
        line, column = self._here()
        for name in {n for n in names if names.count(n) > 1}:
            self.problems.append(HtmlProblem(line, column, text, f"<{tag}> repeats {name}="))
        if tag not in VOID:
            self.open.append((tag, line, column, text))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            line, column = self._here()
            self.problems.append(
                HtmlProblem(line, column, f"<{tag}", f"<{tag}/> does not close in HTML")
            )

    def handle_endtag(self, tag: str) -> None:
        line, column = self._here()
        if tag in VOID:
            self.problems.append(
                HtmlProblem(line, column, f"</{tag}>", f"</{tag}>: a void element has no end tag")
            )
            return
        names = [name for name, *_ in self.open]
        if tag not in names:
            self.problems.append(
                HtmlProblem(
                    line, column, f"</{tag}>", f"</{tag}> closes nothing: no <{tag}> is open"
                )
            )
            return
        while self.open:
            name, at_line, at_column, text = self.open.pop()
            if name == tag:
                return
            if name not in _OPTIONAL_END:
                self.problems.append(
                    HtmlProblem(
                        at_line,
                        at_column,
                        text,
                        f"<{name}> is still open at </{tag}>",
                    )
                )

    def finish(self) -> list[HtmlProblem]:
        self.close()
        for name, line, column, text in self.open:
            if name not in _OPTIONAL_END:
                self.problems.append(HtmlProblem(line, column, text, f"<{name}> is never closed"))
        return self.problems


def html_problems(html: str) -> list[HtmlProblem]:
    checker = _Checker()
    checker.feed(html)
    return checker.finish()


def tag_outline(html: str) -> str:
    """The document's tags by name only: what its parsing depends on, the text aside."""
    return " ".join(_TAG_NAME.findall(html))


def html_findings(html: str, sources: list[tuple[str, str]], *, sample: str) -> list[Finding]:
    """Problems of a rendered document, each placed at the tag in the template that wrote it.

    `sources` are (name, text) of the files the document came from, the rendered
    template first. A tag written in several places is matched by the text written
    around it, then by its order in the output; the sample names the rendered line too.
    """
    found = []
    for problem in html_problems(html):
        needle = _needle(problem.tag)
        at = html_offset(html, problem.line, problem.column)
        name, line, column = _place(needle, html, at, sources)
        found.append(
            Finding(
                name,
                line,
                column,
                Severity.ERROR,
                f"HTML: {problem.message}",
                f"{sample}; rendered line {problem.line}",
            )
        )
    return found


def html_offset(text: str, line: int, column: int) -> int:
    lines = text.split("\n")
    return sum(len(part) + 1 for part in lines[: line - 1]) + column - 1


def _needle(tag: str) -> str:
    """What the template wrote of a tag: its name, and its first attribute's name if any."""
    if tag.startswith("</") or "=" not in tag:
        return tag
    return tag.split("=", 1)[0]


def _place(
    needle: str, html: str, at: int, sources: list[tuple[str, str]]
) -> tuple[str, int | None, int | None]:
    """The source occurrence of `needle` whose literal neighbours match the output's best."""
    nth = html.count(needle, 0, at)
    candidates = []
    for order, (name, text) in enumerate(sources):
        offsets = [i for i in range(len(text)) if text.startswith(needle, i)]
        for index, offset in enumerate(offsets):
            score = _common(text, offset, html, at, len(needle))
            candidates.append((-score, order, abs(index - nth), name, text, offset))
    if not candidates:
        return sources[0][0], None, None
    *_, name, text, offset = min(candidates)
    line, column = SourceText(text).position(offset)
    return name, line, column


def _common(text: str, offset: int, html: str, at: int, length: int) -> int:
    """How many characters on each side of the tag the source and the output share,
    up to the source's next Jinja tag ({{ or {%), which the output replaced."""
    after = text[offset + length :].split("{", 1)[0]
    before = text[:offset].rsplit("}", 1)[-1]
    shared = 0
    for mine, theirs in zip(after, html[at + length :], strict=False):
        if mine != theirs:
            break
        shared += 1
    for mine, theirs in zip(reversed(before), reversed(html[:at]), strict=False):
        if mine != theirs:
            break
        shared += 1
    return shared
