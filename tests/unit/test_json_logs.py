"""[logging] format = "json": one JSON object a line, the access log still redacted, and the
option read from the file or NOTIFIER_LOG_FORMAT (jsonlog.py, web/access_log.py)."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from notifier import paths
from notifier.config import load_settings
from notifier.errors import ConfigError
from notifier.jsonlog import JsonFormatter
from notifier.web.access_log import uvicorn_log_config

TOKEN = "Hq3xL0fE6yYbqj2m9k0aBw"
UVICORN = ("uvicorn", "uvicorn.access", "uvicorn.error")


@pytest.fixture
def uvicorn_json() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """uvicorn's loggers configured as `notifier serve` does in JSON mode: (access, other)."""
    config = uvicorn_log_config("json")
    access, other = io.StringIO(), io.StringIO()
    config["handlers"]["access"]["stream"] = access
    config["handlers"]["default"]["stream"] = other
    logging.config.dictConfig(config)
    yield access, other
    for name in UVICORN:  # leave the process's logging as it was
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


def lines_of(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        (f"/r/{TOKEN}?lang=en", "/r/…?lang=…"),
        (f"/r/{TOKEN}/slot", "/r/…/slot"),
        (f"/u/{TOKEN}", "/u/…"),
        (f"/webhooks/twilio/status/{TOKEN}", "/webhooks/twilio/status/…"),
        ("/api/v1/shipments/RP123456789IT/slip.pdf", "/api/v1/shipments/…/slip.pdf"),
    ],
    ids=["rebooking", "rebooking-form", "unsubscribe", "twilio-status", "shipment"],
)
def test_access_lines_are_json_without_token_or_address(
    uvicorn_json: tuple[io.StringIO, io.StringIO], path: str, logged: str
) -> None:
    access, _ = uvicorn_json
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "203.0.113.7:51234", "GET", path, "1.1", 200
    )
    (line,) = lines_of(access)
    assert line["logger"] == "uvicorn.access"
    assert line["level"] == "INFO"
    assert (line["method"], line["path"], line["status"]) == ("GET", logged, 200)
    assert logged in line["message"]
    text = access.getvalue()
    assert TOKEN not in text
    assert "RP123456789IT" not in text
    assert "203.0.113.7" not in text


def test_uvicorns_other_lines_are_json_too(uvicorn_json: tuple[io.StringIO, io.StringIO]) -> None:
    _, other = uvicorn_json
    logging.getLogger("uvicorn.error").info("Uvicorn running on %s", "http://127.0.0.1:8000")
    (line,) = lines_of(other)
    assert line["message"] == "Uvicorn running on http://127.0.0.1:8000"
    assert line["time"].endswith("+00:00")


def test_an_exception_is_one_line_with_its_traceback() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("notifier.jobs", logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = sys.exc_info()
    text = JsonFormatter().format(record)
    assert "\n" not in text
    entry = json.loads(text)
    assert entry["message"] == "failed"
    assert "RuntimeError" in entry["exception"]


def test_text_stays_uvicorns_own_format() -> None:
    formatters = uvicorn_log_config()["formatters"]
    assert formatters["access"]["()"] == "uvicorn.logging.AccessFormatter"


def test_the_format_comes_from_the_file_or_the_environment(tmp_path: Path) -> None:
    example = paths.example_config()
    assert load_settings(example, env={}).logging.format == "text"
    assert load_settings(example, env={"NOTIFIER_LOG_FORMAT": "json"}).logging.format == "json"
    with pytest.raises(ConfigError) as caught:
        load_settings(example, env={"NOTIFIER_LOG_FORMAT": "xml"})
    assert "logging.format" in str(caught.value.problems[0])
