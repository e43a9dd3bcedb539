"""Label-printer slips: ZPL per second, against the same wording rendered without layout."""

from __future__ import annotations

import time

from benchmarks.report import record
from benchmarks.slips import NOW, make_slips
from notifier import paths
from notifier.config import Settings, load_settings
from notifier.rendering.environment import build_environment
from notifier.slips.label_wording import label_wording
from notifier.slips.model import Slip
from notifier.slips.zpl import render_slip_zpl

# Ours' time over the ceiling's, at most: the layout (line breaking to the media, escaping,
# finding the QR code's version to size the printer's ^BQ) may cost three times what
# saying the words costs. Measured 2.3 to 3.8 on the two-core machine (runs alone).
TARGET_RATIO = 4.0
# Thousands a second (issue 14): a handheld asks for one label at a time, a depot's
# printing of a whole round must not be what anyone waits for.
TARGET_PER_SECOND = 1_000
MEDIA = ((104.0, 203), (72.0, 203), (48.0, 300))


def _ours(slips: list[Slip], settings: Settings, env: object, width_mm: float, dpi: int) -> float:
    started = time.perf_counter()
    for slip in slips:
        label = render_slip_zpl(
            slip,
            settings=settings,
            width_mm=width_mm,
            dpi=dpi,
            now=NOW,
            env=env,  # type: ignore[arg-type]
        )
        if not label.startswith("^XA"):
            raise RuntimeError("render_slip_zpl did not return a label")
    return time.perf_counter() - started


def _ceiling(slips: list[Slip], settings: Settings, env: object) -> float:
    started = time.perf_counter()
    for slip in slips:
        if not label_wording(slip, settings=settings, env=env, now=NOW):  # type: ignore[arg-type]
            raise RuntimeError("label_wording said nothing")
    return time.perf_counter() - started


def main(quick: bool) -> None:
    count = 200 if quick else 2_000
    settings = load_settings(paths.example_config(), env={})
    env = build_environment(settings)
    slips = make_slips(count, settings, seed=7)
    _ours(slips[:5], settings, env, 72.0, 203)  # templates compiled, caches warm
    for width_mm, dpi in MEDIA:
        # Measured beside each other, media by media: the machine's noise hits both.
        ceiling = _ceiling(slips, settings, env)
        ours = _ours(slips, settings, env, width_mm, dpi)
        ratio = ours / ceiling
        rate = count / ours
        verdict = "ok" if ratio <= TARGET_RATIO and rate >= TARGET_PER_SECOND else "MISSED"
        print(
            f"labels {count} ZPL {width_mm:g} mm {dpi} dpi: ours {rate:,.0f} labels/s, ceiling "
            f"{count / ceiling:,.0f}/s, ratio {ratio:.2f} (target <= {TARGET_RATIO:.2f}, "
            f">= {TARGET_PER_SECOND:,}/s) {verdict}"
        )
        record(
            "labels", f"{width_mm:g} mm {dpi} dpi", ours=rate, ceiling=count / ceiling,
            unit="labels/s", ratio=ratio, target=f"<= {TARGET_RATIO:.2f}",
            met=verdict == "ok",
        )  # fmt: skip
    print("  ours     render_slip_zpl: the wording, line breaking, escaping, ^BQ sizing")
    print("  ceiling  label_wording alone: the same words from the same templates")
