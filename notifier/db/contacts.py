"""A shipment's stored contacts: the one query every feature reads them with."""

from __future__ import annotations

from collections.abc import Iterable

from notifier.db.bulk import Bulk
from notifier.db.tables import CONTACTS
from notifier.vocabulary import KIND_BY_VALUE, ContactPoint

Contacts = dict[int, list[ContactPoint]]  # shipment id -> its contacts, oldest first


def stored_contacts(bulk: Bulk, shipment_ids: Iterable[int]) -> Contacts:
    """The contacts stored for these shipments, oldest first, invalid ones included.

    The one query for a shipment's contacts: `rules.first_usable` picks from them.
    """
    ids = list(shipment_ids)
    if not ids:
        return {}
    columns = ["shipment_id", "kind", "value", "valid", "invalid_reason"]
    sql = bulk.select_in(CONTACTS, columns, within="shipment_id", order_by="id")
    found: Contacts = {}
    for shipment_id, kind, value, valid, reason in bulk.fetch(sql, bulk.values(ids)):
        point = ContactPoint(KIND_BY_VALUE[kind], value, bool(valid), reason)
        found.setdefault(shipment_id, []).append(point)
    return found
