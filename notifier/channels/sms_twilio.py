"""SMS through Twilio's Messages API, with the official client injected."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from notifier.channels.base import OutgoingMessage, ProviderStatus, SendResult
from notifier.config.settings import TWILIO_API_BASE_URL
from notifier.errors import PermanentChannelError, TemporaryChannelError

# Twilio error codes that no retry can fix (twilio.com/docs/api/errors).
PERMANENT_CODES = {
    21211: "invalid 'To' number",
    21610: "recipient unsubscribed (replied STOP)",
    21614: "'To' is not a mobile number",
    21635: "'To' cannot receive SMS",
    30006: "landline or unreachable carrier",
}
OPTED_OUT = 21610
TOO_MANY_REQUESTS = 20429
# Too fast for Twilio: the account's request rate, or the sender's queue (21611: more than
# its queue holds; 30001 arrives later as a receipt). Retried, and the sender slowed down.
SLOW_DOWN_CODES = frozenset({TOO_MANY_REQUESTS, 21611})
HTTP_TIMEOUT_SECONDS = 15


class TwilioSmsChannel:
    name = "sms"

    def __init__(
        self,
        *,
        client: Client,
        from_number: str | None,
        messaging_service_sid: str | None,
        status_callback_url: Callable[[int], str] | None,
    ) -> None:
        self.client = client
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.status_callback_url = status_callback_url

    def build_request(self, message: OutgoingMessage) -> dict[str, Any]:
        request: dict[str, Any] = {"to": message.recipient, "body": message.body}
        # A Messaging Service picks the sender itself (and handles STOP for the account).
        if self.messaging_service_sid:
            request["messaging_service_sid"] = self.messaging_service_sid
        else:
            request["from_"] = self.from_number
        if self.status_callback_url is not None:
            request["status_callback"] = self.status_callback_url(message.outbox_id)
        return request

    def send(self, message: OutgoingMessage) -> SendResult:
        request = self.build_request(message)
        try:
            created = self.client.messages.create(**request)
        except Exception as exc:
            raise classify(exc) from exc
        return SendResult(provider_id=created.sid, provider_status=str(created.status))

    def fetch_status(self, provider_id: str) -> ProviderStatus:
        """What Twilio says of a message now: asked when its status callback never came."""
        try:
            message = self.client.messages(provider_id).fetch()
        except Exception as exc:
            raise classify(exc) from exc
        code = message.error_code
        return ProviderStatus(status=str(message.status), error_code=str(code) if code else None)


def classify(exc: Exception) -> TemporaryChannelError | PermanentChannelError:
    """The one place Twilio failures become retry-or-not."""
    if isinstance(exc, TwilioRestException):
        code = exc.code
        label = str(code or exc.status)
        if code in PERMANENT_CODES:
            return PermanentChannelError(
                f"Twilio {code}: {PERMANENT_CODES[code]}", code=label, opted_out=code == OPTED_OUT
            )
        if exc.status == 429 or code in SLOW_DOWN_CODES:
            return TemporaryChannelError(
                f"Twilio says too fast: HTTP {exc.status}", code=label, slow_down=True
            )
        if exc.status >= 500:
            return TemporaryChannelError(f"Twilio busy or failing: HTTP {exc.status}", code=label)
        return PermanentChannelError(f"Twilio refused the message: HTTP {exc.status}", code=label)
    if isinstance(exc, TwilioException):
        return TemporaryChannelError(f"Twilio client error: {type(exc).__name__}")
    # requests' ConnectionError and Timeout, or anything else on the way: not the
    # message's fault, so it is kept and retried.
    return TemporaryChannelError(f"Twilio unreachable: {type(exc).__name__}")


class BaseUrlHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio ships no types
    """The official client's requests sent to another base URL, Twilio's path and query kept.

    For a Twilio-compatible provider or a local mock of Twilio's API
    (channels.sms.api_base_url); a path in the base URL goes before Twilio's.
    """

    def __init__(self, base_url: str, *, timeout: float = HTTP_TIMEOUT_SECONDS) -> None:
        super().__init__(timeout=timeout)
        self.base = urlsplit(base_url)

    def rebase(self, url: str) -> str:
        parts = urlsplit(url)
        path = self.base.path.rstrip("/") + parts.path
        return urlunsplit((self.base.scheme, self.base.netloc, path, parts.query, ""))

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        return super().request(
            method,
            self.rebase(url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


def build_twilio_client(
    account_sid: str,
    auth_token: str,
    http_client: TwilioHttpClient | None = None,
    *,
    api_base_url: str = TWILIO_API_BASE_URL,
) -> Client:
    """The official client; `http_client`, when given, decides where requests go."""
    if http_client is None:
        http_client = (
            TwilioHttpClient(timeout=HTTP_TIMEOUT_SECONDS)
            if _is_twilio(api_base_url)
            else BaseUrlHttpClient(api_base_url)
        )
    return Client(account_sid, auth_token, http_client=http_client)


def _is_twilio(base_url: str) -> bool:
    # Twilio's own base, however written: the client's own URLs (with their regions and
    # edges, twilio.com/docs/global-infrastructure) are then left as they are.
    return base_url.rstrip("/") == TWILIO_API_BASE_URL
