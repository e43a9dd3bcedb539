"""Aggregator payloads for the carrier tests, ours and the providers' published samples.

Ours are in tests/fixtures/carriers; the samples in ../shared/fixtures/carriers.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from notifier.carriers import Parser
from notifier.errors import EventRejectedError
from notifier.vocabulary import Event
from tests.conftest import NOW, shared_path

OWN = Path(__file__).parent.parent / "fixtures" / "carriers"


def own(name: str) -> tuple[dict[str, Any], str]:
    raw = (OWN / name).read_text(encoding="utf-8")
    return json.loads(raw), raw


def shared(name: str) -> tuple[dict[str, Any], str]:
    raw = shared_path("fixtures", "carriers", name).read_text(encoding="utf-8")
    return json.loads(raw), raw


def parse_one(parser: Parser, payload: dict[str, Any], raw: str = "") -> Event:
    events = parser(payload, raw=raw or json.dumps(payload), default_region="IT", now=NOW)
    assert len(events) == 1  # the newest checkpoint only (each module's docstring says why)
    return events[0]


def rejected_fields(parser: Parser, payload: Any) -> dict[str, str]:
    with pytest.raises(EventRejectedError) as caught:
        parser(payload, raw="", default_region="IT", now=NOW)
    return {e.field: e.reason for e in caught.value.errors}


def changed(payload: dict[str, Any], path: list[str | int], value: Any) -> dict[str, Any]:
    """A deep copy with the field at `path` set to `value` (None: removed)."""
    copied = copy.deepcopy(payload)
    target: Any = copied
    for step in path[:-1]:
        target = target[step]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return copied
