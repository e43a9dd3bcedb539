"""Karrio trackers (a `tracker.updated` webhook, or a bare TrackingStatus) as native events.

Karrio lists a tracker's events newest first; the newest is the event, with the tracker's
status (which describes it) unless the event carries its own. The history before it came
in earlier webhooks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from notifier.carriers.mapped import (
    as_list,
    as_object,
    build_event,
    code,
    day,
    first_mapped,
    raw_code,
    rejected,
    stable_id,
    status_fields,
)
from notifier.vocabulary import Event, Reason, Status

SOURCE = "karrio"

# TrackerStatus (karrio.core.units); the event's own status, where sent, comes first.
STATUS_MAP: dict[str, Status] = {
    "pending": Status.CREATED,
    "picked_up": Status.IN_TRANSIT,
    "in_transit": Status.IN_TRANSIT,
    "out_for_delivery": Status.OUT_FOR_DELIVERY,
    "delivery_failed": Status.DELIVERY_ATTEMPTED,
    "ready_for_pickup": Status.AVAILABLE_FOR_PICKUP,
    "delivered": Status.DELIVERED,
    "on_hold": Status.EXCEPTION,
    "delivery_delayed": Status.EXCEPTION,
    "return_to_sender": Status.RETURNING,
    "cancelled": Status.CANCELLED,
    "unknown": Status.UNKNOWN,
}

# The event's `reason` (Karrio's incident reasons), then what a status itself says.
REASON_MAP: dict[str, Reason] = {
    "consignee_not_available": Reason.RECIPIENT_ABSENT,
    "consignee_not_home": Reason.RECIPIENT_ABSENT,
    "consignee_business_closed": Reason.BUSINESS_CLOSED,
    "consignee_refused": Reason.REFUSED,
    "consignee_incorrect_address": Reason.ADDRESS_INCORRECT,
    "consignee_access_restricted": Reason.ADDRESS_INACCESSIBLE,
    "carrier_damaged_parcel": Reason.DAMAGED,
    "customs_delay": Reason.CUSTOMS,
    "customs_documentation": Reason.CUSTOMS,
    "weather_delay": Reason.WEATHER,
    "delivery_delayed": Reason.DELAYED,
}

_CLOCK = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")


def parse_karrio(
    payload: Mapping[str, Any],
    *,
    raw: str,
    default_region: str,
    now: datetime,
    local_zone: ZoneInfo | None = None,
) -> list[Event]:
    """The tracker's newest event as an event; a rejection names the Karrio field.

    `local_zone` is where the carriers' clocks are (carriers.parser_for gives the company's):
    without it, a `date` and `time` with no offset are refused rather than guessed.
    """
    tracker, at = _tracker(payload)
    events = as_list(tracker.get("events"), f"{at}events")
    if not events:
        raise rejected(f"{at}events", "is empty: Karrio has no event to report yet")
    place = f"{at}events[0]"
    newest = as_object(events[0], place)
    when_field, when = _moment(newest, place, local_zone)
    status = code(newest.get("status")) or code(tracker.get("status"))
    reason = code(newest.get("reason"))
    carrier_code = code(newest.get("code"))
    number = tracker.get("tracking_number")
    carrier = code(tracker.get("carrier_name"))
    info = tracker.get("info")
    name = info.get("customer_name") if isinstance(info, Mapping) else None
    native: dict[str, Any] = {
        "source": SOURCE,
        "event_id": stable_id(carrier, str(number), str(when), raw_code(status, carrier_code)),
        "carrier": carrier,
        "tracking_number": number,
        "occurred_at": when,
        "estimated_delivery": day(tracker.get("estimated_delivery")),
        "recipient": {"name": name},
        **status_fields(
            first_mapped(STATUS_MAP, (status,)), first_mapped(REASON_MAP, (reason, status))
        ),
    }
    where = {
        "tracking_number": f"{at}tracking_number",
        "carrier": f"{at}carrier_name",
        "occurred_at": when_field,
        "estimated_delivery": f"{at}estimated_delivery",
        "status": f"{at}status",
        "recipient.name": f"{at}info.customer_name",
    }
    return [
        build_event(
            native,
            where=where,
            raw_status=raw_code(status, carrier_code),
            raw_reason=reason,
            raw=raw,
            default_region=default_region,
            now=now,
        )
    ]


def _tracker(payload: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    """The TrackingStatus and the path before its fields: the webhook's `data`, or itself."""
    payload = as_object(payload, "-")
    if "data" in payload and "tracking_number" not in payload:
        return as_object(payload["data"], "data"), "data."
    return payload, ""


def _moment(event: Mapping[str, Any], place: str, zone: ZoneInfo | None) -> tuple[str, Any]:
    """An event's `timestamp` where Karrio sends one; else its `date` and `time`, which
    are the carrier's local clock with no zone: read in `zone` (a courier's own carriers
    work on its clock), or, with none, left for the native check to refuse by name."""
    stamp = event.get("timestamp")
    if stamp:
        return f"{place}.timestamp", stamp
    date, clock = event.get("date"), event.get("time")
    if isinstance(date, str) and isinstance(clock, str) and _CLOCK.match(clock.strip()):
        local = f"{date.strip()}T{clock.strip()}"
        return f"{place}.date", _in_zone(local, zone) if zone is not None else local
    return f"{place}.date", date


def _in_zone(local: str, zone: ZoneInfo) -> str:
    """`local` (no offset) as a time in `zone`, with its offset; unparseable stays as it was,
    for the native check to refuse. In the hour the clocks go back, the first of the two."""
    try:
        moment = datetime.fromisoformat(local)
    except ValueError:
        return local
    if moment.tzinfo is not None:
        return local
    return moment.replace(tzinfo=zone, fold=0).isoformat()
