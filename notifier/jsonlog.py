"""Log records as JSON, one object a line, for a log collector ([logging] format = "json").

Only the record's rendered message and a few named fields go out: never its raw
arguments, so whatever a filter redacted in them (web/access_log.py) stays redacted.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # uvicorn's access record: (client, method, path with query, HTTP version, status),
        # the client already hidden and the path redacted by web/access_log.py's filter.
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            _client, method, path, _version, status = args
            entry.update(method=method, path=path, status=status)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(log_format: str) -> None:
    """The root logger at INFO on stderr, as text or as JSON lines."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # The Twilio client logs every request's method, URL and headers at INFO: a dozen
    # lines a message, saying nothing the dispatch log does not. Warnings still show.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    # APScheduler's executor logs two lines at INFO for every run of every job (the send
    # loop's safety net, the heartbeat, the inbox watch: dozens a minute), drowning what
    # the jobs themselves say. A job that fails or misses its time still shows (ERROR,
    # WARNING).
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
