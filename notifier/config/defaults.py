"""What notifier does when the configuration says nothing: rules (design section 6), slots."""

from __future__ import annotations

from typing import Any, Literal

from notifier.purposes import Purpose
from notifier.vocabulary import Reason, Status

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MON_TO_SAT: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat")

DEFAULT_RULES: dict[Status, dict[str, Any]] = {
    Status.CREATED: {"template": "created", "purpose": Purpose.PARCEL_RECEIVED},
    # Held briefly so that a DELIVERED arriving soon after replaces it.
    Status.OUT_FOR_DELIVERY: {
        "template": "out_for_delivery",
        "purpose": Purpose.ARRIVING_TODAY,
        "delay_minutes": 5,
    },
    Status.DELIVERY_ATTEMPTED: {
        "template": "missed_delivery",
        "purpose": Purpose.MISSED_DELIVERY,
        "reminder_after_hours": 24,
        "reminder_template": "missed_delivery_reminder",
        "reasons": {Reason.PAYMENT_REQUIRED: {"template": "missed_delivery_payment"}},
    },
    Status.AVAILABLE_FOR_PICKUP: {
        "template": "ready_for_pickup",
        "purpose": Purpose.READY_FOR_PICKUP,
        "reminder_days_before_deadline": 2,
        "reminder_template": "pickup_reminder",
    },
    Status.DELIVERED: {"template": "delivered", "purpose": Purpose.DELIVERED},
    Status.EXCEPTION: {"template": "exception", "purpose": Purpose.EXCEPTION},
    Status.RETURNING: {"template": "returning", "purpose": Purpose.RETURNING},
}

# (window, capacity): deliveries a depot's rounds can take in that window on one day.
DEFAULT_SLOTS: tuple[tuple[str, int], ...] = (("09:00-13:00", 40), ("14:00-18:00", 40))

# Shown beside the safe-place form, per language: ops' legal wording.
DEFAULT_SAFE_PLACE_NOTICE = {
    "it": "Lasciando il pacco nel luogo indicato, la consegna si considera "
    "effettuata e il corriere non risponde di furti o danni successivi.",
    "en": "Once the parcel is left where you say, it counts as delivered and the "
    "courier is not liable for later theft or damage.",
}
