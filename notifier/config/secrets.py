"""Secrets: read only from the environment, never from the configuration file."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, SecretStr

# The aggregators whose webhooks notifier takes (carriers/ has a parser for each).
AGGREGATORS = ("karrio", "easypost", "aftership", "shippo")
WEBHOOK_SECRET_ENV = "NOTIFIER_WEBHOOK_SECRET_"  # noqa: S105 (a variable's name)


class Secrets(BaseModel):
    """Read only from the environment, never from the file."""

    model_config = ConfigDict(frozen=True)

    twilio_account_sid: SecretStr | None = None
    twilio_auth_token: SecretStr | None = None
    smtp_password: SecretStr | None = None
    secret_key: SecretStr | None = None
    api_keys: tuple[SecretStr, ...] = ()
    ops_password: SecretStr | None = None
    # Per aggregator (karrio, easypost, aftership, shippo): its webhook's secrets, from
    # NOTIFIER_WEBHOOK_SECRET_<NAME>; several, comma-separated, while one replaces another.
    webhook_secrets: Mapping[str, tuple[SecretStr, ...]] = {}

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Secrets:
        def get(name: str) -> SecretStr | None:
            value = env.get(name, "").strip()
            return SecretStr(value) if value else None

        def listed(name: str) -> tuple[SecretStr, ...]:
            return tuple(SecretStr(k.strip()) for k in env.get(name, "").split(",") if k.strip())

        hooks = {name: listed(f"{WEBHOOK_SECRET_ENV}{name.upper()}") for name in AGGREGATORS}
        return cls(
            twilio_account_sid=get("TWILIO_ACCOUNT_SID"),
            twilio_auth_token=get("TWILIO_AUTH_TOKEN"),
            smtp_password=get("NOTIFIER_SMTP_PASSWORD"),
            secret_key=get("NOTIFIER_SECRET_KEY"),
            api_keys=listed("NOTIFIER_API_KEY"),
            ops_password=get("NOTIFIER_OPS_PASSWORD"),
            webhook_secrets={name: keys for name, keys in hooks.items() if keys},
        )
