"""When a message that failed for now is tried again: exponential backoff with jitter. Pure."""

from __future__ import annotations

import random
from datetime import timedelta


def retry_delay(
    attempts: int, *, base_seconds: float, max_seconds: float, rng: random.Random
) -> timedelta:
    """The wait after the `attempts`-th try failed.

    The ceiling doubles from `base_seconds` with each attempt up to `max_seconds`; the
    wait is drawn from its upper half ("equal jitter"), so a provider outage does not
    end in every worker retrying in the same second, and no retry comes back at once.
    """
    ceiling = min(max_seconds, base_seconds * 2 ** max(0, attempts - 1))
    return timedelta(seconds=ceiling / 2 + rng.uniform(0, ceiling / 2))


def gives_up(attempts: int, *, max_attempts: int) -> bool:
    """Whether a row that failed for now on its `attempts`-th try is dead instead."""
    return attempts >= max_attempts
