"""What protects the public pages: CSRF tokens, rate limits and security headers."""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import time

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

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
    """At most `limit` hits per key in a moving `window` of seconds.

    The counts live in `storage` (the `limits` package): in this process by default, or
    in Redis ([web] rate_limit_storage), where every `notifier serve` replica shares them,
    so N replicas do not give a client N times the limit. If the shared storage fails,
    the limit is kept in this process meanwhile (logged once): never unlimited, never a 500.
    """

    def __init__(
        self,
        *,
        limit: int,
        window: float,
        storage: Storage | None = None,
        namespace: str = "notifier",
    ) -> None:
        self.limit = limit
        self.window = window
        self.namespace = namespace
        self._item = RateLimitItemPerSecond(limit, max(1, round(window)))
        self._limiter = MovingWindowRateLimiter(storage or MemoryStorage())
        self._fallback = MovingWindowRateLimiter(MemoryStorage())
        self._warned = False

    def retry_after(self, key: str) -> int:
        """0 when the hit is allowed (and counted), else seconds until it would be."""
        try:
            return self._hit(self._limiter, key)
        except Exception as exc:  # the storage's own errors (Redis down, timed out)
            if not self._warned:
                log.warning("rate limits: shared storage failed (%s), kept here", _kind(exc))
                self._warned = True
            return self._hit(self._fallback, key)

    def blocked_for(self, key: str) -> int:
        """0 while a hit would be allowed (none is counted), else seconds until it would."""
        try:
            return self._blocked(self._limiter, key)
        except Exception:  # as in retry_after: the process's own counts meanwhile
            return self._blocked(self._fallback, key)

    def _blocked(self, limiter: MovingWindowRateLimiter, key: str) -> int:
        if limiter.test(self._item, self.namespace, key):
            return 0
        reset = limiter.get_window_stats(self._item, self.namespace, key).reset_time
        return max(1, math.ceil(reset - time.time()))

    def _hit(self, limiter: MovingWindowRateLimiter, key: str) -> int:
        if limiter.hit(self._item, self.namespace, key):
            return 0
        reset = limiter.get_window_stats(self._item, self.namespace, key).reset_time
        return max(1, math.ceil(reset - time.time()))


def _kind(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


def limit_storage(uri: str) -> Storage:
    """The rate limits' storage for a `limits` URI: memory:// or redis://host:port/db."""
    storage = storage_from_string(uri)
    assert isinstance(storage, Storage)  # the URIs the config allows are synchronous
    return storage


# Pages that hold a token or personal data (a parcel, a day's bookings with addresses,
# callbacks with phone numbers, an API answer): no browser or proxy may keep a copy.
NO_STORE_PREFIXES = ("/r", "/u/", "/f/", "/ops", "/api/", "/metrics")


class SecurityHeaders:
    """The headers above on every response, and no caching of pages that hold tokens or
    personal data."""

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
                if path.startswith(NO_STORE_PREFIXES) and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
