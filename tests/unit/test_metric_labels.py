"""Metric labels come from closed sets: a sender's free text or a concrete path never
becomes one (metrics.py, web/metrics.py)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.routing import Route

from notifier.metrics import refusal, source_label
from notifier.web.metrics import route_template


@pytest.mark.parametrize(
    ("source", "label"),
    [
        ("tms", "tms"),
        ("TMS ", "tms"),
        ("default", "default"),
        ("shippo", "shippo"),
        ("karrio", "karrio"),
        ("Magazzino di Giovanni Bianchi", "other"),
        ("RP123456789IT", "other"),
        ("", "other"),
        (None, "unknown"),
    ],
    ids=[
        "tms",
        "tms-spelt-loosely",
        "default",
        "shippo",
        "karrio",
        "free-text",
        "tracking",
        "empty",
        "none",
    ],
)
def test_a_source_becomes_a_known_name_or_other(source: str | None, label: str) -> None:
    assert source_label(source) == label


def _page() -> None: ...


@pytest.mark.parametrize(
    ("scope", "label"),
    [
        ({"route": Route("/r/{token}", _page)}, "/r/{token}"),
        ({"route": Route("/r/{token:str}/slot", _page)}, "/r/{token}/slot"),
        ({"route": None}, "unmatched"),
        ({}, "unmatched"),
    ],
    ids=["template", "converter-dropped", "no-route", "unrouted"],
)
def test_a_response_is_labelled_by_its_route_template(scope: dict[str, Any], label: str) -> None:
    assert route_template({"type": "http", "path": "/r/Hq3xL0fE6yYbqj2m9k0aBw", **scope}) == label


@pytest.mark.parametrize(
    ("status", "result"),
    [
        (400, "invalid"),
        (422, "invalid"),
        (401, "refused"),
        (403, "refused"),
        (404, "refused"),
        (413, "refused"),
        (503, "refused"),
    ],
)
def test_a_webhook_answered_early_is_invalid_or_refused(status: int, result: str) -> None:
    assert refusal(status) == result
