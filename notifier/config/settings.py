"""The TOML file's shape: one pydantic model per section, and the secrets from the environment."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import phonenumbers
from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from notifier.config.defaults import (
    DEFAULT_RULES,
    DEFAULT_SAFE_PLACE_NOTICE,
    DEFAULT_SLOTS,
    MON_TO_SAT,
    Weekday,
)
from notifier.config.feedback import Feedback
from notifier.config.fields import (
    DayHours,
    EmailAddress,
    LocaleTag,
    NonEmpty,
    PhoneRegion,
    SmsSender,
    TimeWindow,
    TimeZoneName,
)
from notifier.config.logs import Logging
from notifier.config.prices import SmsPrice
from notifier.config.privacy import Privacy
from notifier.config.secrets import Secrets
from notifier.errors import SecretKeyMissingError
from notifier.purposes import RULE_PURPOSES, Purpose
from notifier.vocabulary import Channel, Reason, RebookOption, Status


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
    # When the phone answers, per weekday like a depot's hours: messages, pages and slips
    # say it in the recipient's language ("lun–ven 08:00–20:00" / "Mon–Fri 08:00–20:00").
    phone_hours: OpeningHours
    email: EmailAddress
    website: AnyHttpUrl
    rebooking_base_url: AnyHttpUrl
    default_locale: LocaleTag = "it"
    timezone: TimeZoneName = "Europe/Rome"

    @field_validator("phone_hours")
    @classmethod
    def _phone_answers_some_day(cls, value: OpeningHours) -> OpeningHours:
        if all(getattr(value, day) in (None, "closed") for day in OpeningHours.model_fields):
            raise ValueError('give the hours of at least one day, e.g. mon = "08:00-20:00"')
        return value

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
    # How long a transaction waits for another writer's lock (SQLite's busy timeout,
    # PostgreSQL's lock_timeout) and for a free pooled connection, before the web answers
    # 503 with Retry-After: a sender retries a 503, while a hung request loses its event.
    lock_timeout_seconds: float = Field(default=5.0, ge=0.5, le=60.0)
    # PostgreSQL: the longest any one statement of the service may run.
    statement_timeout_seconds: float = Field(default=15.0, ge=1.0, le=600.0)

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
    # Where notifier itself is reached from outside; public URLs are built on it (urls.py),
    # never on a request's Host header.
    public_base_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8000")
    # Who may read GET /metrics (config.example.toml says what each allows).
    metrics: Literal["off", "loopback", "ops", "open"] = "loopback"
    # Where the pages' rate limits count: this process, or Redis shared by every replica.
    rate_limit_storage: Annotated[str, Field(pattern=r"^(memory://|rediss?://\S+)$")] = "memory://"
    # The proxies whose X-Forwarded-For names the client (uvicorn's forwarded_allow_ips);
    # a request from anywhere else is its own client, whatever it claims.
    trusted_proxies: list[str] = ["127.0.0.1"]


class Dispatch(_Section):
    # The safety net: a worker looks for due rows this often even when nothing woke it
    # (an enqueue wakes it at once: LISTEN/NOTIFY on PostgreSQL, in-process on SQLite).
    interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    batch_size: int = Field(default=50, ge=1, le=1000)
    # Sends in flight at once in one worker (threads: the Twilio and SMTP clients block);
    # `notifier worker --concurrency N` overrides it. The database pool grows with it.
    concurrency: int = Field(default=1, ge=1, le=64)
    # A worker that dies mid-send frees its rows when the lease ends; it must outlast
    # the slowest provider call (SMTP timeout) with room to spare.
    lease_seconds: int = Field(default=120, ge=10)
    max_attempts: int = Field(default=8, ge=1, le=50)
    retry_base_seconds: int = Field(default=30, ge=1)
    retry_max_seconds: int = Field(default=3600, ge=1)


class Ingest(_Section):
    batch_size: int = Field(default=500, ge=1, le=10_000)
    reopen_after_days: int = Field(default=60, ge=1)
    # The folder the worker watches for dropped files (ingest/inbox.py); unset, no watch.
    # A relative path is resolved against the config file's folder at loading.
    inbox_dir: Path | None = None
    # A file is taken once its size and time stayed the same this long, or at once when
    # `<name>.done` stands beside it: longer than the writer's longest pause.
    inbox_stable_seconds: float = Field(default=10.0, ge=1, le=3600)
    inbox_interval_seconds: float = Field(default=15.0, ge=1, le=3600)

    @field_validator("inbox_dir", mode="before")
    @classmethod
    def _inbox_dir_is_named(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("name the inbox folder, or leave the key out to watch none")
        return value

    @property
    def reopen_after(self) -> timedelta:
        return timedelta(days=self.reopen_after_days)

    @property
    def inbox_stable(self) -> timedelta:
        return timedelta(seconds=self.inbox_stable_seconds)


TWILIO_API_BASE_URL = "https://api.twilio.com"


class SmsChannel(_Section):
    transport: Literal["console", "twilio"] = "console"
    from_number: SmsSender | None = None
    messaging_service_sid: Annotated[str, Field(pattern=r"^MG[0-9a-fA-F]{32}$")] | None = None
    # Whether messages invite an answer by SMS and answers are replied to. An alphanumeric
    # sender cannot receive them: `notifier check-config` warns (config/pitfalls.py).
    replies: bool = True
    # The sender's pace, kept across every worker (outbox/pace.py): a US long code takes
    # 1 a second, a toll-free number 3, a short code 100; unset, no pacing of our own.
    max_per_second: float | None = Field(default=None, gt=0, le=1000)
    # Where the official client sends its requests: a Twilio-compatible provider, or a
    # local mock of Twilio's API. Path and query stay Twilio's.
    api_base_url: AnyHttpUrl = AnyHttpUrl(TWILIO_API_BASE_URL)
    # Twilio retries a status callback only once: a message still `sent` this long after
    # Twilio took it is asked about, again every receipt_recheck_hours, at most
    # receipt_max_checks times; then it stays `sent` (some networks never report back).
    receipt_deadline_minutes: int = Field(default=30, ge=1, le=24 * 60)
    receipt_recheck_hours: int = Field(default=12, ge=1, le=72)
    receipt_max_checks: int = Field(default=4, ge=0, le=20)
    # Twilio 30003, handset unreachable (switched off, out of coverage), often passes: the
    # same SMS goes again this many times, this many hours apart and never in quiet hours,
    # before the rule's next channel takes over.
    unreachable_retries: int = Field(default=2, ge=0, le=5)
    unreachable_retry_hours: int = Field(default=4, ge=1, le=48)

    @field_validator("api_base_url")
    @classmethod
    def _base_url_is_a_base(cls, value: AnyHttpUrl) -> AnyHttpUrl:
        if value.query or value.fragment:
            raise ValueError("a base URL takes no query or fragment")
        return value

    @model_validator(mode="after")
    def _twilio_has_a_sender(self) -> SmsChannel:
        if self.transport == "twilio" and not (self.from_number or self.messaging_service_sid):
            raise ValueError("twilio needs from_number or messaging_service_sid")
        return self

    @property
    def receipt_deadline(self) -> timedelta:
        return timedelta(minutes=self.receipt_deadline_minutes)

    @property
    def receipt_recheck(self) -> timedelta:
        return timedelta(hours=self.receipt_recheck_hours)


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


class LabelPrinter(_Section):
    """A Zebra-compatible mobile printer's media: the handheld prints the slip at the door."""

    # Media width: 2", 3" or 4" printers (about 48, 72 and 104 mm printable).
    width_mm: float = Field(default=72.0, ge=48.0, le=104.0)
    dpi: Literal[203, 300] = 203


class Depot(Place):
    # Unset: the [rebooking] defaults.
    rebooking_options: list[RebookOption] | None = None
    slots: list[Slot] | None = None
    # Unset: [slips.label_printer].
    label_printer: LabelPrinter | None = None


class PickupPoint(Place):
    kind: Literal["pickup_point", "locker", "depot"] = "pickup_point"


class RuleOverride(_Section):
    """Per-reason changes to a status rule; unset fields keep the status rule's value."""

    enabled: bool | None = None
    channels: list[Channel] | None = None
    template: str | None = None


class Rule(_Section):
    enabled: bool = True
    # In order of preference: the first with a valid contact is used, the next is the
    # fallback when it fails permanently (design section 6).
    channels: list[Channel] = Field(default_factory=lambda: list(Channel))
    template: NonEmpty
    # One of the built-in status purposes (purposes.RULE_PURPOSES): a purpose is how a
    # message is recognised again (never twice), so ops cannot invent one.
    purpose: Purpose
    delay_minutes: int = Field(default=0, ge=0)
    reminder_after_hours: int | None = Field(default=None, ge=1)
    reminder_days_before_deadline: int | None = Field(default=None, ge=1)
    reminder_template: str | None = None
    reasons: dict[Reason, RuleOverride] = Field(default_factory=dict)

    @field_validator("purpose", mode="before")
    @classmethod
    def _purpose_is_a_status_purpose(cls, value: Any) -> Any:
        if value not in RULE_PURPOSES:
            allowed = ", ".join(p.value for p in RULE_PURPOSES)
            raise ValueError(f"{value!r} is not a status rule's purpose: use one of {allowed}")
        return value


class Templates(_Section):
    override_dir: Path | None = None
    # `notifier templates check` fails an SMS that needs more segments than this.
    sms_max_segments: int = Field(default=2, ge=1, le=10)
    sms_price: SmsPrice | None = None  # GET /ops/templates shows each SMS's cost


class Rebooking(_Section):
    """What the rebooking page offers (per depot where the depot says otherwise)."""

    options: list[RebookOption] = Field(default_factory=lambda: list(RebookOption))
    days_ahead: int = Field(default=5, ge=1, le=30)
    working_days: list[Weekday] = Field(default_factory=lambda: list(MON_TO_SAT), min_length=1)
    slots: list[Slot] = Field(
        default_factory=lambda: [Slot(window=w, capacity=c) for w, c in DEFAULT_SLOTS],
        min_length=1,
    )
    # A choice can be changed until this local time on the day before it takes effect.
    change_until: time = time(18, 0)
    callback_windows: list[TimeWindow] = Field(
        default_factory=lambda: ["09:00-12:00", "14:00-17:00"], min_length=1
    )
    # Shown beside the safe-place form, per language: ops' legal wording.
    safe_place_notice: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_SAFE_PLACE_NOTICE)
    )
    # A missed delivery's SMS is followed by a second one numbering what a reply books
    # (1 a slot, 2 a pickup point, 3 a callback: those the depot offers), for recipients
    # without a smartphone (rebooking/sms_menu.py). One more SMS per missed delivery, so
    # off unless ops turn it on; it needs channels.sms.replies.
    sms_reply_menu: bool = False


class Links(_Section):
    # A rebooking link lives until the parcel leaves the depot's hold (the event's
    # held_until, end of that day); without a hold date, this many days after the attempt.
    valid_days: int = Field(default=14, ge=1, le=90)


class Slips(_Section):
    # A second language block under the recipient's own (tourist areas, border regions).
    second_locale: LocaleTag | None = None
    # Printed size of the QR code's side, quiet zone included; design minimum 30 mm.
    qr_size_mm: float = Field(default=34.0, ge=30.0, le=60.0)
    # A held parcel's final notice (avviso di giacenza) is printed this many days before
    # its held_until, the day it goes back to the sender.
    final_notice_days: int = Field(default=3, ge=1, le=30)
    # The drivers' label printers, unless a depot names its own.
    label_printer: LabelPrinter = LabelPrinter()


class Promises(_Section):
    """What the promise watch does when a broken callback is still not made."""

    # Unset: a broken callback's depot alert is the only one.
    supervisor_email: EmailAddress | None = None
    # Hours after a callback's window ended, with the call still not marked made, before
    # the supervisor hears of it (once).
    escalate_after_hours: int = Field(default=4, ge=1, le=72)


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
    promises: Promises = Promises()
    logging: Logging = Logging()
    privacy: Privacy = Privacy()
    feedback: Feedback = Feedback()
    secrets: Secrets = Field(default_factory=Secrets, exclude=True)

    @property
    def link_key(self) -> bytes:
        """The key rebooking links and form tokens are derived from (resolved at loading)."""
        key = self.secrets.secret_key
        if key is None:
            raise SecretKeyMissingError(
                "set NOTIFIER_SECRET_KEY (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`): rebooking links are derived from it"
            )
        return key.get_secret_value().encode()

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
