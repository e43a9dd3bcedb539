"""One template rendered with one sample, as `notifier templates preview` shows it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from notifier.config import Settings
from notifier.errors import NotifierError
from notifier.locales import language_for
from notifier.rendering.environment import RenderedText, build_environment, render_message
from notifier.rendering.smstext import sms_encoding
from notifier.slips.model import Slip
from notifier.templatecheck.gsm import non_gsm7
from notifier.templatecheck.messages import message_context, samples_for
from notifier.templatecheck.samples import Sample, moments
from notifier.templatecheck.served import served_templates
from notifier.vocabulary import Channel, Reason, Status

SLIP = "slip"
# The sample a preview shows unless told: the situation each status usually meets.
_USUAL = {Status.AVAILABLE_FOR_PICKUP: "held at"}


class PreviewError(NotifierError, ValueError):
    """Nothing to preview by that name, channel, reason or variant."""


@dataclass(frozen=True, slots=True)
class MessagePreview:
    text: RenderedText
    sample: str
    language: str


def pick(samples: list[Sample], *, reason: Reason | None, variant: str | None) -> Sample:
    """The first sample with this reason whose description contains `variant`."""
    chosen = [s for s in samples if reason is None or s.facts.reason == reason]
    if variant:
        chosen = [s for s in chosen if variant.lower() in s.label.lower()]
    elif chosen and (usual := _USUAL.get(chosen[0].facts.status)):
        chosen = [s for s in chosen if usual in s.label] or chosen
    if not chosen:
        shown = "\n  ".join(dict.fromkeys(s.label.split(", ", 1)[-1] for s in samples))
        raise PreviewError(f"no sample matches; the samples are:\n  {shown}")
    return chosen[0]


def preview_message(
    settings: Settings,
    *,
    name: str,
    locale: str,
    channel: Channel,
    reason: Reason | None = None,
    variant: str | None = None,
) -> MessagePreview:
    served = served_templates(settings).get(name)
    if served is None:
        known = ", ".join(sorted(served_templates(settings)))
        raise PreviewError(f"{name!r} is no message template's name: one of {known}, or {SLIP}")
    if channel not in served.channels:
        raise PreviewError(f"{name} is not sent by {channel}: only by {', '.join(served.channels)}")
    language = language_for(locale, settings.company.default_locale)
    sample = pick(samples_for(settings, served), reason=reason, variant=variant)
    context = message_context(settings, sample, language=language)
    env = build_environment(settings)
    text = render_message(env, channel=channel, template=name, locale=language, context=context)
    return MessagePreview(text, sample.label, language)


def preview_slip(
    settings: Settings, *, locale: str, reason: Reason | None = None, variant: str | None = None
) -> tuple[bytes, str]:
    """A one-slip PDF and the sample it shows."""
    from notifier.slips.pdf import render_slips_pdf
    from notifier.templatecheck.slipsamples import slip_samples

    language = language_for(locale, settings.company.default_locale)
    found = slip_samples(settings, lang=language, reason=reason or Reason.RECIPIENT_ABSENT)
    samples = [Sample(label, slip.facts, _now(settings)) for label, slip in found]
    chosen = pick(samples, reason=None, variant=variant)
    slip = Slip(chosen.facts, language, settings.slips.second_locale)
    pdf = render_slips_pdf([slip], settings=settings, layout="a6", now=chosen.now)
    return pdf, chosen.label


def _now(settings: Settings) -> datetime:
    return moments(settings)[1][2]


def sms_summary(body: str) -> str:
    """'GSM-7, 2 segments (250 septets)', with what forces UCS-2 when it is that."""
    encoding = sms_encoding(body)
    units = "septets" if encoding.encoding == "GSM-7" else "UTF-16 units"
    said = f"{encoding.encoding}, {encoding.segments} segment{'s' * (encoding.segments != 1)}"
    said += f" ({encoding.length} {units})"
    forcing = non_gsm7(body)
    if forcing:
        said += "; UCS-2 because of " + ", ".join(f"'{c}' U+{ord(c):04X}" for c in forcing)
    return said
