"""Source formats: each module turns one format's payload into normalised Events.

PARSERS is the registry `notifier ingest --format` and the webhooks choose from: an
explicit dict, no scanning; parser_for gives one set for the company's clock. Every
parser takes one parsed JSON object and gives its events, or raises EventRejectedError
naming the provider's field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from notifier.carriers.aftership import parse_aftership
from notifier.carriers.easypost import parse_easypost
from notifier.carriers.karrio import parse_karrio
from notifier.carriers.native import parse_native_events
from notifier.carriers.shippo import parse_shippo
from notifier.vocabulary import Event


class Parser(Protocol):
    def __call__(
        self, payload: Mapping[str, Any], *, raw: str, default_region: str, now: datetime
    ) -> list[Event]: ...


NATIVE = "native"
PARSERS: dict[str, Parser] = {
    NATIVE: parse_native_events,
    "karrio": parse_karrio,
    "easypost": parse_easypost,
    "aftership": parse_aftership,
    "shippo": parse_shippo,
}


def parser_for(name: str, *, local_timezone: str) -> Parser:
    """The parser of format `name` (a key of PARSERS) for a courier whose carriers' local
    clocks are `local_timezone` (the company's): Karrio's events may carry only those."""
    if name == "karrio":
        return partial(parse_karrio, local_zone=ZoneInfo(local_timezone))
    return PARSERS[name]
