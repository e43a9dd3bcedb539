"""JSON as RFC 8259 defines it: Python's json module also takes NaN, Infinity and
-Infinity, which no other JSON parser reads back and which would be stored as payloads
that the API's own consumers cannot parse. Every document from outside is read here."""

from __future__ import annotations

import json
from typing import Any


class NotStrictJsonError(ValueError):
    """The text uses a constant JSON does not have."""


def _refuse(constant: str) -> Any:
    raise NotStrictJsonError(f"{constant} is not a JSON value (RFC 8259 has no NaN or Infinity)")


def loads(text: str | bytes) -> Any:
    """json.loads, refusing NaN, Infinity and -Infinity (a ValueError, as for bad JSON)."""
    return json.loads(text, parse_constant=_refuse)


def decoder() -> json.JSONDecoder:
    """A decoder for raw_decode (one value after another), refusing them likewise."""
    return json.JSONDecoder(parse_constant=_refuse)
