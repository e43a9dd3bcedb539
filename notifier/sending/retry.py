"""When a message that failed for now is tried again: backoff with jitter; 30003's wait. Pure."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from notifier.config import Settings
from notifier.notify.quiethours import next_allowed, recipient_timezone


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


def unreachable_retry_at(
    attempts: int, *, recipient: str, settings: Settings, now: datetime
) -> datetime | None:
    """When an SMS whose handset was unreachable (Twilio 30003) goes again; None: no more.

    `attempts` are the row's tries so far. A try that failed for now (a 429) counts too,
    so the bound can only come sooner, never later. The next try waits
    `unreachable_retry_hours` (the phone off for the night, a train through a tunnel) and
    then for the end of the recipient's quiet hours, like any message queued.
    """
    sms = settings.channels.sms
    if attempts > sms.unreachable_retries:
        return None
    quiet = settings.quiet_hours
    return next_allowed(
        now + timedelta(hours=sms.unreachable_retry_hours),
        tz=recipient_timezone(recipient, settings.company.timezone),
        start=quiet.start,
        end=quiet.end,
    )
