"""Set-ups that load but will not work as meant: the warnings `notifier check-config` prints.

Each is a real configuration that a courier can run (the demo does), so none is an error;
each names the key to change and what goes wrong otherwise.
"""

from __future__ import annotations

import ipaddress

from notifier.config.fields import sender_kind
from notifier.config.settings import Settings
from notifier.errors import ConfigProblem


def setup_warnings(settings: Settings, *, source: str) -> list[ConfigProblem]:
    """Every pitfall of these settings (secrets as read from the environment)."""
    warnings: list[ConfigProblem] = []
    sms = settings.channels.sms
    uses_service = sms.messaging_service_sid is not None
    sender = sms.from_number
    if sms.replies and not uses_service and sender and sender_kind(sender) == "alphanumeric":
        warnings.append(
            ConfigProblem(
                source,
                "channels.sms.from_number",
                f"{sender!r} is an alphanumeric sender ID, which recipients cannot reply "
                "to, yet channels.sms.replies is true: use a number (E.164) or a Messaging "
                "Service with one, or set replies = false",
            )
        )
    if sms.transport != "twilio":
        return warnings
    if uses_service and sms.from_number:
        warnings.append(
            ConfigProblem(
                source,
                "channels.sms.from_number",
                "not used: messages go through channels.sms.messaging_service_sid, "
                "which picks the sender from its own pool",
            )
        )
    secrets = settings.secrets
    for name, value in (
        ("TWILIO_ACCOUNT_SID", secrets.twilio_account_sid),
        ("TWILIO_AUTH_TOKEN", secrets.twilio_auth_token),
    ):
        if value is None:
            warnings.append(
                ConfigProblem(
                    "environment",
                    name,
                    'not set: channels.sms.transport = "twilio" cannot start without it',
                )
            )
    public = settings.web.public_base_url
    if not _reachable_from_internet(public.host):
        warnings.append(
            ConfigProblem(
                source,
                "web.public_base_url",
                f"{public.host} cannot be reached from the internet, so Twilio's delivery "
                "receipts and SMS replies never arrive: give the public https:// address "
                "this service is reached at",
            )
        )
    elif public.scheme != "https":
        warnings.append(
            ConfigProblem(
                source,
                "web.public_base_url",
                "not https: Twilio would post delivery receipts and recipients' replies "
                "(phone numbers, their words) unencrypted; give the https:// address",
            )
        )
    api = sms.api_base_url
    if api.scheme != "https" and _reachable_from_internet(api.host):
        warnings.append(
            ConfigProblem(
                source,
                "channels.sms.api_base_url",
                "not https: every request would carry the Twilio credentials and the "
                "messages unencrypted across the network",
            )
        )
    return warnings


def _reachable_from_internet(host: str | None) -> bool:
    """False for loopback, private and link-local addresses and local-only names."""
    if not host:
        return False
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith((".localhost", ".local", ".internal")):
        return False
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return True  # a name: whether it resolves publicly is the deployment's business
    return address.is_global


# The ops pages hold every recipient's phone and address behind this one password: long
# enough that the login throttle (web/ops_login.py) leaves guessing hopeless.
MIN_OPS_PASSWORD = 12


def setup_errors(settings: Settings) -> list[ConfigProblem]:
    """Set-ups `notifier check-config` refuses (exit 2) though the settings load."""
    errors: list[ConfigProblem] = []
    password = settings.secrets.ops_password
    if password is not None and len(password.get_secret_value()) < MIN_OPS_PASSWORD:
        errors.append(
            ConfigProblem(
                "environment",
                "NOTIFIER_OPS_PASSWORD",
                f"shorter than {MIN_OPS_PASSWORD} characters: the ops pages show every "
                "recipient's phone and address; choose a longer one",
            )
        )
    return errors
