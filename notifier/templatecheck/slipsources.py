"""Slip templates read without rendering: every kind's wording, and the document's names."""

from __future__ import annotations

from collections.abc import Sequence

from jinja2 import Environment

from notifier.config import Settings
from notifier.slips.context import slip_context
from notifier.slips.model import SlipKind
from notifier.slips.pdf import WORDING
from notifier.templatecheck.findings import Finding, Report, Severity
from notifier.templatecheck.located import error_finding
from notifier.templatecheck.messages import languages
from notifier.templatecheck.names import Shape, check_names, merge, shape_of
from notifier.templatecheck.slipsamples import SlipBatch
from notifier.templatecheck.sources import TemplateFiles

SLIP_DOCUMENT = "slips/slip.html"
_WHAT: dict[SlipKind, str] = {
    "missed": "missed-delivery slip",
    "route": "route pack's slip",
    "final": "final notice",
}
# The slip variable only a route slip sets (templates/README.md): anywhere else it is None.
_ROUTE_ONLY = "round_day"


def wording_name(lang: str, kind: SlipKind = "missed") -> str:
    return f"slips/{lang}/{WORDING[kind]}"


def context_shapes(settings: Settings, batches: list[SlipBatch]) -> dict[SlipKind, Shape]:
    """What `c` offers on each kind of slip: the contexts the printing code builds, merged."""
    shapes: dict[SlipKind, Shape] = {}
    for batch in batches:
        for _, slip in batch.slips:
            context = slip_context(slip, settings=settings, locale=batch.lang, now=batch.now)
            shapes[batch.kind] = merge(shapes.get(batch.kind), shape_of(context))
    for kind, shape in shapes.items():
        if kind != "route" and shape is not None:
            shape.pop(_ROUTE_ONLY, None)
    return shapes


def check_slip_sources(
    *,
    settings: Settings,
    env: Environment,
    files: TemplateFiles,
    report: Report,
    batches: list[SlipBatch],
) -> bool:
    """Undefined names in every wording file and in the document; False when a wording file
    is missing (then nothing renders)."""
    shapes = context_shapes(settings, batches)
    texts: list[tuple[str | None, Shape]] = []
    complete = True
    for lang in languages(settings):
        for kind in WORDING:
            name = wording_name(lang, kind)
            report.files.add(name)
            source = files.source(name)
            if source is None:
                message = f"missing: the {_WHAT[kind]}'s wording"
                report.add(Finding(name, None, None, Severity.ERROR, message))
                complete = False
                continue
            own = {"c": [(None, shapes.get(kind))]}
            report.extend(check_names(env, name, source=source, known={}, aliases=own))
            if kind != "missed":
                continue
            try:
                texts.append((name, shape_of(env.get_template(name).module)))
            except Exception as exc:  # reported like any rendering failure
                report.add(error_finding(exc, files, rendering=name, sample="import"))
    everything: Shape = None
    for shape in shapes.values():
        everything = merge(everything, shape)
    aliases: dict[str, Sequence[tuple[str | None, Shape]]] = {
        "c": [(None, everything)],
        "t": texts,
    }
    for name in files.closure(env, SLIP_DOCUMENT):
        report.files.add(name)
        source = files.source(name) or ""
        report.extend(
            check_names(env, name, source=source, known={}, aliases=aliases, unknown_names=False)
        )
    return complete
