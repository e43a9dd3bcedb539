"""GET /ops/templates as plain data: the check's summary, every message template rendered,
the slips, and the other files the check read (layouts, partials, pages) with their findings."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from notifier.config import Settings
from notifier.rendering.environment import build_environment
from notifier.templatecheck.findings import Finding, Severity
from notifier.templatecheck.gallery import MessageGallery, TemplateView, ranked, source_of
from notifier.templatecheck.runner import check_templates
from notifier.templatecheck.slipgallery import SlipsView, slip_views
from notifier.templatecheck.sources import TemplateFiles


@dataclass(frozen=True, slots=True)
class OtherFile:
    name: str
    override: Path | None
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True)
class Overview:
    templates: tuple[TemplateView, ...]
    slips: SlipsView
    others: tuple[OtherFile, ...]  # with a finding or an override first
    files: int  # template files the check read
    renderings: int
    errors: int
    warnings: int
    override_dir: Path | None
    price: str | None  # '0.075 EUR a segment'; None: not configured
    max_segments: int

    @property
    def findings(self) -> int:
        return self.errors + self.warnings

    @property
    def email_html(self) -> list[str]:
        """Every email's HTML part the page shows, in order."""
        return [
            email.html
            for template in self.templates
            for rendering in template.renderings
            for email in rendering.emails
            if email.html is not None
        ]


def build_overview(settings: Settings) -> Overview:
    """Runs `notifier templates check` and renders every template: seconds, so cached."""
    report = check_templates(settings)
    env = build_environment(settings)
    files = TemplateFiles.for_settings(settings)
    override_dir = settings.templates.override_dir
    templates = MessageGallery(settings, env, files).templates(report)
    shown = {r.source.name for t in templates for r in t.renderings}
    findings = ranked(report.findings)
    read = sorted(report.files | {f.path for f in findings})
    overridden = {name: source_of(files, override_dir, name).override for name in read}
    slips = slip_views(settings, env, files, findings, overridden)
    others = [
        OtherFile(name, overridden[name], tuple(f for f in findings if f.path == name))
        for name in read
        if name not in shown and not name.startswith("slips/")
    ]
    others.sort(key=lambda o: (not o.findings, o.override is None, o.name))
    price = settings.templates.sms_price
    return Overview(
        templates=tuple(templates),
        slips=slips,
        others=tuple(others),
        files=len(report.files),
        renderings=report.samples,
        errors=report.count(Severity.ERROR),
        warnings=report.count(Severity.WARNING),
        override_dir=override_dir,
        price=None if price is None else f"{price.per_segment} {price.currency} a segment",
        max_segments=settings.templates.sms_max_segments,
    )


def inline_styles(html: str) -> set[str]:
    """The style attributes' values and <style> elements' text of an HTML document."""
    found = _Styles()
    found.feed(html)
    found.close()
    return found.styles


class _Styles(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.styles: set[str] = set()
        self._sheet: list[str] | None = None  # inside a <style> element: its text so far

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.styles.update(value for name, value in attrs if name == "style" and value)
        if tag == "style":
            self._sheet = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "style" and self._sheet is not None:
            self.styles.add("".join(self._sheet))
            self._sheet = None

    def handle_data(self, data: str) -> None:
        if self._sheet is not None:
            self._sheet.append(data)
