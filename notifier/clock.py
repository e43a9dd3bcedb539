"""The wall clock, in one place: everything else takes `now`, or a clock, as an input."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)
