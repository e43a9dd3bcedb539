"""The app's clock: every handler asks its request for `now`, never the wall clock itself.

create_app takes the clock (the wall clock by default), so tests move time through the web
exactly as they do through the workers: a resend, a window's end or an evening lock.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import Request

from notifier.clock import Clock, wall_clock

__all__ = ["Clock", "request_now", "wall_clock"]


def request_now(request: Request) -> datetime:
    """This app's `now`, aware, in UTC."""
    clock: Clock = request.app.state.clock
    return clock()
