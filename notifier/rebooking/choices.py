"""The booking rules, pure: what a parcel's link may choose, which days and slots are offered,
and when a choice locks. The SQL that books a choice is in rebooking.py."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from notifier.config import Settings
from notifier.config.settings import Slot
from notifier.errors import NotifierError
from notifier.vocabulary import RebookOption, Status

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class SlotFullError(NotifierError):
    """This slot is full: choose another."""


class ChoiceLockedError(NotifierError):
    """The choice can no longer be changed."""

    def __init__(self, since: datetime | None = None) -> None:
        self.since = since  # when choices closed
        super().__init__()


class ParcelDoneError(NotifierError):
    """The parcel is delivered, going back or cancelled: there is nothing left to choose."""


class ChoiceInvalidError(NotifierError, ValueError):
    """A chosen value is not on offer."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(f"{field}: {reason}")


@dataclass(frozen=True, slots=True)
class Choice:
    """What the recipient asked for; the fields its kind uses are set."""

    kind: RebookOption
    day: date | None = None
    window: str | None = None
    pickup_point: str | None = None
    neighbour_name: str | None = None
    neighbour_door: str | None = None
    instructions: str | None = None


@dataclass(frozen=True, slots=True)
class Booked:
    """A stored choice, as the confirmation page shows it."""

    id: int
    choice: Choice
    created_at: datetime
    due_at: datetime | None
    replaced_at: datetime | None = None  # set once a newer choice took its place


@dataclass(frozen=True, slots=True)
class SlotOffer:
    day: date
    window: str
    left: int


def options_for(settings: Settings, depot: str | None) -> list[RebookOption]:
    """The options this depot offers (its own list, else [rebooking]), in the page's order."""
    place = next((d for d in settings.depots if d.code == depot), None)
    chosen = place.rebooking_options if place and place.rebooking_options is not None else None
    enabled = chosen if chosen is not None else settings.rebooking.options
    if not settings.pickup_points and not settings.depots:
        enabled = [o for o in enabled if o != RebookOption.PICKUP]
    return [o for o in RebookOption if o in enabled]


def slots_for(settings: Settings, depot: str | None) -> list[Slot]:
    place = next((d for d in settings.depots if d.code == depot), None)
    return list(place.slots) if place and place.slots is not None else settings.rebooking.slots


def offered_days(settings: Settings, now: datetime) -> list[date]:
    """The next working days whose change-until moment (the evening before) is still ahead."""
    tz = ZoneInfo(settings.company.timezone)
    day = now.astimezone(tz).date()
    found: list[date] = []
    while len(found) < settings.rebooking.days_ahead:
        day += timedelta(days=1)
        if _WEEKDAYS[day.weekday()] in settings.rebooking.working_days and (
            change_until(day, settings) > now
        ):
            found.append(day)
    return found


# Before the first attempt, the expected delivery day is the day the depot plans for.
_BEFORE_ANY_ATTEMPT = frozenset({Status.CREATED, Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY})


def attempt_day(
    status: Status, next_attempt: date | None, estimated_delivery: date | None
) -> date | None:
    """The day the next delivery round will carry the parcel, when known: the carrier's
    next attempt, or before any attempt the expected delivery day."""
    if next_attempt is not None:
        return next_attempt
    return estimated_delivery if status in _BEFORE_ANY_ATTEMPT else None


def change_until(day: date, settings: Settings) -> datetime:
    """The moment a choice acting on `day` locks: `change_until` on the evening before."""
    tz = ZoneInfo(settings.company.timezone)
    return datetime.combine(day - timedelta(days=1), settings.rebooking.change_until, tzinfo=tz)


def locked_since(
    booked: Booked, *, next_attempt: date | None, settings: Settings
) -> datetime | None:
    """When this choice stopped being changeable: the evening before the day it acts on."""
    day = booked.choice.day or next_attempt
    return None if day is None else change_until(day, settings)


def lock_moment(
    current: Booked | None, *, next_attempt: date | None, settings: Settings, now: datetime
) -> datetime | None:
    """When choosing closed, if it is closed at `now`; None while a choice can be made.

    A current choice locks the evening before the day it acts on. A first choice locks
    the evening before the next attempt as well: by then the depot's list for that round
    is printed. Once that attempt's day is over, it no longer binds a first choice (what
    happens next comes with the carrier's next event).
    """
    if current is not None:
        until = locked_since(current, next_attempt=next_attempt, settings=settings)
        return until if until is not None and now >= until else None
    if next_attempt is None:
        return None
    until = change_until(next_attempt, settings)
    tz = ZoneInfo(settings.company.timezone)
    attempt_over = datetime.combine(next_attempt + timedelta(days=1), time(0), tzinfo=tz)
    return until if until <= now < attempt_over else None


def choose_by(
    current: Booked | None, *, next_attempt: date | None, settings: Settings, now: datetime
) -> datetime | None:
    """Until when a choice can still be made or changed, while that moment is ahead: the
    evening before the day the current choice, or else the next attempt, acts on."""
    if current is not None:
        until = locked_since(current, next_attempt=next_attempt, settings=settings)
    else:
        until = change_until(next_attempt, settings) if next_attempt is not None else None
    return until if until is not None and until > now else None


def callback_due(choice: Choice, settings: Settings) -> datetime | None:
    """A callback is a promise, due at the start of its window (company time)."""
    if choice.kind != RebookOption.CALLBACK or choice.day is None or choice.window is None:
        return None
    start = time.fromisoformat(choice.window.split("-")[0])
    return datetime.combine(choice.day, start, tzinfo=ZoneInfo(settings.company.timezone))


def check_choice(
    choice: Choice,
    *,
    settings: Settings,
    depot: str | None,
    offers: Iterable[SlotOffer],
    now: datetime,
) -> None:
    """Raise ChoiceInvalidError unless the choice is one on offer for this parcel."""
    if choice.kind not in options_for(settings, depot):
        raise ChoiceInvalidError("option", "not offered for this parcel")
    if choice.kind == RebookOption.SLOT:
        if (choice.day, choice.window) not in {(o.day, o.window) for o in offers}:
            raise ChoiceInvalidError("slot", "not one of the days and times on offer")
    elif choice.kind == RebookOption.CALLBACK:
        if choice.day not in offered_days(settings, now) or (
            choice.window not in settings.rebooking.callback_windows
        ):
            raise ChoiceInvalidError("callback", "not one of the days and times on offer")
    elif choice.kind == RebookOption.PICKUP:
        codes = {p.code for p in settings.pickup_points} | {d.code for d in settings.depots}
        if choice.pickup_point not in codes:
            raise ChoiceInvalidError("pickup_point", "not one of the places on offer")
