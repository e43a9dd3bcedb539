"""Shippo tracks (the `track_updated` webhook's `data`, or a bare Track) as native events.

`tracking_status` is Shippo's newest status and is the event; `tracking_history` repeats
what earlier webhooks brought.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from notifier.carriers.mapped import (
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

SOURCE = "shippo"

# tracking_status.status (https://docs.goshippo.com/docs/tracking/tracking/).
STATUS_MAP: dict[str, Status] = {
    "PRE_TRANSIT": Status.CREATED,
    "TRANSIT": Status.IN_TRANSIT,
    "DELIVERED": Status.DELIVERED,
    "RETURNED": Status.RETURNING,
    "FAILURE": Status.EXCEPTION,
    "UNKNOWN": Status.UNKNOWN,
}

# substatus.code, looked up before the status, lists only the codes that name another
# state than their status ("out_for_delivery" is a TRANSIT). A generic one
# ("information_received", "package_accepted", "other") leaves the status to speak: Shippo's
# own examples pair DELIVERED with information_received.
SUBSTATUS_MAP: dict[str, Status] = {
    "out_for_delivery": Status.OUT_FOR_DELIVERY,
    "delivery_attempted": Status.DELIVERY_ATTEMPTED,
    "notice_left": Status.DELIVERY_ATTEMPTED,
    "location_inaccessible": Status.DELIVERY_ATTEMPTED,
    "pickup_available": Status.AVAILABLE_FOR_PICKUP,
    "return_to_sender": Status.RETURNING,
    "delayed": Status.EXCEPTION,
    "address_issue": Status.EXCEPTION,
    "package_damaged": Status.EXCEPTION,
    "package_lost": Status.EXCEPTION,
    "package_held": Status.EXCEPTION,
    "package_undeliverable": Status.EXCEPTION,
    "package_disposed": Status.EXCEPTION,
}

REASON_MAP: dict[str, Reason] = {
    "location_inaccessible": Reason.ADDRESS_INACCESSIBLE,
    "address_issue": Reason.ADDRESS_INCORRECT,
    "delayed": Reason.DELAYED,
    "package_damaged": Reason.DAMAGED,
    "package_lost": Reason.OTHER,
}


def parse_shippo(
    payload: Mapping[str, Any], *, raw: str, default_region: str, now: datetime
) -> list[Event]:
    """The track's current status as an event; a rejection names the Shippo field."""
    track, at = _track(payload)
    place = f"{at}tracking_status"
    current = as_object(track.get("tracking_status"), place)
    status = code(current.get("status"))
    substatus = current.get("substatus")
    sub = code(substatus.get("code")) if isinstance(substatus, Mapping) else None
    number = track.get("tracking_number")
    carrier = code(track.get("carrier"))
    when = _utc(current.get("status_date"))
    native: dict[str, Any] = {
        "source": SOURCE,
        "event_id": stable_id(carrier, str(number), str(when), raw_code(status, sub)),
        "carrier": carrier,
        "tracking_number": number,
        "occurred_at": when,
        "estimated_delivery": day(track.get("eta")),
        **status_fields(
            first_mapped(SUBSTATUS_MAP, (sub,)) or first_mapped(STATUS_MAP, (status,)),
            first_mapped(REASON_MAP, (sub,)),
        ),
    }
    where = {
        "tracking_number": f"{at}tracking_number",
        "carrier": f"{at}carrier",
        "occurred_at": f"{place}.status_date",
        "estimated_delivery": f"{at}eta",
        "status": f"{place}.status",
    }
    return [
        build_event(
            native,
            where=where,
            raw_status=raw_code(status, sub),
            raw_reason=sub if sub in REASON_MAP else None,
            raw=raw,
            default_region=default_region,
            now=now,
        )
    ]


def _track(payload: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    """The Track and the path before its fields: the webhook's `data`, or the Track."""
    payload = as_object(payload, "-")
    if "data" in payload and "tracking_status" not in payload:
        return as_object(payload["data"], "data"), "data."
    return payload, ""


def _utc(value: Any) -> Any:
    """Shippo documents status_date as UTC: a time it sends without an offset is UTC."""
    if isinstance(value, str) and "T" in value:
        try:
            if datetime.fromisoformat(value).tzinfo is None:
                return f"{value}+00:00"
        except ValueError:
            pass  # refused, with the value, by the native check
    return value
