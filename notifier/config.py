"""Settings: the TOML file's shape, its checks, and the secrets read from the environment."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from notifier import paths
from notifier.errors import ConfigError, ConfigProblem
from notifier.vocabulary import Reason, Status

# Keys people are tempted to put in the file; the message says where they belong instead.
SECRET_KEYS = {
    "account_sid": "TWILIO_ACCOUNT_SID",
    "auth_token": "TWILIO_AUTH_TOKEN",
    "password": "NOTIFIER_SMTP_PASSWORD",
    "smtp_password": "NOTIFIER_SMTP_PASSWORD",
    "secret_key": "NOTIFIER_SECRET_KEY",
    "api_key": "NOTIFIER_API_KEY",
    "api_keys": "NOTIFIER_API_KEY",
    "ops_password": "NOTIFIER_OPS_PASSWORD",
}


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name like 'Europe/Rome')"
        ) from exc
    return name


def _check_locale(tag: str) -> str:
    try:
        Locale.parse(tag)
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown locale {tag!r} (use a language tag like 'it' or 'en')") from exc
    return tag


def _check_region(code: str) -> str:
    if code.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region {code!r} (use an ISO 3166 code like 'IT')")
    return code.upper()


def _check_email(address: str) -> str:
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from exc


_HOURS_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


def _check_hours(text: str) -> str:
    """Opening hours of one day: 'closed' or ranges like '08:30-12:30, 14:00-19:30'."""
    if text.strip().lower() == "closed":
        return "closed"
    for part in text.split(","):
        match = _HOURS_RANGE.match(part.strip())
        if not match:
            raise ValueError(f"{text!r} is not 'closed' or ranges like '08:30-12:30, 14:00-19:30'")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if not (h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60 and (h1, m1) < (h2, m2)):
            raise ValueError(f"{part.strip()!r} is not a valid time range")
    return ", ".join(p.strip() for p in text.split(","))


_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def _check_window(text: str) -> str:
    """A time window of one day: '09:00-13:00'."""
    match = _WINDOW.match(text.strip())
    if not match or match.group(1) + match.group(2) >= match.group(3) + match.group(4):
        raise ValueError(f"{text!r} is not a time window like '09:00-13:00'")
    return text.strip()


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]
TimeWindow = Annotated[str, AfterValidator(_check_window)]
LocaleTag = Annotated[str, AfterValidator(_check_locale)]
PhoneRegion = Annotated[str, AfterValidator(_check_region)]
EmailAddress = Annotated[str, AfterValidator(_check_email)]
DayHours = Annotated[str, AfterValidator(_check_hours)]
NonEmpty = Annotated[str, Field(min_length=1)]
ChannelName = Literal["sms", "email"]
DEFAULT_CHANNELS: tuple[ChannelName, ...] = ("sms", "email")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpeningHours(_Section):
    """Per weekday; a day left out is closed."""

    mon: DayHours | None = None
    tue: DayHours | None = None
    wed: DayHours | None = None
    thu: DayHours | None = None
    fri: DayHours | None = None
    sat: DayHours | None = None
    sun: DayHours | None = None


class Company(_Section):
    name: NonEmpty
    # Before phone: the phone check reads it (pydantic validates in declaration order).
    default_phone_region: PhoneRegion = "IT"
    phone: NonEmpty
    phone_hours: NonEmpty
    email: EmailAddress
    website: AnyHttpUrl
    rebooking_base_url: AnyHttpUrl
    default_locale: LocaleTag = "it"
    timezone: TimeZoneName = "Europe/Rome"

    @field_validator("phone")
    @classmethod
    def _phone_is_dialable(cls, value: str, info: ValidationInfo) -> str:
        region = info.data.get("default_phone_region", "IT")
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException as exc:
            raise ValueError(f"{value!r} is not a phone number ({exc})") from exc
        if not phonenumbers.is_valid_number(number):
            raise ValueError(f"{value!r} is not a valid phone number")
        return value


class Database(_Section):
    url: NonEmpty = "sqlite:///notifier.db"

    @field_validator("url")
    @classmethod
    def _url_is_supported(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"{value!r} is not a database URL") from exc
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError("only sqlite:/// and postgresql:// URLs are supported")
        return value


class Api(_Section):
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)


class Web(_Section):
    # Where notifier itself is reached from outside: Twilio's status callbacks and the
    # unsubscribe links in emails are built on it, never on a request's Host header.
    public_base_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8000")

    def url(self, path: str) -> str:
        return str(self.public_base_url).rstrip("/") + "/" + path.lstrip("/")


class Dispatch(_Section):
    interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    batch_size: int = Field(default=50, ge=1, le=1000)
    # A worker that dies mid-send frees its rows when the lease ends; it must outlast
    # the slowest provider call (SMTP timeout) with room to spare.
    lease_seconds: int = Field(default=120, ge=10)
    max_attempts: int = Field(default=8, ge=1, le=50)
    retry_base_seconds: int = Field(default=30, ge=1)
    retry_max_seconds: int = Field(default=3600, ge=1)


class Ingest(_Section):
    batch_size: int = Field(default=500, ge=1, le=10_000)
    reopen_after_days: int = Field(default=60, ge=1)

    @property
    def reopen_after(self) -> timedelta:
        return timedelta(days=self.reopen_after_days)


class SmsChannel(_Section):
    transport: Literal["console", "twilio"] = "console"
    from_number: str | None = None
    messaging_service_sid: Annotated[str, Field(pattern=r"^MG[0-9a-fA-F]{32}$")] | None = None

    @model_validator(mode="after")
    def _twilio_has_a_sender(self) -> SmsChannel:
        if self.transport == "twilio" and not (self.from_number or self.messaging_service_sid):
            raise ValueError("twilio needs from_number or messaging_service_sid")
        return self


class EmailChannel(_Section):
    transport: Literal["console", "smtp"] = "console"
    from_address: EmailAddress = "notifier@localhost.localdomain"
    from_name: str = ""
    host: str = "localhost"
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    timeout_seconds: float = Field(default=15.0, gt=0)


class Channels(_Section):
    sms: SmsChannel = SmsChannel()
    email: EmailChannel = EmailChannel()


class QuietHours(_Section):
    """Local to the recipient; a start later than the end spans midnight."""

    start: time = time(21, 0)
    end: time = time(8, 0)


class Notifications(_Section):
    # An event older than this when it reaches us (a backfill, a replayed file) is stored
    # but tells nobody anything: the news is stale.
    max_event_age_hours: int = Field(default=48, ge=1)
    # The same status again within this window (a second "out for delivery" scan) does
    # not message again; a second missed delivery the next day does.
    repeat_after_hours: int = Field(default=12, ge=0)
    # Local time at which reminders for a date (pickup deadline) go out.
    reminder_time: time = time(10, 0)


RebookOption = Literal["slot", "pickup", "neighbour", "safe_place", "callback", "dispute"]
ALL_REBOOK_OPTIONS: tuple[RebookOption, ...] = (
    "slot",
    "pickup",
    "neighbour",
    "safe_place",
    "callback",
    "dispute",
)
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_MON_TO_SAT: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat")


class Slot(_Section):
    window: TimeWindow
    # Deliveries a depot's rounds can take in that window on one day.
    capacity: int = Field(ge=0, le=100_000)


class Place(_Section):
    code: NonEmpty
    name: NonEmpty
    address: NonEmpty
    phone: str | None = None
    email: EmailAddress | None = None
    hours: OpeningHours = OpeningHours()


class Depot(Place):
    # Unset: the [rebooking] defaults.
    rebooking_options: list[RebookOption] | None = None
    slots: list[Slot] | None = None


class PickupPoint(Place):
    kind: Literal["pickup_point", "locker", "depot"] = "pickup_point"


class RuleOverride(_Section):
    """Per-reason changes to a status rule; unset fields keep the status rule's value."""

    enabled: bool | None = None
    channels: list[ChannelName] | None = None
    template: str | None = None


class Rule(_Section):
    enabled: bool = True
    # In order of preference: the first with a valid contact is used, the next is the
    # fallback when it fails permanently (design section 6).
    channels: list[ChannelName] = Field(default_factory=lambda: list(DEFAULT_CHANNELS))
    template: NonEmpty
    purpose: NonEmpty
    delay_minutes: int = Field(default=0, ge=0)
    reminder_after_hours: int | None = Field(default=None, ge=1)
    reminder_days_before_deadline: int | None = Field(default=None, ge=1)
    reminder_template: str | None = None
    reasons: dict[Reason, RuleOverride] = Field(default_factory=dict)


DEFAULT_RULES: dict[Status, dict[str, Any]] = {
    Status.CREATED: {"template": "created", "purpose": "parcel_received"},
    # Held briefly so that a DELIVERED arriving soon after replaces it.
    Status.OUT_FOR_DELIVERY: {
        "template": "out_for_delivery",
        "purpose": "arriving_today",
        "delay_minutes": 5,
    },
    Status.DELIVERY_ATTEMPTED: {
        "template": "missed_delivery",
        "purpose": "missed_delivery",
        "reminder_after_hours": 24,
        "reminder_template": "missed_delivery_reminder",
        "reasons": {Reason.PAYMENT_REQUIRED: {"template": "missed_delivery_payment"}},
    },
    Status.AVAILABLE_FOR_PICKUP: {
        "template": "ready_for_pickup",
        "purpose": "ready_for_pickup",
        "reminder_days_before_deadline": 2,
        "reminder_template": "pickup_reminder",
    },
    Status.DELIVERED: {"template": "delivered", "purpose": "delivered"},
    Status.EXCEPTION: {"template": "exception", "purpose": "exception"},
    Status.RETURNING: {"template": "returning", "purpose": "returning"},
}


class Templates(_Section):
    override_dir: Path | None = None


class Rebooking(_Section):
    """What the rebooking page offers (per depot where the depot says otherwise)."""

    options: list[RebookOption] = Field(default_factory=lambda: list(ALL_REBOOK_OPTIONS))
    days_ahead: int = Field(default=5, ge=1, le=30)
    working_days: list[Weekday] = Field(default_factory=lambda: list(_MON_TO_SAT), min_length=1)
    slots: list[Slot] = Field(
        default_factory=lambda: [
            Slot(window="09:00-13:00", capacity=40),
            Slot(window="14:00-18:00", capacity=40),
        ],
        min_length=1,
    )
    # A choice can be changed until this local time on the day before it takes effect.
    change_until: time = time(18, 0)
    callback_windows: list[TimeWindow] = Field(
        default_factory=lambda: ["09:00-12:00", "14:00-17:00"], min_length=1
    )
    # Shown beside the safe-place form, per language: ops' legal wording.
    safe_place_notice: dict[str, str] = Field(
        default_factory=lambda: {
            "it": "Lasciando il pacco nel luogo indicato, la consegna si considera "
            "effettuata e il corriere non risponde di furti o danni successivi.",
            "en": "Once the parcel is left where you say, it counts as delivered and the "
            "courier is not liable for later theft or damage.",
        }
    )


class Links(_Section):
    # A rebooking link lives until the parcel leaves the depot's hold (the event's
    # held_until, end of that day); without a hold date, this many days after the attempt.
    valid_days: int = Field(default=14, ge=1, le=90)


class Slips(_Section):
    # A second language block under the recipient's own (tourist areas, border regions).
    second_locale: LocaleTag | None = None
    # Printed size of the QR code's side, quiet zone included; design minimum 30 mm.
    qr_size_mm: float = Field(default=34.0, ge=30.0, le=60.0)


class Secrets(BaseModel):
    """Read only from the environment, never from the file."""

    model_config = ConfigDict(frozen=True)

    twilio_account_sid: SecretStr | None = None
    twilio_auth_token: SecretStr | None = None
    smtp_password: SecretStr | None = None
    secret_key: SecretStr | None = None
    api_keys: tuple[SecretStr, ...] = ()
    ops_password: SecretStr | None = None

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Secrets:
        def get(name: str) -> SecretStr | None:
            value = env.get(name, "").strip()
            return SecretStr(value) if value else None

        keys = [k.strip() for k in env.get("NOTIFIER_API_KEY", "").split(",") if k.strip()]
        return cls(
            twilio_account_sid=get("TWILIO_ACCOUNT_SID"),
            twilio_auth_token=get("TWILIO_AUTH_TOKEN"),
            smtp_password=get("NOTIFIER_SMTP_PASSWORD"),
            secret_key=get("NOTIFIER_SECRET_KEY"),
            api_keys=tuple(SecretStr(k) for k in keys),
            ops_password=get("NOTIFIER_OPS_PASSWORD"),
        )


class Settings(_Section):
    company: Company
    database: Database = Database()
    web: Web = Web()
    api: Api = Api()
    ingest: Ingest = Ingest()
    dispatch: Dispatch = Dispatch()
    channels: Channels = Channels()
    quiet_hours: QuietHours = QuietHours()
    notifications: Notifications = Notifications()
    depots: list[Depot] = Field(default_factory=list)
    pickup_points: list[PickupPoint] = Field(default_factory=list)
    rules: dict[Status, Rule] = Field(default_factory=dict, validate_default=True)
    templates: Templates = Templates()
    links: Links = Links()
    rebooking: Rebooking = Rebooking()
    slips: Slips = Slips()
    secrets: Secrets = Field(default_factory=Secrets, exclude=True)

    @field_validator("rules", mode="before")
    @classmethod
    def _merge_default_rules(cls, value: Any) -> Any:
        """Ops write only what they change; every other field keeps its default."""
        if not isinstance(value, dict):
            return value
        merged: dict[Any, Any] = {status: dict(rule) for status, rule in DEFAULT_RULES.items()}
        for status, rule in value.items():
            base = merged.get(status, {})
            if not isinstance(rule, dict):
                merged[status] = rule
                continue
            merged[status] = {**base, **rule}
            if isinstance(rule.get("reasons"), dict):
                merged[status]["reasons"] = {**base.get("reasons", {}), **rule["reasons"]}
        return merged

    @model_validator(mode="after")
    def _codes_are_unique(self) -> Settings:
        for name, places in (("depots", self.depots), ("pickup_points", self.pickup_points)):
            codes = [p.code for p in places]
            duplicated = sorted({c for c in codes if codes.count(c) > 1})
            if duplicated:
                raise ValueError(f"{name}: codes used twice: {', '.join(duplicated)}")
        return self


def find_config_path(explicit: Path | None, env: Mapping[str, str]) -> Path:
    """--config, else NOTIFIER_CONFIG, else ./config.toml, else the shipped example."""
    if explicit is not None:
        return explicit
    if env.get("NOTIFIER_CONFIG"):
        return Path(env["NOTIFIER_CONFIG"])
    local = Path("config.toml")
    if local.is_file():
        return local
    return paths.example_config()


def load_settings(path: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Read and check a TOML file; raise ConfigError listing every problem found."""
    env = os.environ if env is None else env
    source = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError([ConfigProblem(source, "-", "file not found")]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(source, "-", f"cannot read: {exc}")]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigProblem(source, "-", f"not valid TOML: {exc}")]) from exc
    return settings_from_data(data, source=source, env=env, base_dir=path.parent)


def settings_from_data(
    data: dict[str, Any], *, source: str, env: Mapping[str, str], base_dir: Path
) -> Settings:
    if "secrets" in data:
        raise ConfigError([ConfigProblem(source, "secrets", "secrets come from the environment")])
    if env.get("NOTIFIER_DATABASE_URL"):
        data["database"] = {**data.get("database", {}), "url": env["NOTIFIER_DATABASE_URL"]}
    override = data.get("templates", {}).get("override_dir")
    if isinstance(override, str) and override:
        data["templates"]["override_dir"] = str(base_dir / override)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_problem(source, err) for err in exc.errors()]) from exc
    problems = _check_paths(settings, source)
    if problems:
        raise ConfigError(problems)
    return settings.model_copy(update={"secrets": Secrets.from_environment(env)})


def _check_paths(settings: Settings, source: str) -> list[ConfigProblem]:
    override = settings.templates.override_dir
    if override is not None and not override.is_dir():
        return [ConfigProblem(source, "templates.override_dir", f"{override} is not a directory")]
    return []


def _problem(source: str, error: Any) -> ConfigProblem:
    loc = [str(part) for part in error["loc"] if part not in ("function-after", "[key]")]
    key = ".".join(loc) or "-"
    kind = error["type"]
    last = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        if last in SECRET_KEYS:
            problem = f"secrets are read only from the environment: set {SECRET_KEYS[last]}"
        else:
            problem = "unknown key"
    elif kind == "missing":
        problem = "required key is missing"
    elif kind == "enum" and len(loc) >= 2 and loc[0] == "rules":
        problem = f"{error['input']!r} is not a status or reason ({error['ctx']['expected']})"
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
        problem = f"{message} (got {error['input']!r})" if kind != "value_error" else message
    return ConfigProblem(source, key, problem)
