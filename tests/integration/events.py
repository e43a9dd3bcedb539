"""Generated event histories for integration tests: shipments walking through their statuses."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

ROME = ZoneInfo("Europe/Rome")
START = datetime(2026, 11, 18, 8, 0, tzinfo=ROME)
JOURNEY = ["CREATED", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERY_ATTEMPTED", "DELIVERED"]
CSV_COLUMNS = [
    "event_id",
    "source",
    "carrier",
    "tracking_number",
    "status",
    "reason",
    "occurred_at",
    "depot",
    "route_stop",
    "next_attempt.date",
    "next_attempt.window",
    "recipient.name",
    "recipient.phone",
    "recipient.email",
    "recipient.locale",
]


def histories(shipments: int, *, seed: int = 7) -> list[dict[str, Any]]:
    """Every shipment's events, oldest first within a shipment; shipments interleaved."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for n in range(shipments):
        tracking = f"RP{n:09d}IT"
        steps = JOURNEY[: rng.randint(2, len(JOURNEY))]
        moment = START + timedelta(minutes=rng.randint(0, 600))
        for step, status in enumerate(steps):
            moment += timedelta(hours=rng.randint(1, 12))
            event: dict[str, Any] = {
                "event_id": f"{tracking}-{step}",
                "source": "tms",
                "carrier": "rapido",
                "tracking_number": tracking,
                "status": status,
                "occurred_at": moment.isoformat(),
                "depot": "MI01",
                "recipient": {
                    "name": f"Cliente {n}",
                    "phone": f"+39 333 {n % 1000:03d} {n % 10000:04d}",
                    "email": f"cliente{n}@example.it",
                    "locale": "it",
                },
            }
            if status == "DELIVERY_ATTEMPTED":
                event["reason"] = "RECIPIENT_ABSENT"
                event["route_stop"] = n % 40
                event["next_attempt"] = {"date": "2026-11-25", "window": "10:00-14:00"}
            events.append(event)
    rng.shuffle(events)
    return events


def final_statuses(events: list[dict[str, Any]]) -> dict[str, str]:
    """What each shipment's status must end as: that of its newest event."""
    newest: dict[str, tuple[datetime, str]] = {}
    for event in events:
        moment = datetime.fromisoformat(event["occurred_at"])
        current = newest.get(event["tracking_number"])
        if current is None or moment > current[0]:
            newest[event["tracking_number"]] = (moment, event["status"])
    return {tracking: status for tracking, (_, status) in newest.items()}


def as_jsonl(events: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)


def as_csv(events: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for event in events:
        writer.writerow([_flat(event, column) for column in CSV_COLUMNS])
    return out.getvalue()


def _flat(event: dict[str, Any], column: str) -> str:
    value: Any = event
    for part in column.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)
