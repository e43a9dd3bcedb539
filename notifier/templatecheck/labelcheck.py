"""Label-printer slips: each missed-delivery sample as a ZPL label on each configured media.

The label reads the missed-delivery slip's macros (slips/<lang>/_text.html) on its own
(notifier.slips.label_wording), so an edit there can break it where the PDF still prints.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment

from notifier.config import Settings
from notifier.slips.zpl import render_slip_zpl
from notifier.templatecheck.findings import Report
from notifier.templatecheck.located import error_finding
from notifier.templatecheck.messages import languages
from notifier.templatecheck.slipsamples import missed_batch
from notifier.templatecheck.slipsources import wording_name
from notifier.templatecheck.sources import TemplateFiles


def label_media(settings: Settings) -> list[tuple[float, int]]:
    """(width in mm, dpi) of [slips.label_printer] and of each depot's own, once each."""
    printers = [settings.slips.label_printer]
    printers += [d.label_printer for d in settings.depots if d.label_printer is not None]
    return list(dict.fromkeys((p.width_mm, p.dpi) for p in printers))


@dataclass(slots=True)
class LabelCheck:
    settings: Settings
    env: Environment
    files: TemplateFiles
    report: Report

    def run(self) -> None:
        media = label_media(self.settings)
        for lang in languages(self.settings):
            name = wording_name(lang)
            if self.files.find(name) is None:
                continue  # the slip check reports it missing
            batch = missed_batch(self.settings, lang)
            for label, slip in batch.slips:
                for width_mm, dpi in media:
                    self.report.samples += 1
                    try:
                        render_slip_zpl(
                            slip,
                            settings=self.settings,
                            width_mm=width_mm,
                            dpi=dpi,
                            now=batch.now,
                            env=self.env,
                        )
                    except Exception as exc:  # any rendering failure is a finding, not a crash
                        sample = f"{label}, label {width_mm:g} mm at {dpi} dpi"
                        self.report.add(
                            error_finding(exc, self.files, rendering=name, sample=sample)
                        )
