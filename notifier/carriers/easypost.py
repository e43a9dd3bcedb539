"""EasyPost trackers (the `tracker.updated` Event, or a bare Tracker) as native events.

The newest tracking detail (EasyPost lists them oldest first, and the tracker's own
status is the last one's) is the event; the history before it came in earlier webhooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from notifier.carriers.mapped import (
    as_list,
    as_object,
    build_event,
    code,
    day,
    first_mapped,
    raw_code,
    stable_id,
    status_fields,
)
from notifier.vocabulary import Event, Reason, Status

SOURCE = "easypost"

# Tracker and TrackingDetail `status` (https://docs.easypost.com/docs/trackers).
STATUS_MAP: dict[str, Status] = {
    "pre_transit": Status.CREATED,
    "in_transit": Status.IN_TRANSIT,
    "out_for_delivery": Status.OUT_FOR_DELIVERY,
    "available_for_pickup": Status.AVAILABLE_FOR_PICKUP,
    "delivered": Status.DELIVERED,
    "return_to_sender": Status.RETURNING,
    "failure": Status.EXCEPTION,
    "cancelled": Status.CANCELLED,
    "error": Status.UNKNOWN,
    "unknown": Status.UNKNOWN,
}

# `status_detail`, looked up before the status, lists only the details that say more than
# their status: a delay reported while "in_transit" is our EXCEPTION. Its own "unknown"
# ("On the way" scans carry it) is absent on purpose: the status says more there.
# EasyPost's documented details name no delivery attempt, so a `failure` stays EXCEPTION.
DETAIL_STATUS_MAP: dict[str, Status] = {
    "arrived_at_pickup_location": Status.AVAILABLE_FOR_PICKUP,
    "out_for_delivery": Status.OUT_FOR_DELIVERY,
    "return": Status.RETURNING,
    "cancelled": Status.CANCELLED,
    "refused": Status.EXCEPTION,
    "address_correction": Status.EXCEPTION,
    "delayed": Status.EXCEPTION,
    "weather_delay": Status.EXCEPTION,
    "damaged": Status.EXCEPTION,
    "lost": Status.EXCEPTION,
    "held": Status.EXCEPTION,
    "missorted": Status.EXCEPTION,
    "transit_exception": Status.EXCEPTION,
    "delivery_exception": Status.EXCEPTION,
}

REASON_MAP: dict[str, Reason] = {
    "refused": Reason.REFUSED,
    "address_correction": Reason.ADDRESS_INCORRECT,
    "delayed": Reason.DELAYED,
    "weather_delay": Reason.WEATHER,
    "damaged": Reason.DAMAGED,
    "lost": Reason.OTHER,
    "missorted": Reason.DELAYED,
}


def parse_easypost(
    payload: Mapping[str, Any], *, raw: str, default_region: str, now: datetime
) -> list[Event]:
    """The tracker's newest detail as an event; a rejection names the EasyPost field."""
    tracker, at = _tracker(payload)
    details = as_list(tracker.get("tracking_details"), f"{at}tracking_details")
    if details:
        place = f"{at}tracking_details[{len(details) - 1}]"
        detail = as_object(details[-1], place)
        when_field, when = f"{place}.datetime", detail.get("datetime")
    else:  # a tracker the carrier has said nothing about yet: its own status, as of now
        place, detail = at.rstrip("."), tracker
        when_field, when = f"{at}updated_at", tracker.get("updated_at")
    status, status_detail = code(detail.get("status")), code(detail.get("status_detail"))
    number = tracker.get("tracking_code")
    carrier = code(tracker.get("carrier"))
    mapped = first_mapped(DETAIL_STATUS_MAP, (status_detail,)) or first_mapped(
        STATUS_MAP, (status,)
    )
    native: dict[str, Any] = {
        "source": SOURCE,
        "event_id": stable_id(carrier, str(number), str(when), raw_code(status, status_detail)),
        "carrier": carrier,
        "tracking_number": number,
        "occurred_at": when,
        "estimated_delivery": day(tracker.get("est_delivery_date")),
        **status_fields(mapped, first_mapped(REASON_MAP, (status_detail,))),
    }
    where = {
        "tracking_number": f"{at}tracking_code",
        "carrier": f"{at}carrier",
        "occurred_at": when_field,
        "estimated_delivery": f"{at}est_delivery_date",
        "status": f"{place}.status",
    }
    return [
        build_event(
            native,
            where=where,
            raw_status=raw_code(status, status_detail),
            raw_reason=status_detail if status_detail in REASON_MAP else None,
            raw=raw,
            default_region=default_region,
            now=now,
        )
    ]


def _tracker(payload: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    """The Tracker and the path before its fields: an Event's `result`, or the Tracker."""
    payload = as_object(payload, "-")
    if payload.get("object") == "Event" or "result" in payload:
        return as_object(payload.get("result"), "result"), "result."
    return payload, ""
