"""Slips (design section 8): slip facts -> one HTML document -> PDF."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment, TemplateNotFound
from markupsafe import Markup

from notifier.config import Settings
from notifier.errors import ExternalResourceError, TemplateMissingError
from notifier.rendering.environment import build_environment
from notifier.slips.context import slip_context, slip_locales
from notifier.slips.model import Layout, Slip, SlipKind
from notifier.slips.qr import build_qr_svg

with warnings.catch_warnings():
    # WeasyPrint 66+ warns at import when libharfbuzz-subset is missing and then subsets
    # fonts with fontTools instead: the PDF is the same, so the warning is no error here.
    warnings.filterwarnings("ignore", message="HarfBuzz-Subset", category=DeprecationWarning)
    from weasyprint import HTML  # type: ignore[import-untyped]
    from weasyprint.urls import FatalURLFetchingError, URLFetcher  # type: ignore[import-untyped]

# Each kind's wording in slips/<locale>/: what happened, what next, how to act. Labels,
# the number to call and the trust line are the missed-delivery slip's (_text.html).
WORDING: dict[SlipKind, str] = {
    "missed": "_text.html",
    "route": "_route.html",
    "final": "_final.html",
}


@dataclass(slots=True)
class _Prepared:
    """A slip ready for the template: contexts per language and QR markup."""

    id: str
    kind: SlipKind
    blocks: list[dict[str, Any]]
    qr: Markup | None
    has_link: bool


@dataclass(frozen=True, slots=True)
class _Cell:
    """What one A6 page or A4 cell shows of a slip: all of it, or some parts of its blocks."""

    slip: _Prepared
    parts: dict[int, frozenset[str]] | None = None  # block index -> part names; None: all


@dataclass(frozen=True, slots=True)
class LaidOutSlip:
    """One slip as WeasyPrint laid it out on A6 pages."""

    slip: Slip
    locales: tuple[str, ...]  # its language blocks, the recipient's first
    pages: tuple[Any, ...]  # its own weasyprint Pages, in order


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
    """The slips as one HTML document, the one `render_slips_pdf` prints.

    For "a4x4" the slips are laid out on A6 pages first: only that layout tells which
    slips take two pages, and so two cells.
    """
    env = build_environment(settings)
    prepared = _prepare(slips, settings=settings, now=now, with_qr=with_qr)
    cells = _a4_cells(env, prepared, settings=settings) if layout == "a4x4" else None
    return _html(env, cells or [_Cell(p) for p in prepared], settings=settings, layout=layout)


def layout_slips(
    slips: Sequence[Slip], *, settings: Settings, now: datetime, with_qr: bool = True
) -> list[LaidOutSlip]:
    """The slips laid out by WeasyPrint on A6 pages, each with its own pages.

    A slip starts a page and runs onto the next only when it must: the type is never made
    smaller than the design's floor to fit (see templates/slips/slip.css).
    """
    env = build_environment(settings)
    prepared = _prepare(slips, settings=settings, now=now, with_qr=with_qr)
    document = _a6(env, prepared, settings=settings)
    return [
        LaidOutSlip(slip, tuple(str(block["locale"]) for block in p.blocks), tuple(own))
        for slip, p, own in zip(slips, prepared, _pages_by_slip(document, prepared), strict=True)
    ]


def render_slips_pdf(
    slips: Sequence[Slip],
    *,
    settings: Settings,
    layout: Layout,
    now: datetime,
    with_qr: bool = True,
    progress: Callable[[int], None] | None = None,
) -> bytes:
    """The slips as one PDF: A6 pages, or four A6 cells per A4 sheet with cut marks.

    A slip takes one page, or two when it cannot fit one at legible sizes (a second
    language, a very long name or address); on A4 it then takes two cells.
    `progress` is told how many slips are done: 0 at the start and all of them at the
    end; WeasyPrint lays out and writes the whole batch in one go, with nothing between.
    """
    if progress:
        progress(0)
    env = build_environment(settings)
    prepared = _prepare(slips, settings=settings, now=now, with_qr=with_qr)
    if layout == "a4x4":
        cells = _a4_cells(env, prepared, settings=settings)
        document = _layout(_html(env, cells, settings=settings, layout=layout))
    else:
        document = _a6(env, prepared, settings=settings)
    pdf = bytes(document.write_pdf())
    if progress:
        progress(len(slips))
    return pdf


def _a6(env: Environment, prepared: list[_Prepared], *, settings: Settings) -> Any:
    return _layout(_html(env, [_Cell(p) for p in prepared], settings=settings, layout="a6"))


def _a4_cells(env: Environment, prepared: list[_Prepared], *, settings: Settings) -> list[_Cell]:
    """A cell of the A4 sheet has the A6 page's content box: each A6 page becomes one."""
    pages = _pages_by_slip(_a6(env, prepared, settings=settings), prepared)
    return [cell for p, own in zip(prepared, pages, strict=True) for cell in _cells(p, own)]


def _pages_by_slip(document: Any, prepared: list[_Prepared]) -> list[list[Any]]:
    """Each slip's pages: its section starts a page and runs until the next one starts."""
    first_page: dict[str, int] = {}
    for number, page in enumerate(document.pages):
        for anchor in page.anchors:
            first_page.setdefault(anchor, number)
    starts = [first_page[p.id] for p in prepared]
    ends = [*starts[1:], len(document.pages)]
    return [document.pages[start:end] for start, end in zip(starts, ends, strict=True)]


def _cells(slip: _Prepared, pages: list[Any]) -> list[_Cell]:
    """A slip's A6 pages as cells: each shows the parts that start on its page.

    Parts are never split across pages (slip.css), so a page's anchors name all it shows.
    """
    if len(pages) == 1:
        return [_Cell(slip)]
    prefix = f"{slip.id}-"
    cells = []
    for page in pages:
        parts: dict[int, set[str]] = {}
        for anchor in page.anchors:
            if anchor.startswith(prefix):
                block, name = anchor.removeprefix(prefix).split("-", 1)
                parts.setdefault(int(block), set()).add(name)
        cells.append(_Cell(slip, {block: frozenset(names) for block, names in parts.items()}))
    return cells


def _layout(html: str) -> Any:
    try:
        return HTML(string=html, url_fetcher=_DataOnlyFetcher()).render()
    except FatalURLFetchingError as exc:  # a BaseException in WeasyPrint: stop it here
        raise ExternalResourceError(str(exc.__cause__ or exc)) from None


def _html(env: Environment, cells: list[_Cell], *, settings: Settings, layout: str) -> str:
    css = _template(env, "slips/slip.css").render(
        layout=layout, qr_size_mm=f"{settings.slips.qr_size_mm:g}"
    )
    if "</" in css:
        raise TemplateMissingError("slips/slip.css: must not contain '</'")
    locales = sorted({b["locale"] for cell in cells for b in cell.slip.blocks})
    texts = {locale: _template(env, f"slips/{locale}/_text.html").module for locale in locales}
    wordings = {
        kind: {
            locale: _template(env, f"slips/{locale}/{WORDING[kind]}").module for locale in locales
        }
        for kind in sorted({cell.slip.kind for cell in cells})
    }
    return str(
        _template(env, "slips/slip.html").render(
            cells=cells,
            layout=layout,
            lang=cells[0].slip.blocks[0]["locale"] if cells else "it",
            css=Markup(css),  # noqa: S704 - the CSS is ours or ops' own file, never user data
            texts=texts,
            wordings=wordings,
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
        blocks = [
            {"locale": loc, "c": slip_context(slip, settings=settings, locale=loc, now=now)}
            for loc in slip_locales(slip, settings)
        ]
        url = slip.facts.rebooking_url
        qr = Markup(build_qr_svg(url, size_mm=size_mm)) if url and with_qr else None  # noqa: S704
        prepared.append(_Prepared(f"slip-{index}", slip.kind, blocks, qr, bool(url)))
    return prepared
