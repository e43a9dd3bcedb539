"""The app's clock: every handler asks its request for `now`, never the wall clock itself.

create_app takes the clock (the wall clock by default), so tests move time through the web
exactly as they do through the workers: a resend, a window's end or an evening lock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import Request

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


def request_now(request: Request) -> datetime:
    """This app's `now`, aware, in UTC."""
    clock: Clock = request.app.state.clock
    return clock()
