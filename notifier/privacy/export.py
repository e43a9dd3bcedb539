"""`notifier export`: everything held about one person, as JSON with stable keys (an access
request, GDPR art. 15)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from notifier.db.bulk import one_of
from notifier.db.tables import (
    CONTACTS,
    EVENTS,
    FEEDBACK,
    INBOUND,
    OPT_OUTS,
    OUTBOX,
    PROMISES,
    REBOOKINGS,
    SHIPMENTS,
    UNSUBSCRIBE_TOKENS,
)
from notifier.outbox.suppression import hashed_address, normalised
from notifier.privacy.person import Person
from notifier.privacy.scrub import outbox_recipient_is

_SHIPMENT_FIELDS = (
    "carrier",
    "tracking_number",
    "generation",
    "status",
    "reason",
    "status_occurred_at",
    "depot",
    "recipient_name",
    "recipient_postcode",
    "recipient_address",
    "recipient_locale",
    "sender_name",
    "created_at",
)
_MESSAGE_FIELDS = (
    "channel",
    "purpose",
    "state",
    "recipient",
    "created_at",
    "sent_at",
    "finished_at",
    "subject",
    "body",
    "body_html",
)


def held_about(connection: Connection, person: Person, *, link_key: bytes) -> dict[str, Any]:
    """Each section a list (empty when nothing is held in it); `suppressed` says whether
    the suppression list keeps the person's keyed hash (an erasure leaves only that)."""
    ids = sorted(
        set(
            connection.execute(
                select(CONTACTS.c.shipment_id).where(person.contact_matches())
            ).scalars()
        )
    )
    within = one_of(connection, SHIPMENTS.c.id, ids)
    shipments = []
    for row in connection.execute(select(SHIPMENTS).where(within).order_by(SHIPMENTS.c.id)):
        facts = {name: row._mapping[name] for name in _SHIPMENT_FIELDS}
        facts["events"] = [
            {
                "status": e.status,
                "reason": e.reason,
                "occurred_at": e.occurred_at,
                "received_at": e.received_at,
                "source": e.source,
                "payload": _parsed(e.payload),
            }
            for e in connection.execute(
                select(EVENTS).where(EVENTS.c.shipment_id == row.id).order_by(EVENTS.c.id)
            )
        ]
        shipments.append(facts)
    by_id = {
        row.id: row.tracking_number
        for row in connection.execute(
            select(SHIPMENTS.c.id, SHIPMENTS.c.tracking_number).where(within)
        )
    }

    def of(table: Any, *names: str, where: Any) -> list[dict[str, Any]]:
        found = []
        for row in connection.execute(select(table).where(where).order_by(table.c.id)):
            entry = {name: row._mapping[name] for name in names}
            if "shipment_id" in row._mapping:
                entry["tracking_number"] = by_id.get(row._mapping["shipment_id"])
            found.append(entry)
        return found

    plain = {(c, normalised(c, s)) for c, s in person.pairs}
    hashed = {hashed_address(link_key, c, s) for c, s in person.pairs}
    opt_outs = [
        {"channel": r.channel, "reason": r.reason, "created_at": r.created_at}
        for r in connection.execute(
            select(OPT_OUTS)
            .order_by(OPT_OUTS.c.id)
            .where(OPT_OUTS.c.address.in_(sorted({a for _, a in plain})))
        )
    ]
    suppressed = (
        connection.execute(
            select(OPT_OUTS.c.id).where(OPT_OUTS.c.address.in_(sorted(hashed))).limit(1)
        ).first()
        is not None
    )
    return {
        "person": {"kind": str(person.kind), "address": person.address},
        "shipments": shipments,
        "contact_points": of(
            CONTACTS,
            "kind",
            "value",
            "valid",
            "invalid_reason",
            "created_at",
            where=person.contact_matches(),
        ),
        "messages": of(
            OUTBOX,
            *_MESSAGE_FIELDS,
            where=one_of(connection, OUTBOX.c.shipment_id, ids) & outbox_recipient_is(person.pairs),
        ),
        "opt_outs": opt_outs,
        "unsubscribe_links": of(
            UNSUBSCRIBE_TOKENS,
            "channel",
            "address",
            "created_at",
            "expires_at",
            where=func.lower(UNSUBSCRIBE_TOKENS.c.address).in_(sorted({a for _, a in plain})),
        ),
        "sms_replies": of(
            INBOUND, "kind", "received_at", where=INBOUND.c.sender.in_(sorted(person.spellings))
        ),
        "rebookings": of(
            REBOOKINGS,
            "kind",
            "day",
            "window",
            "pickup_point",
            "neighbour_name",
            "neighbour_door",
            "instructions",
            "locale",
            "created_at",
            "replaced_at",
            where=one_of(connection, REBOOKINGS.c.shipment_id, ids),
        ),
        "callbacks": of(
            PROMISES,
            "kind",
            "state",
            "window_start",
            "window_end",
            "outcome",
            "note",
            where=one_of(connection, PROMISES.c.shipment_id, ids),
        ),
        "feedback": of(
            FEEDBACK,
            "score",
            "comment",
            "locale",
            "created_at",
            where=one_of(connection, FEEDBACK.c.shipment_id, ids),
        ),
        "suppressed": suppressed,
    }


def holds_anything(report: dict[str, Any]) -> bool:
    return any(value for key, value in report.items() if isinstance(value, list))


def export_json(report: dict[str, Any]) -> str:
    """Stable keys, ISO dates; the payloads as the JSON they were."""
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False, default=_plain)


def _parsed(payload: str) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return payload  # a source's raw text that was never JSON: as kept


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")
