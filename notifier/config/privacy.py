"""The [privacy] section: how long recipients' contact data outlives their parcel."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Privacy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Days after a shipment's final status (delivered, returning, cancelled) before its
    # names, addresses, contacts and message texts are cleared; statuses, times and
    # counts stay. There is no "off": keeping contact data for ever is not a choice the
    # law leaves open (GDPR art. 5(1)(e)); 3650 days is the longest.
    retention_days: int = Field(default=90, ge=1, le=3650)
    # Shipments anonymised per transaction: short transactions keep ingest unblocked.
    retention_batch: int = Field(default=200, ge=1, le=10_000)
