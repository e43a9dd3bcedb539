"""[logging] format = "json": one JSON object a line, the access log still redacted, and the
option read from the file or NOTIFIER_LOG_FORMAT (jsonlog.py, web/access_log.py)."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from notifier import paths
from notifier.config import load_settings
from notifier.errors import ConfigError
from notifier.jsonlog import JsonFormatter, configure_logging
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


@pytest.fixture
def service_logging() -> Iterator[None]:
    """The process's logging as `notifier run` sets it up, put back afterwards."""
    quietened = ("twilio.http_client", "apscheduler.executors.default")
    configure_logging("text")
    yield
    for name in quietened:
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_the_scheduler_says_only_what_went_wrong(
    service_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    """A job that runs says nothing of APScheduler's own (two lines a run, dozens a
    minute in `notifier run`); one that raises is logged with its error."""
    ran, failed = threading.Event(), threading.Event()

    def fine() -> None:
        ran.set()

    def broken() -> None:
        failed.set()
        raise RuntimeError("the inbox folder is gone")

    caplog.set_level(logging.INFO)
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(fine, "date", run_date=datetime.now(UTC), id="fine")
    scheduler.add_job(broken, "date", run_date=datetime.now(UTC), id="broken")
    scheduler.start()
    try:
        assert ran.wait(timeout=10)
        assert failed.wait(timeout=10)
    finally:
        scheduler.shutdown(wait=True)  # the runs, and what the executor logs of them, done
    executor = [r for r in caplog.records if r.name == "apscheduler.executors.default"]
    assert [r.levelno for r in executor] == [logging.ERROR]
    assert "broken" in executor[0].getMessage()
    assert executor[0].exc_info is not None
    assert "the inbox folder is gone" in str(executor[0].exc_info[1])
