"""The slips GET /ops/templates links to: each kind in each language with the check's sample
parcels, rendered on demand as a one-slip PDF (and a missed delivery's label as ZPL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import get_args
from urllib.parse import urlencode

from jinja2 import Environment

from notifier.config import Settings
from notifier.slips.model import Slip, SlipKind
from notifier.slips.pdf import render_slips_pdf
from notifier.slips.zpl import render_slip_zpl
from notifier.templatecheck.findings import Finding
from notifier.templatecheck.gallery import LANGUAGE_NAMES
from notifier.templatecheck.messages import languages
from notifier.templatecheck.samples import moments
from notifier.templatecheck.slipcheck import wordiest_reason
from notifier.templatecheck.slipsamples import final_batch, route_batch, slip_samples
from notifier.templatecheck.slipsources import SLIP_DOCUMENT, wording_name
from notifier.templatecheck.sources import TemplateFiles
from notifier.vocabulary import Reason

SLIP_KINDS: tuple[SlipKind, ...] = get_args(SlipKind)
KIND_TITLES: dict[SlipKind, str] = {
    "missed": "Missed-delivery slip",
    "route": "Route pack's slip",
    "final": "Final notice",
}
PDF_PATH = "/ops/templates/slip.pdf"
ZPL_PATH = "/ops/templates/slip.zpl"
SLIP_STYLES = "slips/slip.css"  # read by slips/pdf.py, not through the document


@dataclass(frozen=True, slots=True)
class SlipSamples:
    """One kind's sample slips in one language, all printed at `now`."""

    kind: SlipKind
    language: str
    now: datetime
    slips: list[tuple[str, Slip]]


def samples_of(settings: Settings, kind: SlipKind, language: str) -> SlipSamples:
    """A missed slip for an absent recipient in each next step, and one with the language's
    wordiest reason; a route pack's and a final notice's samples as the check has them."""
    if kind == "route":
        batch = route_batch(settings, language)
        return SlipSamples(kind, language, batch.now, batch.slips)
    if kind == "final":
        batch = final_batch(settings, language)
        return SlipSamples(kind, language, batch.now, batch.slips)
    absent = slip_samples(settings, lang=language, reason=Reason.RECIPIENT_ABSENT)
    wordiest = slip_samples(settings, lang=language, reason=wordiest_reason(language))[:1]
    return SlipSamples(kind, language, moments(settings)[1][2], [*absent, *wordiest])


class NoSuchSlipError(LookupError):
    """No sample slip by that kind, language and number: the field and why."""


def chosen_slip(
    settings: Settings, *, kind: str, language: str, sample: str
) -> tuple[Slip, datetime]:
    if kind not in SLIP_KINDS:
        raise NoSuchSlipError(f"kind: must be one of {', '.join(SLIP_KINDS)}, not {kind!r}")
    shipped = languages(settings)
    if language not in shipped:
        raise NoSuchSlipError(f"locale: must be one of {', '.join(shipped)}, not {language!r}")
    found = samples_of(settings, kind, language)
    if not sample.isdecimal() or not 0 <= int(sample) < len(found.slips):
        raise NoSuchSlipError(f"sample: must be a number from 0 to {len(found.slips) - 1}")
    return found.slips[int(sample)][1], found.now


def sample_pdf(settings: Settings, slip: Slip, now: datetime) -> bytes:
    return render_slips_pdf([slip], settings=settings, layout="a6", now=now)


def sample_zpl(settings: Settings, slip: Slip, now: datetime) -> str:
    """The label on [slips.label_printer]'s media, as the handheld prints it."""
    printer = settings.slips.label_printer
    return render_slip_zpl(
        slip, settings=settings, width_mm=printer.width_mm, dpi=printer.dpi, now=now
    )


@dataclass(frozen=True, slots=True)
class SlipLink:
    label: str
    pdf: str
    zpl: str | None  # a missed delivery's label only: route packs and notices are paper


@dataclass(frozen=True, slots=True)
class SlipKindView:
    kind: SlipKind
    language: str
    links: tuple[SlipLink, ...]
    wording: tuple[str, Path | None]  # the kind's wording file, and its override if one

    @property
    def title(self) -> str:
        return KIND_TITLES[self.kind]

    @property
    def language_name(self) -> str:
        return LANGUAGE_NAMES.get(self.language, self.language)


@dataclass(frozen=True, slots=True)
class SlipsView:
    kinds: tuple[SlipKindView, ...]
    document: tuple[tuple[str, Path | None], ...]  # slip.html, slip.css and what they read
    findings: tuple[Finding, ...]

    @property
    def overridden(self) -> bool:
        files = [*self.document, *(k.wording for k in self.kinds)]
        return any(override is not None for _, override in files)


def slip_views(
    settings: Settings,
    env: Environment,
    files: TemplateFiles,
    findings: list[Finding],
    overridden: dict[str, Path | None],
) -> SlipsView:
    """Links to every sample slip, where the slip's files come from, and their findings.

    `overridden` maps a template name to the override file that replaces it (None: ours).
    """
    kinds = []
    for language in languages(settings):
        for kind in SLIP_KINDS:
            found = samples_of(settings, kind, language)
            links = []
            for index, (label, _) in enumerate(found.slips):
                query = urlencode({"kind": kind, "locale": language, "sample": index})
                zpl = f"{ZPL_PATH}?{query}" if kind == "missed" else None
                links.append(SlipLink(label, f"{PDF_PATH}?{query}", zpl))
            wording = wording_name(language, kind)
            kinds.append(SlipKindView(kind, language, tuple(links), _from(overridden, wording)))
    wordings = {k.wording[0] for k in kinds}
    document = [*files.closure(env, SLIP_DOCUMENT), SLIP_STYLES]
    ours = tuple(_from(overridden, n) for n in dict.fromkeys(document) if n not in wordings)
    slip_findings = tuple(f for f in findings if f.path.startswith("slips/"))
    return SlipsView(tuple(kinds), ours, slip_findings)


def _from(overridden: dict[str, Path | None], name: str) -> tuple[str, Path | None]:
    return name, overridden.get(name)
