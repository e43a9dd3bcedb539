"""Web page templates: the rebooking pages, the rating pages and the index, rendered in
every language."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from jinja2 import Environment

from notifier.config import Settings
from notifier.locales import SHIPPED_LANGUAGES
from notifier.rendering.context import format_hours
from notifier.templatecheck.feedbacksamples import FEEDBACK_PAGES, feedback_samples
from notifier.templatecheck.findings import Finding, Report, Severity
from notifier.templatecheck.htmlcheck import html_findings, tag_outline
from notifier.templatecheck.language import foreign_word_findings, name_forms
from notifier.templatecheck.located import error_finding
from notifier.templatecheck.names import Shape, check_names, merge, shape_of
from notifier.templatecheck.pagesamples import PAGES, page_samples
from notifier.templatecheck.samples import proper_names
from notifier.templatecheck.sources import TemplateFiles

_TAG = re.compile(r"<[^>]*>")
INDEX = "web/index.html"


# Each family of pages: its folder, its pages, and the alias its wording is imported as.
FAMILIES = (("rebook", PAGES, "t"), ("feedback", FEEDBACK_PAGES, "f"))


def wording_name(lang: str, family: str = "rebook") -> str:
    return f"web/{family}/{lang}.html"


def _samples(settings: Settings, lang: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(template, sample, context): the rebooking pages' ("parcel, open ..."), then the
    rating pages' ("feedback/question, ...")."""
    rebook = [(f"web/rebook/{p}.html", f"{p}, {w}", c) for p, w, c in page_samples(settings, lang)]
    rating = [
        (f"web/feedback/{p}.html", f"feedback/{p}, {w}", c)
        for p, w, c in feedback_samples(settings, lang)
    ]
    return rebook + rating


@dataclass(slots=True)
class PageCheck:
    settings: Settings
    env: Environment
    files: TemplateFiles
    report: Report
    layouts: set[str] = field(default_factory=set)

    def run(self) -> None:
        samples = {lang: _samples(self.settings, lang) for lang in SHIPPED_LANGUAGES}
        known: Shape = None
        for found in samples.values():
            for _, _, context in found:
                known = merge(known, shape_of(context))
        for lang in SHIPPED_LANGUAGES:
            known = merge(known, shape_of(self._index_context(lang)))
        known = known or {}
        self._sources(known)
        names = name_forms(self.env, proper_names(self.settings))
        for lang, found in samples.items():
            for name, sample, context in found:
                self._render(name, lang, context, sample, names)
            self._render(INDEX, lang, self._index_context(lang), "index", names)

    def _index_context(self, lang: str) -> dict[str, Any]:
        company = self.settings.company
        number = phonenumbers.parse(company.phone, company.default_phone_region)
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        hours = format_hours(company.phone_hours, lang)
        return {"company": company, "company_hours": hours, "lang": lang, "phone_e164": e164}

    def _sources(self, known: dict[str, Any]) -> None:
        aliases: dict[str, Sequence[tuple[str | None, Shape]]] = {
            alias: self._wording(family) for family, _, alias in FAMILIES
        }
        aliases["c"] = [(None, known.get("current_view"))]
        pages = [f"web/{family}/{page}.html" for family, names, _ in FAMILIES for page in names]
        pages.append(INDEX)
        for name in dict.fromkeys(n for page in pages for n in self.files.closure(self.env, page)):
            self.report.files.add(name)
            source = self.files.source(name)
            if source is None:
                self.report.add(Finding(name, None, None, Severity.ERROR, "missing: a web page"))
                continue
            self.report.extend(
                check_names(self.env, name, source=source, known=known, aliases=aliases)
            )

    def _wording(self, family: str) -> list[tuple[str | None, Shape]]:
        """Each language's wording module of a family of pages, checked, with its shape."""
        wording: list[tuple[str | None, Shape]] = []
        for lang in SHIPPED_LANGUAGES:
            name = wording_name(lang, family)
            self.report.files.add(name)
            source = self.files.source(name)
            if source is None:
                self.report.add(
                    Finding(name, None, None, Severity.ERROR, "missing: the pages' wording")
                )
                continue
            self.report.extend(check_names(self.env, name, source=source, known={}))
            try:
                wording.append((name, shape_of(self.env.get_template(name).module)))
            except Exception as exc:  # reported like any rendering failure
                self.report.add(error_finding(exc, self.files, rendering=name, sample="import"))
        return wording

    def _render(
        self, name: str, lang: str, context: dict[str, Any], sample: str, names: re.Pattern[str]
    ) -> None:
        if self.files.find(name) is None:
            return  # reported as missing
        self.report.samples += 1
        try:
            page = self.env.get_template(name).render(**context)
        except Exception as exc:  # any rendering failure is a finding, not a crash
            self.report.add(
                error_finding(exc, self.files, rendering=name, sample=f"{lang}: {sample}")
            )
            return
        closure = [
            *self.files.closure(self.env, name),
            *(wording_name(lang, family) for family, _, _ in FAMILIES),
        ]
        tags = tag_outline(page)
        if tags not in self.layouts:
            self.layouts.add(tags)
            sources = [(n, self.files.source(n) or "") for n in closure]
            self.report.extend(html_findings(page, sources, sample=f"{lang}: {sample}"))
        text = html.unescape(_TAG.sub(" ", page))
        self.report.extend(
            foreign_word_findings(
                text,
                language=lang,
                names=names,
                files=self.files,
                closure=closure,
                medium="on {} page",
                sample=f"{lang}: {sample}",
            )
        )
