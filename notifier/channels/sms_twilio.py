"""SMS through Twilio's Messages API, with the official client injected."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from notifier.channels.base import OutgoingMessage, SendResult
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


def classify(exc: Exception) -> TemporaryChannelError | PermanentChannelError:
    """The one place Twilio failures become retry-or-not."""
    if isinstance(exc, TwilioRestException):
        code = exc.code
        label = str(code or exc.status)
        if code in PERMANENT_CODES:
            return PermanentChannelError(
                f"Twilio {code}: {PERMANENT_CODES[code]}", code=label, opted_out=code == OPTED_OUT
            )
        if exc.status == 429 or code == TOO_MANY_REQUESTS or exc.status >= 500:
            return TemporaryChannelError(f"Twilio busy or failing: HTTP {exc.status}", code=label)
        return PermanentChannelError(f"Twilio refused the message: HTTP {exc.status}", code=label)
    if isinstance(exc, TwilioException):
        return TemporaryChannelError(f"Twilio client error: {type(exc).__name__}")
    # requests' ConnectionError and Timeout, or anything else on the way: not the
    # message's fault, so it is kept and retried.
    return TemporaryChannelError(f"Twilio unreachable: {type(exc).__name__}")


def build_twilio_client(
    account_sid: str, auth_token: str, http_client: TwilioHttpClient | None = None
) -> Client:
    client = http_client or TwilioHttpClient(timeout=HTTP_TIMEOUT_SECONDS)
    return Client(account_sid, auth_token, http_client=client)
