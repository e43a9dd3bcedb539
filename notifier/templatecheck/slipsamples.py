"""Sample slips of every kind: missed deliveries, route packs' slips and final notices.

Route slips and final notices are made by the code that prints them (route_pack.route_slip,
final_notice.final_notice) from a sample shipment and link, so their facts are the ones
paper gets: no reason on a route slip, no attempt planned for the round itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from notifier.config import Settings
from notifier.rebooking.links import Link
from notifier.slips.final_notice import final_notice
from notifier.slips.model import Slip, SlipKind
from notifier.slips.route_pack import route_slip
from notifier.slips.selection import Printed
from notifier.templatecheck.samples import (
    ATTEMPT_DAY,
    HELD_UNTIL,
    NEXT_ATTEMPT,
    RECIPIENTS,
    SHORT_CODE,
    TOKEN,
    base_facts,
    local_time,
    moments,
    sample_shipment,
    situations,
)
from notifier.urls import rebooking_link
from notifier.vocabulary import Reason, Status

# A pickup point the configuration does not know (closed since the event named it).
UNKNOWN_POINT = "GONE"


@dataclass(frozen=True, slots=True)
class SlipBatch:
    """One language's slips of one kind, all printed at `now`; `groups` split them into
    smaller documents that name the samples when the whole batch does not render."""

    kind: SlipKind
    lang: str
    label: str  # the whole batch's, as a finding's sample
    now: datetime
    groups: list[tuple[str, list[tuple[str, Slip]]]]

    @property
    def slips(self) -> list[tuple[str, Slip]]:
        return [sample for _, group in self.groups for sample in group]


def _label(settings: Settings, lang: str, which: str, what: str) -> str:
    """'it, route, out for delivery'; 'it+en, -, held at PP-MI-12' (`which`: kind or reason)."""
    second = settings.slips.second_locale
    return f"{lang}{'+' + second if second else ''}, {which}, {what}"


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
        label = _label(settings, lang, str(reason or "-"), what)
        found.append((label, Slip(facts, lang, second)))
    return found


def missed_batch(settings: Settings, lang: str) -> SlipBatch:
    """Every reason, each with every next step, as the missed-delivery check renders them."""
    groups = [
        (f"{lang}, {r or '-'}, every next step", slip_samples(settings, lang=lang, reason=r))
        for r in (None, *Reason)
    ]
    return SlipBatch("missed", lang, f"{lang}, every reason", moments(settings)[1][2], groups)


def _link(settings: Settings, now: datetime) -> Link:
    return Link(
        1, 1, 1, TOKEN, SHORT_CODE, rebooking_link(settings, TOKEN), now + timedelta(days=7)
    )


def _on_paper(slip: Slip, *, lang: str, index: int, changes: dict[str, Any]) -> Slip:
    """A printed slip in `lang`, with the changes a variant makes after printing (a link
    without a code, no link at all), and the other long name every other sample."""
    facts = replace(slip.facts, **changes)
    if facts.recipient_name and index % 2:
        facts = replace(facts, recipient_name=RECIPIENTS[1])
    return replace(slip, facts=facts, locale=lang)


def _less_on_paper() -> list[tuple[str, dict[str, Any]]]:
    """What a printed slip may lack: its code, or every fact but the parcel's own."""
    unknown = {
        "recipient_name": None,
        "sender_name": None,
        "rebooking_url": None,
        "short_code": None,
    }
    return [("a link without a code", {"short_code": None}), ("nothing known", unknown)]


def route_batch(settings: Settings, lang: str) -> SlipBatch:
    """The attempt day's route pack, printed that morning: out for delivery or planned,
    a later attempt known with and without its window or none, and with less on paper."""
    day = ATTEMPT_DAY
    now = local_time(settings, day, 6, 30)
    later = {"next_attempt_date": NEXT_ATTEMPT, "next_attempt_window": "14:00-18:00"}
    variants: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("out for delivery", {}, {}),
        ("planned for the round", {"status": Status.IN_TRANSIT, "next_attempt_date": day}, {}),
        ("a later attempt known", later, {}),
        ("a later attempt without a window", {"next_attempt_date": NEXT_ATTEMPT}, {}),
        *((what, {}, after) for what, after in _less_on_paper()),
    ]
    base = replace(
        base_facts(settings, status=Status.OUT_FOR_DELIVERY, reason=None),
        occurred_at=local_time(settings, day, 6, 5),
    )
    groups = []
    for index, (what, before, after) in enumerate(variants):
        printed = Printed(sample_shipment(replace(base, **before)), 1)
        slip = route_slip(printed, _link(settings, now), day=day, settings=settings)
        label = _label(settings, lang, "route", what)
        groups.append((label, [(label, _on_paper(slip, lang=lang, index=index, changes=after))]))
    return SlipBatch("route", lang, f"{lang}, route, every situation", now, groups)


def final_batch(settings: Settings, lang: str) -> SlipBatch:
    """Final notices, printed `final_notice_days` before the last day: held at each pickup
    point, at each depot after a missed delivery, at a point nobody knows, and with less."""
    now = local_time(settings, HELD_UNTIL - timedelta(days=settings.slips.final_notice_days), 7, 0)
    held = {"status": Status.AVAILABLE_FOR_PICKUP, "reason": None, "held_until": HELD_UNTIL}
    variants: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        *(
            (f"held at {p.code}", {**held, "pickup_point": p.code}, {})
            for p in settings.pickup_points
        ),
        *(
            (
                f"held at depot {d.code}",
                {"status": Status.DELIVERY_ATTEMPTED, "depot": d.code, "held_until": HELD_UNTIL},
                {},
            )
            for d in settings.depots
        ),
        ("held at a pickup point not configured", {**held, "pickup_point": UNKNOWN_POINT}, {}),
    ]
    first = settings.pickup_points[0].code if settings.pickup_points else UNKNOWN_POINT
    variants += [
        (f"held at {first}, {what}", {**held, "pickup_point": first}, after)
        for what, after in _less_on_paper()
    ]
    base = base_facts(settings, status=Status.DELIVERY_ATTEMPTED, reason=Reason.RECIPIENT_ABSENT)
    groups = []
    for index, (what, before, after) in enumerate(variants):
        printed = Printed(sample_shipment(replace(base, **before)), 1)
        slip = final_notice(printed, _link(settings, now), settings=settings)
        label = _label(settings, lang, "final", what)
        groups.append((label, [(label, _on_paper(slip, lang=lang, index=index, changes=after))]))
    return SlipBatch("final", lang, f"{lang}, final, every place", now, groups)
