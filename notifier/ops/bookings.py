"""The depot's day list of rebookings, as CSV or JSON: what couriers and the phone desk act on.

Which bookings a day's list holds is ops/store.py's query. The list names people, their
phones and addresses: it is only ever served behind the ops password, never cached."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime
from typing import Any

# A spreadsheet runs a cell that starts like a formula (OWASP "CSV injection"); what the
# recipient typed, and what a carrier's feed sent, must stay text. A phone's "+" gets the
# same apostrophe, which also stops a spreadsheet making the number a number without it.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class BookingLine:
    tracking_number: str
    kind: str
    day: date | None
    window: str | None
    route_stop: int | None
    pickup_point: str | None  # code
    pickup_name: str | None
    neighbour_name: str | None
    neighbour_door: str | None
    instructions: str | None  # safe place, or the comment on a dispute
    callback_due: datetime | None  # company time zone
    recipient_name: str | None
    recipient_phone: str | None  # E.164: the newest valid one
    recipient_address: str | None  # its lines and the postcode, comma-separated
    depot: str | None


FIELDS = tuple(f.name for f in fields(BookingLine))


def _plain(line: BookingLine) -> dict[str, Any]:
    values = asdict(line)
    for name in ("day", "callback_due"):
        if values[name] is not None:
            values[name] = values[name].isoformat()
    return values


def build_json(lines: list[BookingLine]) -> str:
    """A JSON array of objects, one per line, dates in ISO 8601."""
    return json.dumps([_plain(line) for line in lines], ensure_ascii=False, indent=2) + "\n"


def build_csv(lines: list[BookingLine]) -> str:
    """RFC 4180 CSV with a header row; empty cells for unknown values."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for line in lines:
        writer.writerow({k: _cell(v) for k, v in _plain(line).items()})
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value
