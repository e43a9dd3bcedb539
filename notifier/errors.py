"""The exception tree: every error notifier raises on purpose derives from NotifierError.

NotifierError
├── ConfigError                  configuration file or environment is unusable
├── SchemaOutOfDateError         database schema behind the code's migrations
├── DatabaseUnavailableError     cannot reach the database
├── SecretKeyMissingError        no NOTIFIER_SECRET_KEY where links need one
├── ExternalResourceError (ValueError)  a slip template asked for a URL outside the document
├── EventRejectedError (ValueError)   one event failed validation (carries field errors)
├── InputFormatError (ValueError)     a whole input is unreadable (bad JSON, bad CSV header)
└── RequestTooLargeError         an API body over the configured limit
"""

from __future__ import annotations

from dataclasses import dataclass


class NotifierError(Exception):
    """notifier failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in a configuration source: where it is and what is wrong."""

    source: str  # file path, or "environment"
    key: str  # dotted path, e.g. "company.timezone"
    problem: str

    def __str__(self) -> str:
        return f"{self.source}: {self.key}: {self.problem}"


class ConfigError(NotifierError):
    """The configuration is invalid."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class SchemaOutOfDateError(NotifierError):
    """The database schema is not at the version this notifier needs."""


class SecretKeyMissingError(NotifierError):
    """NOTIFIER_SECRET_KEY is not set."""


class ExternalResourceError(NotifierError, ValueError):
    """A slip template asked for a resource outside the document; slips use none."""


class DatabaseUnavailableError(NotifierError):
    """The database cannot be reached."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """Why one field of one event was refused."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class EventRejectedError(NotifierError, ValueError):
    """The event is invalid."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


class InputFormatError(NotifierError, ValueError):
    """The input cannot be read in the expected format."""


class RequestTooLargeError(NotifierError):
    """The request body is larger than the configured limit."""


class DuplicateMessageError(NotifierError):
    """An outbox message with the same (shipment, event, channel, purpose) already exists."""


class TemplateMissingError(NotifierError):
    """A message template is missing or incomplete."""


class ChannelError(NotifierError):
    """The channel could not hand the message to its provider."""

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        self.code = code  # the provider's own error code, e.g. Twilio "21211", SMTP "550"
        super().__init__(message)


class TemporaryChannelError(ChannelError):
    """The provider could not take the message now; it may later."""

    def __init__(
        self, message: str | None = None, *, code: str | None = None, slow_down: bool = False
    ) -> None:
        # The provider said the sender goes too fast (Twilio 20429, HTTP 429, a full
        # queue): the sender's pace is held back for every worker, not just this row.
        self.slow_down = slow_down
        super().__init__(message, code=code)


class PermanentChannelError(ChannelError):
    """The provider refused the message for good; retrying cannot help."""

    def __init__(
        self, message: str | None = None, *, code: str | None = None, opted_out: bool = False
    ) -> None:
        # The recipient asked not to be messaged on this address (Twilio 21610): record
        # it, so nothing else is sent there until they opt back in.
        self.opted_out = opted_out
        super().__init__(message, code=code)
