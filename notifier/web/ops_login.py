"""Throttling wrong ops passwords: per client, and for everyone together.

A guesser from one address meets the per-client budget; one spreading guesses over many
addresses meets the global one. Past either, the ops pages answer 429 until the window
has moved on (right password or not): slower for ops for a while, never guessable.
Each wrong password is logged (no address, no user name: neither helps the reader) and
counted in notifier_ops_login_failures_total.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import FastAPI, Request

from notifier import metrics
from notifier.web.guards import RateLimiter

log = logging.getLogger(__name__)

PER_CLIENT = (10, 600.0)  # wrong passwords from one client in 10 minutes
EVERYONE = (100, 600.0)  # from all clients together
ALL = "all"


@dataclass(frozen=True)
class LoginLimits:
    client: RateLimiter
    everyone: RateLimiter

    def blocked_for(self, client: str) -> int:
        """Seconds this client must wait before another try, 0 when it may try now."""
        return max(self.client.blocked_for(client), self.everyone.blocked_for(ALL))

    def failed(self, client: str) -> None:
        self.client.retry_after(client)
        self.everyone.retry_after(ALL)
        metrics.OPS_LOGIN_FAILURES.inc()
        log.warning("ops: a wrong password was tried")


def install(app: FastAPI) -> None:
    storage = app.state.limit_storage
    app.state.ops_logins = LoginLimits(
        client=RateLimiter(
            limit=PER_CLIENT[0], window=PER_CLIENT[1], storage=storage, namespace="ops-client"
        ),
        everyone=RateLimiter(
            limit=EVERYONE[0], window=EVERYONE[1], storage=storage, namespace="ops-everyone"
        ),
    )


def limits(request: Request) -> LoginLimits:
    logins: LoginLimits = request.app.state.ops_logins
    return logins
