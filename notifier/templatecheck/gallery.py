"""What GET /ops/templates shows of the message templates: each served template rendered with
the check's samples in every shipped language, each SMS's encoding, segments and cost, where
each file comes from (an override or the shipped one), and the `templates check` findings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from jinja2 import Environment

from notifier.config import Settings
from notifier.config.prices import SmsPrice
from notifier.rendering.environment import render_message
from notifier.rendering.smstext import SmsEncoding, sms_encoding
from notifier.templatecheck.findings import Finding, Report, Severity
from notifier.templatecheck.gsm import char_name, non_gsm7
from notifier.templatecheck.located import error_finding
from notifier.templatecheck.messages import EMAIL_LAYOUT, languages, message_context, samples_for
from notifier.templatecheck.preview import pick
from notifier.templatecheck.samples import Sample
from notifier.templatecheck.served import Served, served_templates
from notifier.templatecheck.sources import TemplateFiles
from notifier.vocabulary import Channel, Reason

LANGUAGE_NAMES = {"it": "Italian", "en": "English"}
_MOST_PLACES = 6  # a price's decimals shown at most: 0.0725 EUR, never 0.07250000


@dataclass(frozen=True, slots=True)
class Source:
    """Where a template file is read from: `override` when a file there replaces ours."""

    name: str  # as templates are named: sms/it/missed_delivery.txt
    override: Path | None


def source_of(files: TemplateFiles, override_dir: Path | None, name: str) -> Source:
    found = files.find(name)
    if found is None or override_dir is None or not found.is_relative_to(override_dir):
        return Source(name, None)
    return Source(name, found)


def sms_cost(segments: int, price: SmsPrice | None) -> str | None:
    """'0.150 EUR': `segments` times the price, to the price's own decimals (two at least)."""
    if price is None:
        return None
    exponent = price.per_segment.as_tuple().exponent
    places = min(_MOST_PLACES, max(2, -exponent if isinstance(exponent, int) else 2))
    amount = (price.per_segment * segments).quantize(Decimal(1).scaleb(-places))
    return f"{amount:.{places}f} {price.currency}"


@dataclass(frozen=True, slots=True)
class SmsView:
    role: str  # why this sample is shown: the usual case, the longest, no name known...
    sample: str
    text: str  # exactly as sent: rendered and made plain (normalise_sms)
    encoding: SmsEncoding
    forcing: tuple[str, ...]  # the characters that make it UCS-2, named
    max_segments: int
    cost: str | None  # None: no price configured

    @property
    def characters(self) -> int:
        return len(self.text)

    @property
    def too_long(self) -> bool:
        return self.encoding.segments > self.max_segments

    @property
    def units(self) -> str:
        return "septets" if self.encoding.encoding == "GSM-7" else "UTF-16 units"


@dataclass(frozen=True, slots=True)
class EmailView:
    role: str
    sample: str
    subject: str
    text: str
    html: str | None  # shown once per language and template: the layout is the same


@dataclass(frozen=True, slots=True)
class Rendering:
    """One template file (a channel, a language) rendered with the samples that matter."""

    channel: Channel
    language: str
    source: Source
    uses: tuple[Source, ...]  # overridden files it includes or is set in (email/base.html)
    sms: tuple[SmsView, ...] = ()
    emails: tuple[EmailView, ...] = ()
    failures: tuple[str, ...] = ()  # renderings that failed, as the check words them

    @property
    def language_name(self) -> str:
        return LANGUAGE_NAMES.get(self.language, self.language)

    @property
    def anchor(self) -> str:
        return f"{self.channel}-{self.language}"


@dataclass(frozen=True, slots=True)
class TemplateView:
    name: str
    sent_for: str
    renderings: tuple[Rendering, ...]
    findings: tuple[Finding, ...]

    @property
    def anchor(self) -> str:
        return f"t-{self.name}"

    @property
    def errors(self) -> int:
        return sum(f.severity == Severity.ERROR for f in self.findings)

    @property
    def overridden(self) -> bool:
        return any(r.source.override is not None for r in self.renderings)


def sent_for(served: Served) -> str:
    """'DELIVERY_ATTEMPTED (any reason or none but PAYMENT_REQUIRED)', or which code sends it."""
    if not served.cases:
        return served.why
    reasons: dict[str, list[Reason | None]] = {}
    for status, reason in served.cases:
        reasons.setdefault(str(status), []).append(reason)
    every: list[Reason | None] = [None, *Reason]
    parts = []
    for shown, given in reasons.items():
        missing = [r for r in every if r not in given]
        if len(missing) < len(given):
            but = f" but {_reasons(missing)}" if missing else ""
            parts.append(f"{shown} (any reason or none{but})")
        else:
            parts.append(f"{shown} ({_reasons(given)})")
    return "; ".join(parts)


def _reasons(reasons: list[Reason | None]) -> str:
    return ", ".join("no reason" if r is None else str(r) for r in reasons)


def representatives(samples: list[Sample]) -> list[tuple[str, Sample]]:
    """(role, sample): the usual case, one of each kind of choice or broken promise, and one
    with nothing known of the recipient (no name, no link)."""
    chosen: dict[str, Sample] = {"usual case": pick(samples, reason=None, variant=None)}
    for sample in samples:
        if sample.promise is not None:
            chosen.setdefault(f"broken promise: {sample.promise.kind}", sample)
        elif sample.booking is not None:
            chosen.setdefault(f"choice: {sample.booking.choice.kind}", sample)
    nameless = [s for s in samples if s.facts.recipient_name is None]
    if nameless:
        chosen.setdefault("no name known", nameless[0])
    unique: dict[str, tuple[str, Sample]] = {}
    for role, sample in chosen.items():
        unique.setdefault(sample.label, (role, sample))
    return list(unique.values())


@dataclass(slots=True)
class MessageGallery:
    """Renders every served message template; one per page build (it keeps the contexts)."""

    settings: Settings
    env: Environment
    files: TemplateFiles

    def templates(self, report: Report) -> list[TemplateView]:
        override = self.settings.templates.override_dir
        views = []
        for served in served_templates(self.settings).values():
            samples = samples_for(self.settings, served)
            renderings = [
                self._rendering(served.template, channel, language, samples, override)
                for language in languages(self.settings)
                for channel in served.channels
            ]
            own = {r.source.name for r in renderings}
            findings = tuple(f for f in ranked(report.findings) if f.path in own)
            views.append(
                TemplateView(served.template, sent_for(served), tuple(renderings), findings)
            )
        return views

    def _rendering(
        self,
        template: str,
        channel: Channel,
        language: str,
        samples: list[Sample],
        override: Path | None,
    ) -> Rendering:
        name = f"{channel}/{language}/{template}.txt"
        source = source_of(self.files, override, name)
        closure = self.files.closure(self.env, name)
        if channel == Channel.EMAIL:
            closure = [*closure, *self.files.closure(self.env, EMAIL_LAYOUT)]
        used = (source_of(self.files, override, n) for n in closure if n != name)
        uses = tuple(s for s in used if s.override is not None)
        if self.files.find(name) is None:
            return Rendering(channel, language, source, uses, failures=("missing",))
        shown = representatives(samples)
        failures: list[str] = []
        if channel == Channel.SMS:
            longest = self._longest_sms(template, language, samples)
            if longest is not None:
                shown.insert(1, ("longest", longest))
            sms = self._sms(template, language, shown, failures)
            return Rendering(channel, language, source, uses, sms=sms, failures=tuple(failures))
        emails = self._emails(template, language, shown, failures)
        return Rendering(channel, language, source, uses, emails=emails, failures=tuple(failures))

    def _render(
        self, channel: Channel, template: str, language: str, sample: Sample
    ) -> tuple[str, str | None, str | None]:
        """(body, subject, html) as the sender composes them."""
        context = message_context(self.settings, sample, language=language)
        text = render_message(
            self.env, channel=channel, template=template, locale=language, context=context
        )
        return text.body, text.subject, text.body_html

    def _failed(self, exc: Exception, name: str, sample: Sample, failures: list[str]) -> None:
        """The finding, once however many samples fail at the same place."""
        found = error_finding(exc, self.files, rendering=name, sample=sample.label)
        said = str(replace(found, sample=None))
        if said not in failures:
            failures.append(said)

    def _longest_sms(self, template: str, language: str, samples: list[Sample]) -> Sample | None:
        """The sample whose SMS is longest: the one that may run into another segment."""
        best: tuple[int, int, Sample] | None = None
        for sample in samples:
            try:
                body, _, _ = self._render(Channel.SMS, template, language, sample)
            except Exception:  # noqa: S112 - the shown samples report the failure
                continue
            encoding = sms_encoding(body)
            key = (encoding.segments, encoding.length)
            if best is None or key > best[:2]:
                best = (*key, sample)
        return None if best is None else best[2]

    def _sms(
        self, template: str, language: str, shown: list[tuple[str, Sample]], failures: list[str]
    ) -> tuple[SmsView, ...]:
        max_segments = self.settings.templates.sms_max_segments
        price = self.settings.templates.sms_price
        views: list[SmsView] = []
        for role, sample in shown:
            try:
                body, _, _ = self._render(Channel.SMS, template, language, sample)
            except Exception as exc:  # any rendering failure is shown, not a crash
                self._failed(exc, f"sms/{language}/{template}.txt", sample, failures)
                continue
            if any(v.text == body for v in views):
                continue  # the same words twice teach nothing
            encoding = sms_encoding(body)
            forcing = tuple(char_name(c) for c in non_gsm7(body))
            cost = sms_cost(encoding.segments, price)
            views.append(SmsView(role, sample.label, body, encoding, forcing, max_segments, cost))
        return tuple(views)

    def _emails(
        self, template: str, language: str, shown: list[tuple[str, Sample]], failures: list[str]
    ) -> tuple[EmailView, ...]:
        views: list[EmailView] = []
        for role, sample in shown:
            try:
                body, subject, html = self._render(Channel.EMAIL, template, language, sample)
            except Exception as exc:  # any rendering failure is shown, not a crash
                self._failed(exc, f"email/{language}/{template}.txt", sample, failures)
                continue
            first = not views
            views.append(
                EmailView(role, sample.label, subject or "", body, html if first else None)
            )
        return tuple(views)


def ranked(findings: Iterable[Finding]) -> list[Finding]:
    """Errors, then warnings, by file and line; the check's verbose-only notes left out."""
    order = {Severity.ERROR: 0, Severity.WARNING: 1}
    shown = [f for f in findings if f.severity in order]
    return sorted(shown, key=lambda f: (order[f.severity], f.path, f.line or 0))
