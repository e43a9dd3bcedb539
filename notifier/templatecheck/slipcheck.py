"""Slip templates: every reason and next step in every language, rendered, parsed and measured."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from jinja2 import Environment

from notifier.config import Settings
from notifier.rendering.context import REASONS
from notifier.slips.legibility import below_floor, measure_slips
from notifier.slips.model import Slip
from notifier.slips.pdf import render_slips_html
from notifier.templatecheck.findings import Finding, Report, Severity
from notifier.templatecheck.htmlcheck import html_findings, tag_outline
from notifier.templatecheck.located import error_finding
from notifier.templatecheck.messages import context_shape, languages
from notifier.templatecheck.names import Shape, check_names, shape_of
from notifier.templatecheck.samples import RECIPIENTS, base_facts, moments, situations
from notifier.templatecheck.sources import TemplateFiles
from notifier.vocabulary import Reason, Status

SLIP_DOCUMENT = "slips/slip.html"
# What a slip's context has beyond a message's (templates/README.md, "Slips ... also get").
SLIP_EXTRAS = ("choose_by", "short_code_grouped", "entry_text", "link_text", "domain")


def wording_name(lang: str) -> str:
    return f"slips/{lang}/_text.html"


def slip_samples(settings: Settings, *, lang: str, reason: Reason | None) -> list[tuple[str, Slip]]:
    """(what, slip): each next step for one reason, printed the morning after the attempt."""
    _, occurred, _ = moments(settings)[1]
    second = settings.slips.second_locale
    base = base_facts(settings, status=Status.DELIVERY_ATTEMPTED, reason=reason)
    found = []
    for index, (what, changes) in enumerate(situations(settings)):
        facts = replace(base, occurred_at=occurred, **changes)
        if facts.recipient_name and index % 2:
            facts = replace(facts, recipient_name=RECIPIENTS[1])
        label = f"{lang}{'+' + second if second else ''}, {reason or '-'}, {what}"
        found.append((label, Slip(facts, lang, second)))
    return found


def wordiest_reason(lang: str) -> Reason:
    """The reason said at the greatest length in a language: the slip most likely to overflow."""
    return max(REASONS[lang], key=lambda reason: len(REASONS[lang][reason]))


@dataclass(slots=True)
class SlipCheck:
    settings: Settings
    env: Environment
    files: TemplateFiles
    report: Report
    layouts: set[str] = field(default_factory=set)

    def run(self) -> None:
        if not self._sources():
            return
        measured = []
        for lang in languages(self.settings):
            groups = {
                reason: slip_samples(self.settings, lang=lang, reason=reason)
                for reason in (None, *Reason)
            }
            if self._render(lang, groups):
                measured += slip_samples(self.settings, lang=lang, reason=wordiest_reason(lang))
        # Sizes come from the CSS classes the slip's parts carry, and which parts a slip has
        # depends on its next step and language, not on a reason's wording: each next step
        # laid out once per language, with the wordiest reason, measures every arrangement.
        # (WeasyPrint takes about 0.1 s a slip: all reasons would take half a minute.)
        self._measure(measured)

    def _render(self, lang: str, groups: dict[Reason | None, list[tuple[str, Slip]]]) -> bool:
        """One document per language; when it fails, one per reason, to name the samples."""
        everything = [sample for group in groups.values() for sample in group]
        self.report.samples += len(everything)
        if self._document(everything, f"{lang}, every reason", report=False):
            return True
        for reason, group in groups.items():
            self._document(group, f"{lang}, {reason or '-'}, every next step", report=True)
        return False

    def _document(self, batch: list[tuple[str, Slip]], label: str, *, report: bool) -> bool:
        _, _, now = moments(self.settings)[1]
        slips = [slip for _, slip in batch]
        try:
            html = render_slips_html(
                slips, settings=self.settings, layout="a6", now=now, with_qr=False
            )
        except Exception as exc:  # any rendering failure is a finding, not a crash
            if report:
                self.report.add(
                    error_finding(exc, self.files, rendering=SLIP_DOCUMENT, sample=label)
                )
            return False
        self._html(html, label)
        return True

    def _sources(self) -> bool:
        """The static checks; False when a language's wording is missing (nothing renders)."""
        # A message's context bar the recipient's details (the depot's, never on paper).
        message = {k: v for k, v in context_shape(self.settings).items() if k != "recipient"}
        slip: Shape = {**message, **dict.fromkeys(SLIP_EXTRAS)}
        wording: list[tuple[str | None, Shape]] = []
        complete = True
        for lang in languages(self.settings):
            name = wording_name(lang)
            self.report.files.add(name)
            source = self.files.source(name)
            if source is None:
                self.report.add(
                    Finding(name, None, None, Severity.ERROR, "missing: the slip's wording")
                )
                complete = False
                continue
            self.report.extend(
                check_names(self.env, name, source=source, known={}, aliases={"c": [(None, slip)]})
            )
            try:
                wording.append((name, shape_of(self.env.get_template(name).module)))
            except Exception as exc:  # reported like any rendering failure
                self.report.add(error_finding(exc, self.files, rendering=name, sample="import"))
        aliases: dict[str, Sequence[tuple[str | None, Shape]]] = {"c": [(None, slip)], "t": wording}
        for name in self.files.closure(self.env, SLIP_DOCUMENT):
            self.report.files.add(name)
            source = self.files.source(name) or ""
            found = check_names(
                self.env, name, source=source, known={}, aliases=aliases, unknown_names=False
            )
            self.report.extend(found)
        return complete

    def _html(self, html: str, label: str) -> None:
        shape = tag_outline(html)
        if shape in self.layouts:
            return
        self.layouts.add(shape)
        names = [*self.files.closure(self.env, SLIP_DOCUMENT)]
        names += [wording_name(lang) for lang in languages(self.settings)]
        sources = [(n, self.files.source(n) or "") for n in names]
        self.report.extend(html_findings(html, sources, sample=label))

    def _measure(self, rendered: list[tuple[str, Slip]]) -> None:
        if not rendered:
            return
        _, _, now = moments(self.settings)[1]
        try:
            sizes = measure_slips([s for _, s in rendered], settings=self.settings, now=now)
        except Exception as exc:  # any layout failure is a finding, not a crash
            self.report.add(
                error_finding(exc, self.files, rendering=SLIP_DOCUMENT, sample="layout")
            )
            return
        longer = 0
        for (label, _), measured in zip(rendered, sizes, strict=True):
            longer += measured.pages > 1
            for breach in below_floor(measured):
                said = breach.split(": ", 1)[-1]
                self.report.add(
                    Finding(
                        SLIP_DOCUMENT,
                        None,
                        None,
                        Severity.ERROR,
                        f"text is set below the legibility floor: {said} "
                        "(slips/slip.css sets the sizes)",
                        label,
                    )
                )
        self.report.add(
            Finding(
                SLIP_DOCUMENT,
                None,
                None,
                Severity.INFO,
                f"{len(rendered)} slips laid out, {longer} of them on two A6 pages",
            )
        )
