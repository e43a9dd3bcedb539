"""Demo data for `notifier run --demo`: a few shipments, their events over the first minutes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from notifier.config import Settings
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming

# (seconds after start, shipment, status, extra fields)
SCRIPT: list[tuple[int, str, str, dict[str, Any]]] = [
    (0, "A", "CREATED", {"estimated_delivery": 1}),
    (10, "B", "CREATED", {}),
    (20, "A", "IN_TRANSIT", {}),
    (30, "B", "OUT_FOR_DELIVERY", {}),
    (40, "A", "OUT_FOR_DELIVERY", {}),
    (
        60,
        "A",
        "DELIVERY_ATTEMPTED",
        {"reason": "RECIPIENT_ABSENT", "route_stop": 17, "next_attempt": 1},
    ),
    (90, "C", "AVAILABLE_FOR_PICKUP", {"pickup_point": "PP-MI-12", "held_until": 7}),
    (120, "D", "EXCEPTION", {"reason": "WEATHER", "estimated_delivery": 2}),
    # B's "arriving today" waits five minutes: this delivery replaces it (coalescing).
    (150, "B", "DELIVERED", {}),
    (180, "E", "RETURNING", {"reason": "REFUSED"}),
]

RECIPIENTS: dict[str, dict[str, str]] = {
    "A": {"name": "Giovanni Bianchi", "phone": "+39 333 000 0001", "email": "gb@example.it"},
    "B": {"name": "Jane Smith", "email": "jane@example.com", "locale": "en"},
    "C": {"name": "Maria Rossi", "phone": "+39 333 000 0003"},
    # A landline: the SMS is recorded as suppressed and the email goes instead.
    "D": {"name": "Luca Verdi", "phone": "02 1234 5678", "email": "luca@example.it"},
    "E": {"phone": "+39 333 000 0005"},
}


def demo_events(start: datetime, env: Mapping[str, str]) -> list[tuple[datetime, dict[str, Any]]]:
    """The scripted events with their times; NOTIFIER_DEMO_PHONE / _EMAIL redirect them."""
    day = start.strftime("%Y%m%d")
    events = []
    for index, (offset, shipment, status, extra) in enumerate(SCRIPT):
        moment = start + timedelta(seconds=offset)
        recipient = dict(RECIPIENTS[shipment])
        for key, variable in (("phone", "NOTIFIER_DEMO_PHONE"), ("email", "NOTIFIER_DEMO_EMAIL")):
            if env.get(variable) and key in recipient:
                recipient[key] = env[variable]
        event: dict[str, Any] = {
            "event_id": f"demo-{day}-{index}",
            "source": "demo",
            "carrier": "rapido",
            "tracking_number": f"DM{day}{shipment}IT",
            "status": status,
            "occurred_at": moment.isoformat(),
            "depot": "MI01",
            "recipient": recipient,
            "sender": {"name": "Libreria Sant'Orsola"},
        }
        for key, value in extra.items():
            if key in ("estimated_delivery", "held_until"):
                value = (start.date() + timedelta(days=value)).isoformat()
            elif key == "next_attempt":
                value = {
                    "date": (start.date() + timedelta(days=value)).isoformat(),
                    "window": "10:00-14:00",
                }
            event[key] = value
        events.append((moment, event))
    return events


@dataclass
class DemoFeed:
    """Feeds the scripted events as their time comes, through the normal ingest path."""

    engine: Engine
    settings: Settings
    events: list[tuple[datetime, dict[str, Any]]]
    fed: int = field(default=0)

    def feed(self, now: datetime) -> int:
        due = [e for at, e in self.events[self.fed :] if at <= now]
        if not due:
            return 0
        items = [Incoming(i, e, json.dumps(e)) for i, e in enumerate(due)]
        list(ingest(self.engine, items, settings=self.settings, now=lambda: now))
        self.fed += len(due)
        return len(due)

    @property
    def done(self) -> bool:
        return self.fed >= len(self.events)
