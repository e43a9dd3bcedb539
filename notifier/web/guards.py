"""What protects the public pages: CSRF tokens, rate limits and security headers."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "notifier_csrf"
CSRF_FIELD = "csrf"

# No external assets and no inline script: everything comes from our own origin.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def new_csrf_cookie() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(key: bytes, cookie: str, scope: str) -> str:
    """The form's token: the browser's cookie bound to this page's link, under our key.

    A page on another site can make the browser send the cookie but cannot read it, so it
    cannot compute the field (double submit, signed).
    """
    message = f"csrf:{scope}:{cookie}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def csrf_ok(key: bytes, cookie: str | None, scope: str, given: str | None) -> bool:
    if not cookie or not given or len(given) > 128:
        return False
    return hmac.compare_digest(csrf_token(key, cookie, scope), given)


class RateLimiter:
    """At most `limit` hits per key in a sliding `window` of seconds, in this process.

    Each replica counts on its own: behind N replicas a client gets up to N times the
    limit, still far below what guessing tokens or flooding a slot would need.
    """

    def __init__(
        self, *, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> int:
        """0 when the hit is allowed (and counted), else seconds until it would be."""
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, int(hits[0] + self.window - now) + 1)
            hits.append(now)
            if len(self._hits) > 100_000:  # bounded memory under a flood of new keys
                self._forget_idle(now)
            return 0

    def _forget_idle(self, now: float) -> None:
        for name in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
            del self._hits[name]


class SecurityHeaders:
    """The headers above on every response, and no caching of pages that hold tokens."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                if path.startswith("/r") and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
