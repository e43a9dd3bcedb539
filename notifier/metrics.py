"""The process's Prometheus counters and histograms, and the bounded labels they take.

Every label value comes from a closed set: a sender's free-text `source`, a route's
concrete path or a token never becomes one (each would be a new time series, and a
handle to someone's parcel in whatever stores the series). With PROMETHEUS_MULTIPROC_DIR
set before the process starts, prometheus_client keeps these in files there, one per
process, and /metrics sums every process's (web/metrics.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from prometheus_client import Counter, Histogram

# The sources notifier knows by name: the aggregators, the native default, and the names
# the documentation suggests to integrators. Anything else a sender writes is `other`.
KNOWN_SOURCES = frozenset({"karrio", "easypost", "aftership", "shippo", "native", "tms", "default"})
OTHER = "other"
# A rejected item is counted before it has a trustworthy source.
UNKNOWN_SOURCE = "unknown"

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
WEBHOOK_RESULTS = ("stored", "duplicate", "refused", "ignored", "invalid")

EVENTS = Counter(
    "notifier_events",
    "Tracking events ingested, by result (stored, duplicate, conflict, rejected), their "
    "native status (none for a rejection) and source.",
    ["result", "status", "source"],
)
MESSAGES = Counter(
    "notifier_messages",
    "Outbox rows settled by the dispatcher, by channel and outcome (sent, retry, ...).",
    ["channel", "outcome"],
)
SEND_SECONDS = Histogram(
    "notifier_send_seconds",
    "How long the provider call of one send took (Twilio, SMTP, console).",
    ["channel"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
WEBHOOKS = Counter(
    "notifier_webhooks",
    "Webhook deliveries (Twilio status and inbound, aggregators), by source and result.",
    ["source", "result"],
)
RESPONSES = Counter(
    "notifier_http_responses",
    "HTTP responses, by route template (never the concrete path) and status class.",
    ["route", "status"],
)
RESPONSE_SECONDS = Histogram(
    "notifier_http_response_seconds",
    "Time from a request's arrival to the end of its response, by route template.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def source_label(source: str | None) -> str:
    """A source as a label: a known name, `other`, or `unknown` when there is none."""
    if source is None:
        return UNKNOWN_SOURCE
    name = source.strip().lower()
    return name if name in KNOWN_SOURCES else OTHER


def count_event(result: str, status: str | None, source: str | None) -> None:
    """`status` is the event's native status (a closed set), None for a rejection."""
    EVENTS.labels(result=result, status=status or "none", source=source_label(source)).inc()


def count_message(channel: str, outcome: str) -> None:
    MESSAGES.labels(channel=channel, outcome=outcome).inc()


OPS_LOGIN_FAILURES = Counter("notifier_ops_login_failures", "Wrong ops passwords tried.")


def count_webhook(source: str, result: str) -> None:
    assert result in WEBHOOK_RESULTS, result
    WEBHOOKS.labels(source=source, result=result).inc()


def multiprocess_problem(env: Mapping[str, str]) -> str | None:
    """Why PROMETHEUS_MULTIPROC_DIR cannot take this process's counters, if it cannot: the
    first count would fail inside a request or a send, so a process refuses to start."""
    folder = env.get(MULTIPROC_ENV, "")
    if folder and not (os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK)):
        return f"{MULTIPROC_ENV}={folder} is not a writable directory: create it, empty"
    return None


def refusal(status_code: int) -> str:
    """A webhook answered before it was read: `invalid` for a malformed one (400, 422),
    `refused` for one not proven, too large or switched off."""
    return "invalid" if status_code in (400, 422) else "refused"
