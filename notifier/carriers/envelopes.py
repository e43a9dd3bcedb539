"""Which webhook deliveries are not tracking news at all, by each aggregator's envelope.

An aggregator's webhook URL may be subscribed to more than tracking (EasyPost batches and
refunds, Shippo transactions, Karrio orders). Those are acknowledged and left alone, not
refused: a refusal would make the provider retry it, and in the end disable the webhook.
"""

from __future__ import annotations

from typing import Any


def _named(payload: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = payload.get(key)
        if isinstance(value, str):
            return value
    return None


def other_news(source: str, payload: Any) -> str | None:
    """The envelope's own name for what `payload` is, when it is not about tracking."""
    if not isinstance(payload, dict):
        return None
    if source == "easypost":  # an Event; its description is "tracker.updated" for ours
        kind = _named(payload, "description") if payload.get("object") == "Event" else None
        return kind if kind is not None and not kind.startswith("tracker.") else None
    if source == "karrio":  # {"event": "tracker.updated", "data": ...}; docs say "type"
        kind = _named(payload, "event", "type")
        return kind if kind is not None and not kind.startswith("tracker") else None
    if source == "shippo":  # {"event": "track_updated", "test": ..., "data": ...}
        kind = _named(payload, "event")
        return kind if kind is not None and kind != "track_updated" else None
    if source == "aftership":  # every Tracking webhook event carries a tracking in `msg`
        kind = _named(payload, "event")
        return kind if kind is not None and "msg" not in payload else None
    return None
