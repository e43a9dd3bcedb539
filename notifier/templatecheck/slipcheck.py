"""Slip templates: missed deliveries (every reason and next step), route packs' slips and final
notices in every language, rendered, parsed, read for the other language's words and measured."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from jinja2 import Environment

from notifier.config import Settings
from notifier.rendering.context import REASONS
from notifier.slips.legibility import below_floor, measure_slips
from notifier.slips.model import Slip, SlipKind
from notifier.slips.pdf import WORDING, render_slips_html
from notifier.templatecheck.findings import Finding, Report, Severity
from notifier.templatecheck.htmlcheck import html_findings, tag_outline
from notifier.templatecheck.language import WORDS, foreign_word_findings, name_forms
from notifier.templatecheck.located import error_finding
from notifier.templatecheck.messages import languages
from notifier.templatecheck.samples import proper_names
from notifier.templatecheck.slipread import SlipsRead, read_slips
from notifier.templatecheck.slipsamples import (
    SlipBatch,
    final_batch,
    missed_batch,
    route_batch,
    slip_samples,
)
from notifier.templatecheck.slipsources import SLIP_DOCUMENT, check_slip_sources, wording_name
from notifier.templatecheck.sources import TemplateFiles
from notifier.vocabulary import Reason

LaidOut = dict[tuple[SlipKind, datetime], list[tuple[str, Slip]]]


def wordiest_reason(lang: str) -> Reason:
    """The reason said at the greatest length in a language: the slip most likely to overflow."""
    return max(REASONS[lang], key=lambda reason: len(REASONS[lang][reason]))


def batches(settings: Settings) -> list[SlipBatch]:
    """Every kind of slip in every language, in the order they are checked."""
    make = (missed_batch, route_batch, final_batch)
    return [kind(settings, lang) for lang in languages(settings) for kind in make]


def measured(settings: Settings, batch: SlipBatch) -> list[tuple[str, Slip]]:
    """The slips to lay out: which parts a slip has depends on its kind, next step and
    language, not on a reason's wording, so a missed slip is laid out with the wordiest
    reason only (all reasons would take half a minute)."""
    if batch.kind != "missed":
        return batch.slips
    return slip_samples(settings, lang=batch.lang, reason=wordiest_reason(batch.lang))


@dataclass(slots=True)
class SlipCheck:
    settings: Settings
    env: Environment
    files: TemplateFiles
    report: Report
    layouts: set[str] = field(default_factory=set)
    names: re.Pattern[str] | None = None  # proper names, never another language's words

    def run(self) -> None:
        found = batches(self.settings)
        if not check_slip_sources(
            settings=self.settings,
            env=self.env,
            files=self.files,
            report=self.report,
            batches=found,
        ):
            return
        self.names = name_forms(self.env, proper_names(self.settings))
        laid_out: LaidOut = {}
        seen: set[str] = set()
        for batch in found:
            outlines = self._render(batch)
            if outlines is None:
                continue
            # Sizes come from the CSS the slip's elements match, not from their words: a
            # slip shaped like one laid out already measures the same (WeasyPrint takes
            # about 0.1 s a slip).
            for label, slip in measured(self.settings, batch):
                outline = outlines.get(label)
                if outline is not None:
                    if outline in seen:
                        continue
                    seen.add(outline)
                laid_out.setdefault((batch.kind, batch.now), []).append((label, slip))
        self.report.extend(measure_findings(self.settings, self.files, laid_out))

    def _render(self, batch: SlipBatch) -> dict[str, str] | None:
        """One document per language and kind; when it fails, one per group, to name them.

        Each slip's outline by its label, when the whole document renders; else None.
        """
        self.report.samples += len(batch.slips)
        read = self._document(batch, batch.slips, batch.label, report=False)
        if read is not None:
            labels = [label for label, _ in batch.slips]
            if len(read.outlines) != len(labels):
                return {}  # a document without a <section> a slip: nothing to compare
            return dict(zip(labels, read.outlines, strict=True))
        for label, group in batch.groups:
            self._document(batch, group, label, report=True)
        return None

    def _document(
        self, batch: SlipBatch, slips: list[tuple[str, Slip]], label: str, *, report: bool
    ) -> SlipsRead | None:
        try:
            html = render_slips_html(
                [slip for _, slip in slips],
                settings=self.settings,
                layout="a6",
                now=batch.now,
                with_qr=False,
            )
        except Exception as exc:  # any rendering failure is a finding, not a crash
            if report:
                self.report.add(
                    error_finding(exc, self.files, rendering=SLIP_DOCUMENT, sample=label)
                )
            return None
        self._html(html, label)
        read = read_slips(html)
        labels = [what for what, _ in slips]
        for (index, lang), text in read.texts.items():
            sample = labels[index] if index < len(labels) else label
            self._words(text, lang, batch.kind, sample)
        return read

    def _html(self, html: str, label: str) -> None:
        shape = tag_outline(html)
        if shape in self.layouts:
            return
        self.layouts.add(shape)
        names = [*self.files.closure(self.env, SLIP_DOCUMENT)]
        names += [wording_name(lang, kind) for lang in languages(self.settings) for kind in WORDING]
        sources = [(n, self.files.source(n) or "") for n in names]
        self.report.extend(html_findings(html, sources, sample=label))

    def _words(self, text: str, lang: str, kind: SlipKind, sample: str) -> None:
        """Words of another language in one language block of a slip."""
        if lang not in WORDS or self.names is None:
            return
        closure = [wording_name(lang, kind), wording_name(lang)]
        closure += self.files.closure(self.env, SLIP_DOCUMENT)
        self.report.extend(
            foreign_word_findings(
                text,
                language=lang,
                names=self.names,
                files=self.files,
                closure=closure,
                medium="on {} slip",
                sample=sample,
            )
        )


def measure_findings(settings: Settings, files: TemplateFiles, laid_out: LaidOut) -> list[Finding]:
    """The slips laid out on A6 pages, one document per kind: text below the floor."""
    if not laid_out:
        return []
    found = []
    count = longer = 0
    for (_, now), rendered in laid_out.items():
        try:
            sizes = measure_slips([s for _, s in rendered], settings=settings, now=now)
        except Exception as exc:  # any layout failure is a finding, not a crash
            found.append(error_finding(exc, files, rendering=SLIP_DOCUMENT, sample="layout"))
            continue
        count += len(rendered)
        for (label, _), size in zip(rendered, sizes, strict=True):
            longer += size.pages > 1
            for breach in below_floor(size):
                said = breach.split(": ", 1)[-1]
                message = (
                    f"text is set below the legibility floor: {said} "
                    "(slips/slip.css sets the sizes)"
                )
                found.append(Finding(SLIP_DOCUMENT, None, None, Severity.ERROR, message, label))
    message = f"{count} slips laid out, {longer} of them on two A6 pages"
    found.append(Finding(SLIP_DOCUMENT, None, None, Severity.INFO, message))
    return found
