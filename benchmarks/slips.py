"""Slip rendering: A6 PDFs with QR codes against the same document with empty QR boxes."""

from __future__ import annotations

import random
import string
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from benchmarks.report import record
from notifier import paths
from notifier.config import Settings, load_settings
from notifier.rendering.context import ParcelFacts
from notifier.slips.model import Slip, SlipKind
from notifier.slips.pdf import render_slips_pdf
from notifier.vocabulary import Reason, Status

TARGET_RATIO = 1.5  # ours' time over the ceiling's, at most
NOW = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
ROUND_DAY = date(2026, 11, 22)
FIRST_NAMES = ("Giovanni", "Maria", "Luca", "Francesca", "Niccolò", "Jürgen", "Zoë", "Chiara")
LAST_NAMES = ("Rossi", "Bianchi", "D'Angelo", "Sanità", "Müller", "Ångström", "De Luca")
REASONS = (Reason.RECIPIENT_ABSENT, Reason.RECIPIENT_ABSENT, Reason.BUSINESS_CLOSED,
           Reason.ADDRESS_INACCESSIBLE, Reason.SIGNATURE_REQUIRED)  # fmt: skip
# Short codes avoid 0/O and 1/I/L (design section 8).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_"


def make_slips(
    count: int, settings: Settings, *, seed: int, kind: SlipKind = "missed"
) -> list[Slip]:
    """Missed deliveries as a depot prints them: mostly a next attempt, some held for
    pickup; or, `kind="route"`, the same parcels in a route pack before the round."""
    rng = random.Random(seed)
    base = str(settings.company.rebooking_base_url).rstrip("/")
    depot = settings.depots[0].code if settings.depots else None
    slips = []
    for n in range(count):
        waits = n % 4 == 3
        facts = ParcelFacts(
            tracking_number=f"RP{n:09d}IT",
            carrier="rapido",
            status=Status.DELIVERY_ATTEMPTED,
            reason=rng.choice(REASONS),
            occurred_at=NOW - timedelta(minutes=rng.randrange(30, 300)),
            recipient_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            depot=depot,
            next_attempt_date=None if waits else date(2026, 11, 24),
            next_attempt_window=None if waits else "10:00-14:00",
            held_until=date(2026, 11, 29) if waits else None,
            rebooking_url=f"{base}/{''.join(rng.choices(TOKEN_ALPHABET, k=22))}",
            short_code="".join(rng.choices(CODE_ALPHABET, k=8)),
        )
        if kind == "route":
            facts = replace(facts, status=Status.OUT_FOR_DELIVERY, reason=None)
        round_day = ROUND_DAY if kind == "route" else None
        slips.append(Slip(facts=facts, locale="it", kind=kind, round_day=round_day))
    return slips


def _seconds(slips: list[Slip], settings: Settings, *, with_qr: bool) -> float:
    started = time.perf_counter()
    pdf = render_slips_pdf(slips, settings=settings, layout="a6", now=NOW, with_qr=with_qr)
    elapsed = time.perf_counter() - started
    if not pdf.startswith(b"%PDF-"):
        raise RuntimeError("render_slips_pdf did not return a PDF")
    return elapsed


def main(quick: bool) -> None:
    count = 20 if quick else 200
    settings = load_settings(paths.example_config(), env={})
    kinds: tuple[tuple[SlipKind, str], ...] = (
        ("missed", "A6 missed-delivery slips"),
        ("route", "A6 route pack"),
    )
    for kind, what in kinds:
        slips = make_slips(count, settings, seed=42, kind=kind)
        # One untimed round first: fonts, templates and WeasyPrint's own caches warm up.
        _seconds(slips[:2], settings, with_qr=True)
        ours = _seconds(slips, settings, with_qr=True)
        ceiling = _seconds(slips, settings, with_qr=False)
        ratio = ours / ceiling
        verdict = "ok" if ratio <= TARGET_RATIO else "MISSED"
        print(
            f"slips {count} {what}: ours {count / ours:,.1f} slips/s, ceiling "
            f"{count / ceiling:,.1f} slips/s, ratio {ratio:.2f} (target <= {TARGET_RATIO:.2f}) "
            f"{verdict}"
        )
        record(
            "slips", f"{count} {what}", ours=count / ours, ceiling=count / ceiling,
            unit="slips/s", ratio=ratio, target=f"<= {TARGET_RATIO:.2f}", met=verdict == "ok",
        )  # fmt: skip
        print(f"  ours     {ours:6.2f} s  render_slips_pdf, QR codes as inline SVG")
        print(f"  ceiling  {ceiling:6.2f} s  the same slips and document, empty QR boxes")
