"""SMS and email templates: each rendered for every case and sample it serves, and what it shows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from jinja2 import Environment, TemplateSyntaxError, meta

from notifier.config import Settings
from notifier.locales import language_for
from notifier.rendering.context import build_context, recipient_details
from notifier.rendering.environment import render_message
from notifier.templatecheck.findings import Finding, Report, Severity
from notifier.templatecheck.gsm import SmsLengths, literal_findings
from notifier.templatecheck.htmlcheck import html_findings, tag_outline
from notifier.templatecheck.language import foreign_word_findings, name_forms
from notifier.templatecheck.located import error_finding
from notifier.templatecheck.names import Shape, check_names, merge, shape_of
from notifier.templatecheck.samples import (
    LOCALE_TAGS,
    PHONE,
    Sample,
    confirmation_samples,
    message_samples,
    promise_samples,
    proper_names,
    sample_shipment,
)
from notifier.templatecheck.served import PROMISE_TEMPLATES, Served, served_templates
from notifier.templatecheck.sources import TemplateFiles
from notifier.vocabulary import Channel, Reason, Status

EMAIL_LAYOUT = "email/base.html"


def languages(settings: Settings) -> list[str]:
    """The shipped languages recipients' tags (`it`, `en-GB`...) are rendered in."""
    default = settings.company.default_locale
    return list(dict.fromkeys(language_for(tag, default).value for tag in LOCALE_TAGS))


def samples_for(settings: Settings, served: Served) -> list[Sample]:
    if served.template == "dispute_forward":
        return confirmation_samples(settings, disputes_only=True)
    if served.template in PROMISE_TEMPLATES:
        return promise_samples(settings)
    if not served.cases:
        return confirmation_samples(settings)
    return [
        s
        for status, reason in served.cases
        for s in message_samples(settings, status=status, reason=reason)
    ]


def _without_reason(sample: Sample) -> tuple[object, ...]:
    return (replace(sample.facts, reason=None), sample.now, sample.booking, sample.promise)


def message_context(settings: Settings, sample: Sample, *, language: str) -> dict[str, Any]:
    """A sample's context as sending/compose.py builds it for an outbox row."""
    context = build_context(
        sample.facts,
        settings=settings,
        locale=language,
        now=sample.now,
        booking=sample.booking,
        promise=sample.promise,
    )
    phone = PHONE if sample.facts.recipient_name else None
    context["recipient"] = recipient_details(sample_shipment(sample.facts), phone=phone)
    return context


def context_shape(settings: Settings) -> dict[str, Shape]:
    """What every message template's context offers, merged over samples of each kind."""
    shape: Shape = None
    samples = [
        *message_samples(
            settings, status=Status.DELIVERY_ATTEMPTED, reason=Reason.RECIPIENT_ABSENT
        ),
        *confirmation_samples(settings),
        *promise_samples(settings),
    ]
    for language in languages(settings):
        for sample in samples:
            shape = merge(shape, shape_of(message_context(settings, sample, language=language)))
    return shape or {}


@dataclass(slots=True)
class MessageCheck:
    """One run over the message templates, adding to `report`."""

    settings: Settings
    env: Environment
    files: TemplateFiles
    report: Report
    checked: set[str] = field(default_factory=set)  # files whose source was checked
    layouts: set[str] = field(default_factory=set)  # HTML parts' tags, text left out
    contexts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, frozenset[str]] = field(default_factory=dict)  # each file's

    def run(self) -> None:
        known = context_shape(self.settings)
        names = name_forms(self.env, proper_names(self.settings))
        for served in served_templates(self.settings).values():
            samples = samples_for(self.settings, served)
            for channel in served.channels:
                for language in languages(self.settings):
                    self._template(served, channel, language, samples, known, names)

    def _template(
        self,
        served: Served,
        channel: Channel,
        language: str,
        samples: list[Sample],
        known: dict[str, Shape],
        names: re.Pattern[str],
    ) -> None:
        name = f"{channel}/{language}/{served.template}.txt"
        if self.files.find(name) is None:
            self.report.add(
                Finding(
                    name, None, None, Severity.ERROR, f"missing: {served.why} sends it by {channel}"
                )
            )
            return
        closure = self.files.closure(self.env, name)
        self._sources(closure, known, sms=channel == Channel.SMS)
        if not self._reads(closure, {"reason", "reason_text"}):
            # Its text cannot change with the reason: the samples without one say it all.
            kept: dict[tuple[object, ...], Sample] = {}
            for sample in samples:
                kept.setdefault(_without_reason(sample), sample)
            samples = list(kept.values())
        lengths = SmsLengths(name)
        max_segments = self.settings.templates.sms_max_segments
        for sample in samples:
            context = self._context(sample, language)
            self.report.samples += 1
            try:
                text = render_message(
                    self.env,
                    channel=channel,
                    template=served.template,
                    locale=language,
                    context=context,
                )
            except Exception as exc:  # any rendering failure is a finding, not a crash
                self.report.add(error_finding(exc, self.files, rendering=name, sample=sample.label))
                continue
            if channel == Channel.SMS:
                lengths.add(text.body, sample=sample.label, max_segments=max_segments)
            said = f"{text.subject or ''}\n{text.body}"
            self._words(said, language, closure, names, sample.label)
            if text.body_html is not None:
                self._html(text.body_html, sample.label)
        self.report.extend(lengths.findings(max_segments))

    def _reads(self, closure: list[str], names: set[str]) -> bool:
        """Whether any of the files uses any of these context variables."""
        for name in closure:
            if name not in self.variables:
                try:
                    tree = self.env.parse(self.files.source(name) or "")
                    self.variables[name] = frozenset(meta.find_undeclared_variables(tree))
                except TemplateSyntaxError:
                    return True  # reported by the names check; render everything
            if self.variables[name] & names:
                return True
        return False

    def _context(self, sample: Sample, language: str) -> dict[str, Any]:
        """A sample's context, built once for the SMS and the email that share it."""
        key = (sample.label, language)
        if key not in self.contexts:
            self.contexts[key] = message_context(self.settings, sample, language=language)
        return self.contexts[key]

    def _html(self, html: str, sample: str) -> None:
        """The HTML part, parsed once per arrangement of tags (the text does not change it)."""
        tags = tag_outline(html)
        if tags in self.layouts:
            return
        self.layouts.add(tags)
        layout = self.files.closure(self.env, EMAIL_LAYOUT)
        self.report.files.update(layout)
        sources = [(n, self.files.source(n) or "") for n in layout]
        self.report.extend(html_findings(html, sources, sample=sample))

    def _sources(self, closure: list[str], known: dict[str, Shape], *, sms: bool) -> None:
        for name in closure:
            self.report.files.add(name)
            source = self.files.source(name)
            if name in self.checked or source is None:
                continue
            self.checked.add(name)
            self.report.extend(check_names(self.env, name, source=source, known=known))
            if sms:
                self.report.extend(literal_findings(self.env, name, source=source))

    def _words(
        self, text: str, language: str, closure: list[str], names: re.Pattern[str], sample: str
    ) -> None:
        self.report.extend(
            foreign_word_findings(
                text,
                language=language,
                names=names,
                files=self.files,
                closure=closure,
                medium="in {} message",
                sample=sample,
            )
        )
