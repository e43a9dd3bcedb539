"""AfterShip trackings (the `tracking_update` webhook, the API's tracking) as native events.

The webhook's `msg` is the same Tracking object GET /trackings returns under
`data.tracking`; all three shapes are read. The newest checkpoint (AfterShip lists them
oldest first) is the event: the history before it came in earlier webhooks, and storing it
again at once could announce a state the same payload already shows as overtaken.
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

SOURCE = "aftership"

# Subtags first, then tags (https://www.aftership.com/docs/tracking/enum/delivery-sub-statuses).
# A subtag is listed only where it says more than its tag: the return subtags are ours
# RETURNING though AfterShip files them under Exception.
STATUS_MAP: dict[str, Status] = {
    "Exception_010": Status.RETURNING,  # Returning to sender
    "Exception_011": Status.RETURNING,  # Returned to sender
    "Pending": Status.UNKNOWN,  # no information from the carrier yet
    "InfoReceived": Status.CREATED,
    "InTransit": Status.IN_TRANSIT,
    "OutForDelivery": Status.OUT_FOR_DELIVERY,
    "AttemptFail": Status.DELIVERY_ATTEMPTED,
    "AvailableForPickup": Status.AVAILABLE_FOR_PICKUP,
    "Delivered": Status.DELIVERED,
    "Exception": Status.EXCEPTION,
    "Expired": Status.UNKNOWN,  # no news for 30 days: says nothing of where the parcel is
}

REASON_MAP: dict[str, Reason] = {
    "AttemptFail_001": Reason.RECIPIENT_ABSENT,  # Addressee not available
    "AttemptFail_002": Reason.BUSINESS_CLOSED,
    "AttemptFail_003": Reason.OTHER,
    "Exception_002": Reason.ADDRESS_INCORRECT,  # Customer moved
    "Exception_003": Reason.REFUSED,
    "Exception_004": Reason.CUSTOMS,
    "Exception_005": Reason.DELAYED,  # External factors
    "Exception_006": Reason.PAYMENT_REQUIRED,  # Held for payment
    "Exception_007": Reason.ADDRESS_INCORRECT,
    "Exception_012": Reason.DAMAGED,
    "Exception_016": Reason.DELAYED,  # Processing issue (from March 2026)
    "Exception_017": Reason.WEATHER,  # Extreme weather (from March 2026)
    "Exception_018": Reason.CUSTOMS,  # Incorrect or missing documents (from March 2026)
}


def parse_aftership(
    payload: Mapping[str, Any], *, raw: str, default_region: str, now: datetime
) -> list[Event]:
    """The tracking's newest checkpoint as an event; a rejection names the AfterShip field."""
    tracking, at = _tracking(payload)
    checkpoints = as_list(tracking.get("checkpoints"), f"{at}checkpoints")
    if checkpoints:
        place = f"{at}checkpoints[{len(checkpoints) - 1}]"
        point = as_object(checkpoints[-1], place)
        when_field, when = _checkpoint_time(point, place)
    else:  # nothing from the carrier yet (Pending): the tracking's own tag, as of its update
        place, point = at.rstrip("."), tracking
        when_field, when = f"{at}updated_at", tracking.get("updated_at")
    tag, subtag = code(point.get("tag")), code(point.get("subtag"))
    number = tracking.get("tracking_number")
    slug = code(tracking.get("slug"))
    recipient, recipient_where = _recipient(tracking, at)
    native: dict[str, Any] = {
        "source": SOURCE,
        "event_id": stable_id(slug, str(number), str(when), subtag or tag),
        "carrier": slug,
        "tracking_number": number,
        "occurred_at": when,
        "estimated_delivery": _estimated_delivery(tracking),
        "pickup_point": code(tracking.get("pickup_location")),
        "recipient": recipient,
        **status_fields(
            first_mapped(STATUS_MAP, (subtag, tag)), first_mapped(REASON_MAP, (subtag,))
        ),
    }
    where = {
        "tracking_number": f"{at}tracking_number",
        "carrier": f"{at}slug",
        "occurred_at": when_field,
        "estimated_delivery": f"{at}latest_estimated_delivery",
        "pickup_point": f"{at}pickup_location",
        "status": f"{place}.tag",
    }
    return [
        build_event(
            native,
            where=where | recipient_where,
            raw_status=raw_code(subtag or tag),
            raw_reason=subtag if subtag in REASON_MAP else None,
            raw=raw,
            default_region=default_region,
            now=now,
        )
    ]


def _tracking(payload: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    """The Tracking object and the path before its fields, in the three shapes we get."""
    payload = as_object(payload, "-")
    if "msg" in payload:  # the webhook envelope
        return as_object(payload["msg"], "msg"), "msg."
    data = payload.get("data")
    if isinstance(data, Mapping) and "tracking" in data:  # GET /trackings/:slug/:number
        return as_object(data["tracking"], "data.tracking"), "data.tracking."
    return payload, ""


def _checkpoint_time(point: Mapping[str, Any], place: str) -> tuple[str, Any]:
    """checkpoint_time is the carrier's local time, often without an offset; then the
    moment AfterShip recorded the checkpoint (created_at, always with one) stands in."""
    given = point.get("checkpoint_time")
    if isinstance(given, str) and _has_offset(given):
        return f"{place}.checkpoint_time", given
    recorded = point.get("created_at")
    if isinstance(recorded, str) and _has_offset(recorded):
        return f"{place}.created_at", recorded
    return f"{place}.checkpoint_time", given  # refused by the native check, named


def _has_offset(text: str) -> bool:
    try:
        return datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


def _estimated_delivery(tracking: Mapping[str, Any]) -> str | None:
    latest = tracking.get("latest_estimated_delivery")
    if isinstance(latest, Mapping):
        return day(latest.get("datetime") or latest.get("datetime_max"))
    return day(tracking.get("expected_delivery"))


def _recipient(tracking: Mapping[str, Any], at: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The recipient and where each field came from: AfterShip's `customers[]` (API
    2024-04 on), else the older customer_name, smses, emails and language."""
    customers = tracking.get("customers")
    if isinstance(customers, list) and customers and isinstance(customers[0], Mapping):
        names = {"name": "name", "phone": "phone_number", "email": "email", "locale": "language"}
        found, base = customers[0], f"{at}customers[0]."
        values = {ours: found.get(theirs) for ours, theirs in names.items()}
    else:
        names = {"name": "customer_name", "phone": "smses", "email": "emails", "locale": "language"}
        base = at
        values = {
            "name": tracking.get("customer_name"),
            "phone": _first(tracking.get("smses")),
            "email": _first(tracking.get("emails")),
            "locale": tracking.get("language"),
        }
    return values, {f"recipient.{ours}": base + theirs for ours, theirs in names.items()}


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else None
