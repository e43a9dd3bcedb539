"""Missed-delivery slips (design section 8): slip facts -> one HTML document -> PDF."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from babel.dates import format_time
from jinja2 import Environment, TemplateNotFound
from markupsafe import Markup

from notifier.config import Settings
from notifier.errors import ExternalResourceError, TemplateMissingError
from notifier.locales import day_long, language_for, parse_language
from notifier.rebooking.choices import change_until
from notifier.rendering.context import ParcelFacts, build_context
from notifier.rendering.environment import build_environment
from notifier.slips.model import Layout, Slip
from notifier.slips.qr import build_qr_svg

with warnings.catch_warnings():
    # WeasyPrint 66+ warns at import when libharfbuzz-subset is missing and then subsets
    # fonts with fontTools instead: the PDF is the same, so the warning is no error here.
    warnings.filterwarnings("ignore", message="HarfBuzz-Subset", category=DeprecationWarning)
    from weasyprint import HTML  # type: ignore[import-untyped]
    from weasyprint.urls import FatalURLFetchingError, URLFetcher  # type: ignore[import-untyped]

# CSS classes fit-0 (the design's sizes) to fit-4 (smallest): each slip gets the first
# level at which it fits on its A6 page.
MAX_FIT = 4
# Rough capacity of an A6 page's content box in 11pt lines, and the estimated heights up
# to which fit levels 0, 1, 2... are the first guess. A guess is only ever raised (by
# WeasyPrint's real layout), so these err low: a slip is never shrunk on a guess alone.
_PAGE_LINES = 27.0
_GUESS_LINES = (26.0, 28.0, 30.0, 45.0)


@dataclass(slots=True)
class _Prepared:
    """A slip ready for the template: contexts per language, QR markup, fit level."""

    id: str
    blocks: list[dict[str, Any]]
    qr: Markup | None
    has_link: bool
    fit: int
    lines: float  # estimated height in 11pt lines at fit-0


class _DataOnlyFetcher(URLFetcher):  # type: ignore[misc]
    """Slips are self-contained: anything but a data: URL is refused, never fetched."""

    def __init__(self) -> None:
        # fail_on_errors: a refused URL stops the rendering instead of a warning and a gap.
        super().__init__(allowed_protocols={"data"}, fail_on_errors=True)

    def fetch(self, url: str, headers: Any = None) -> Any:
        if not url.lower().startswith("data:"):
            raise ExternalResourceError(f"slips fetch nothing; refused {url[:200]}")
        return super().fetch(url, headers)


def render_slips_html(
    slips: Sequence[Slip],
    *,
    settings: Settings,
    layout: Layout,
    now: datetime,
    with_qr: bool = True,
) -> str:
    """The slips as one HTML document, each at its first-guess fit level.

    `render_slips_pdf` checks the guesses against the real layout and shrinks a slip that
    would spill onto a second page; this HTML alone has not been through that check.
    """
    env = build_environment(settings)
    prepared = _prepare(slips, settings=settings, now=now, with_qr=with_qr)
    return _html(env, prepared, settings=settings, layout=layout)


def render_slips_pdf(
    slips: Sequence[Slip],
    *,
    settings: Settings,
    layout: Layout,
    now: datetime,
    with_qr: bool = True,
    progress: Callable[[int], None] | None = None,
) -> bytes:
    """The slips as one PDF: one per A6 page, or four per A4 sheet with cut marks.

    `progress` is told how many slips are done: 0 at the start and all of them at the
    end; WeasyPrint lays out and writes the whole batch in one go, with nothing between.
    """
    if progress:
        progress(0)
    env = build_environment(settings)
    prepared = _prepare(slips, settings=settings, now=now, with_qr=with_qr)
    if layout == "a6":
        document = _settle(env, prepared, settings=settings)
    else:
        # The A4 cells have the A6 page's content box: settle the slips that might not
        # fit on A6 pages of their own, then lay out the sheets with those levels.
        at_risk = [p for p in prepared if p.lines > _PAGE_LINES * 0.8]
        if at_risk:
            _settle(env, at_risk, settings=settings)
        document = _layout(_html(env, prepared, settings=settings, layout=layout))
    pdf = bytes(document.write_pdf())
    if progress:
        progress(len(slips))
    return pdf


def _settle(env: Environment, prepared: list[_Prepared], *, settings: Settings) -> Any:
    """The slips on A6 pages, one each: a slip that runs onto a second page is laid out
    again alone at the next fit level, and its pages are spliced in place of the old ones.
    """
    document = _layout(_html(env, prepared, settings=settings, layout="a6"))
    if not prepared:
        return document
    pages = _pages_by_slip(document, prepared)
    while True:
        redo = [i for i, own in enumerate(pages) if len(own) > 1 and prepared[i].fit < MAX_FIT]
        if not redo:
            return document.copy([page for own in pages for page in own])
        for i in redo:
            prepared[i].fit += 1
        again = _layout(_html(env, [prepared[i] for i in redo], settings=settings, layout="a6"))
        for i, own in zip(redo, _pages_by_slip(again, [prepared[i] for i in redo]), strict=True):
            pages[i] = own


def _pages_by_slip(document: Any, prepared: list[_Prepared]) -> list[list[Any]]:
    """Each slip's pages: its section starts a page and runs until the next one starts."""
    first_page: dict[str, int] = {}
    for number, page in enumerate(document.pages):
        for anchor in page.anchors:
            first_page.setdefault(anchor, number)
    starts = [first_page[p.id] for p in prepared]
    ends = [*starts[1:], len(document.pages)]
    return [document.pages[start:end] for start, end in zip(starts, ends, strict=True)]


def _layout(html: str) -> Any:
    try:
        return HTML(string=html, url_fetcher=_DataOnlyFetcher()).render()
    except FatalURLFetchingError as exc:  # a BaseException in WeasyPrint: stop it here
        raise ExternalResourceError(str(exc.__cause__ or exc)) from None


def _html(env: Environment, prepared: list[_Prepared], *, settings: Settings, layout: str) -> str:
    css = _template(env, "slips/slip.css").render(
        layout=layout, qr_size_mm=f"{settings.slips.qr_size_mm:g}"
    )
    if "</" in css:
        raise TemplateMissingError("slips/slip.css: must not contain '</'")
    texts = {
        locale: _template(env, f"slips/{locale}/_text.html").module
        for locale in sorted({b["locale"] for p in prepared for b in p.blocks})
    }
    return str(
        _template(env, "slips/slip.html").render(
            slips=prepared,
            layout=layout,
            css=Markup(css),  # noqa: S704 - the CSS is ours or ops' own file, never user data
            texts=texts,
            title=settings.company.name,
        )
    )


def _template(env: Environment, name: str) -> Any:
    try:
        return env.get_template(name)
    except TemplateNotFound as exc:
        raise TemplateMissingError(f"template not found: {name}") from exc


def _prepare(
    slips: Sequence[Slip], *, settings: Settings, now: datetime, with_qr: bool
) -> list[_Prepared]:
    size_mm = settings.slips.qr_size_mm
    prepared = []
    for index, slip in enumerate(slips):
        first = language_for(slip.locale, settings.company.default_locale)
        locales = [first]
        second = parse_language(slip.second_locale)
        if second is not None and second != first:
            locales.append(second)
        blocks = [
            {"locale": loc, "c": _context(slip.facts, settings=settings, locale=loc, now=now)}
            for loc in locales
        ]
        url = slip.facts.rebooking_url
        qr = Markup(build_qr_svg(url, size_mm=size_mm)) if url and with_qr else None  # noqa: S704
        lines = _estimate_lines(blocks)
        fit = next((n for n, cap in enumerate(_GUESS_LINES) if lines <= cap), MAX_FIT)
        prepared.append(_Prepared(f"slip-{index}", blocks, qr, bool(url), fit, lines))
    return prepared


def _context(
    facts: ParcelFacts, *, settings: Settings, locale: str, now: datetime
) -> dict[str, Any]:
    context = build_context(facts, settings=settings, locale=locale, now=now)
    code = facts.short_code or ""
    context.update(
        short_code_grouped=" ".join(code[i : i + 4] for i in range(0, len(code), 4)),
        entry_text=_without_scheme(context["rebooking_entry"]),
        link_text=_without_scheme(facts.rebooking_url or ""),
        domain=urlsplit(context["company"]["website"]).hostname or context["company"]["website"],
        choose_by=_choose_by(facts, settings=settings, locale=locale),
    )
    return context


def _choose_by(facts: ParcelFacts, *, settings: Settings, locale: str) -> str | None:
    """By when a choice still counts, in words: choices for the next attempt close the
    evening before it ("lunedì 30 novembre, 18:00"); a held parcel's on its last day."""
    if facts.next_attempt_date is not None:
        until = change_until(facts.next_attempt_date, settings)
        time_text = format_time(until, "HH:mm", locale=locale)
        return f"{day_long(until.date(), locale)}, {time_text}"
    if facts.held_until is not None:
        return day_long(facts.held_until, locale)
    return None


def _without_scheme(url: str) -> str:
    """'https://rapido.example/r' -> 'rapido.example/r': shorter to read and to type."""
    return url.split("://", 1)[-1].rstrip("/")


def _estimate_lines(blocks: list[dict[str, Any]]) -> float:
    """A slip's height in 11pt lines of about 44 characters, for a first fit guess."""

    def wrapped(text: str | None, per_line: int = 44) -> int:
        return math.ceil(len(text) / per_line) if text else 0

    c = blocks[0]["c"]
    place = c["pickup_point"] or c["depot"] if not c["next_attempt"] else None
    lines = 19.0 + wrapped(c["recipient_name"])  # the fixed parts: QR, phone, tracking...
    if place:
        lines += 1.5 + wrapped(place["name"], 32) * 1.3 + wrapped(place["address"])
        lines += wrapped(place["hours"]) + (1 if place["phone"] else 0)
    for _second in blocks[1:]:
        lines += 8 + (wrapped(place["name"]) + wrapped(place["address"]) if place else 0)
    return lines
