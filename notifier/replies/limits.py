"""How often one number is answered: a person's few questions, never an endless exchange
with another machine's auto-reply. Pure; the counts come from the database, so the limit
holds across any number of web workers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

# (window, messages): of one number's messages, at most 5 in 10 minutes and 20 in a day
# are acted on and answered. A conversation ("where is it?", "2", "thanks") takes three or
# four; an auto-responder answering each of our answers would otherwise cost an SMS a
# second, forever.
REPLY_LIMITS: tuple[tuple[timedelta, int], ...] = (
    (timedelta(minutes=10), 5),
    (timedelta(days=1), 20),
)


def over_limit(handled: Mapping[timedelta, int]) -> bool:
    """Whether a number whose messages were handled this often (per window) gets no more."""
    return any(handled.get(window, 0) >= most for window, most in REPLY_LIMITS)
