"""The server's access log without secrets or personal data.

A rebooking, unsubscribe or webhook path carries its token (a slip's API path, its
tracking number): whoever reads the log could
open the recipient's page, unsubscribe them or forge a webhook's address. The client's IP
address is personal data. Both are left out; method, route shape and status stay, which
is what an operator reads the log for.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from notifier.jsonlog import JsonFormatter
from notifier.urls import TWILIO_INBOUND_PATH, TWILIO_STATUS_PATH, UNSUBSCRIBE_PATH

REBOOKING_PATH = "/r/"
# A parcel's own API path names its tracking number: a handle to someone's parcel.
SHIPMENT_API_PATH = "/api/v1/shipments/"
TOKEN_PATHS = (
    REBOOKING_PATH,
    UNSUBSCRIBE_PATH,
    TWILIO_STATUS_PATH,
    TWILIO_INBOUND_PATH,
    SHIPMENT_API_PATH,
)
HIDDEN = "…"
# uvicorn's access record: (client address, method, path with query, HTTP version, status).
_ACCESS_ARGS = 5


def redact_path(path: str) -> str:
    """The path with its token segment and every query value hidden."""
    path, question, query = path.partition("?")
    for prefix in TOKEN_PATHS:
        if path.startswith(prefix) and len(path) > len(prefix):
            _token, slash, rest = path[len(prefix) :].partition("/")
            path = f"{prefix}{HIDDEN}{slash}{rest}"
            break
    if question:
        names = [pair.partition("=")[0] for pair in query.split("&") if pair]
        path += "?" + "&".join(f"{name}={HIDDEN}" for name in names)
    return path


class RedactAccess(logging.Filter):
    """Rewrites uvicorn's access records in place; every record still goes out."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == _ACCESS_ARGS:
            _client, method, path, version, status = args
            record.args = ("-", method, redact_path(str(path)), version, status)
        return True


def uvicorn_log_config(log_format: str = "text") -> dict[str, Any]:
    """uvicorn's own logging configuration with the access handler filtered; with `json`,
    its records are JSON lines (the filter still runs first)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    if log_format == "json":
        config["formatters"] = {name: {"()": JsonFormatter} for name in ("default", "access")}
    config.setdefault("filters", {})["redact_access"] = {"()": RedactAccess}
    config["handlers"]["access"]["filters"] = ["redact_access"]
    return config
