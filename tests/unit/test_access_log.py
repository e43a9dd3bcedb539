"""The access log keeps no token and no client address (web/access_log.py)."""

from __future__ import annotations

import io
import logging
import logging.config

import pytest

from notifier.web.access_log import redact_path, uvicorn_log_config

TOKEN = "Hq3xL0fE6yYbqj2m9k0aBw"


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        (f"/r/{TOKEN}", "/r/…"),
        (f"/r/{TOKEN}/slot", "/r/…/slot"),
        (f"/u/{TOKEN}/resubscribe", "/u/…/resubscribe"),
        (f"/webhooks/twilio/status/{TOKEN}", "/webhooks/twilio/status/…"),
        (f"/webhooks/twilio/inbound/{TOKEN}", "/webhooks/twilio/inbound/…"),
        ("/r", "/r"),
        ("/api/v1/shipments/RP123456789IT/slip.zpl?dpi=203", "/api/v1/shipments/…/slip.zpl?dpi=…"),
        ("/ops/slips.pdf?date=2026-11-23&depot=MI01", "/ops/slips.pdf?date=…&depot=…"),
        ("/healthz", "/healthz"),
    ],
)
def test_tokens_and_query_values_are_hidden(path: str, logged: str) -> None:
    assert redact_path(path) == logged


def test_uvicorns_access_line_has_neither_token_nor_address() -> None:
    config = uvicorn_log_config()
    stream = io.StringIO()
    config["handlers"]["access"]["stream"] = stream
    logging.config.dictConfig(config)
    try:
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "203.0.113.7:51234", "GET", f"/r/{TOKEN}", "1.1", 200
        )
    finally:
        # Leave the process's logging as it was for the tests after this one.
        for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
            logger = logging.getLogger(name)
            logger.handlers.clear()
            logger.propagate = True
            logger.setLevel(logging.NOTSET)
    line = stream.getvalue()
    assert '"GET /r/… HTTP/1.1" 200' in line
    assert TOKEN not in line
    assert "203.0.113.7" not in line
