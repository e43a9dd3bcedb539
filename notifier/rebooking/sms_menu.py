"""The options an SMS reply can book, each by its digit: one definition, read by the SMS that
numbers them and again by the reply that picks one, so a digit means what the SMS said.
Pure.

Digits are fixed per kind (1 a delivery slot, 2 a pickup point, 3 a callback): a depot
that offers no slots numbers its options 2 and 3, and "1" is never read as something else.
Each option is drawn from the missed delivery alone (its time, depot and pickup point), not
from the moment anyone reads it: the SMS sent at 08:00 after quiet hours and a reply at
noon see the same day and window. The SMS leaves out what has closed when it is sent;
at the reply, whether an option is still open is the booking's to say, by the page's rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from notifier.config import Settings
from notifier.config.settings import Slot
from notifier.rebooking.choices import (
    Choice,
    lock_moment,
    offered_days,
    options_for,
    slots_for,
)
from notifier.vocabulary import RebookOption

REPLY_OPTIONS_TEMPLATE = "reply_options"
DIGITS: dict[RebookOption, int] = {
    RebookOption.SLOT: 1,
    RebookOption.PICKUP: 2,
    RebookOption.CALLBACK: 3,
}
# The options SMS follows its missed delivery only while they stay open this long after
# it is due: one that closes meanwhile (the depot's list is printed at change_until) would
# offer what the first reply is refused.
STILL_OPEN_FOR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class MenuOption:
    digit: int
    choice: Choice


def menu_options(
    settings: Settings, *, depot: str | None, pickup_point: str | None, attempted_at: datetime
) -> list[MenuOption]:
    """What each digit books after the missed delivery at `attempted_at`, for this depot.

    1: the first day still open for choice after the attempt, in the depot's slot the
    driver came in (else the next one that day, else its first). 2: the pickup point the
    parcel already names, else the first configured one, else the depot. 3: a call back
    on that first day, in the first callback window.
    """
    if not (settings.channels.sms.replies and settings.rebooking.sms_reply_menu):
        return []
    offered = options_for(settings, depot)
    days = offered_days(settings, attempted_at)
    found: list[MenuOption] = []
    if RebookOption.SLOT in offered and days:
        slot = _slot_of(slots_for(settings, depot), attempted_at, settings)
        if slot is not None:
            choice = Choice(RebookOption.SLOT, day=days[0], window=slot.window)
            found.append(MenuOption(DIGITS[RebookOption.SLOT], choice))
    place = _pickup_place(settings, depot, pickup_point)
    if RebookOption.PICKUP in offered and place is not None:
        choice = Choice(RebookOption.PICKUP, pickup_point=place)
        found.append(MenuOption(DIGITS[RebookOption.PICKUP], choice))
    windows = settings.rebooking.callback_windows
    if RebookOption.CALLBACK in offered and days and windows:
        choice = Choice(RebookOption.CALLBACK, day=days[0], window=windows[0])
        found.append(MenuOption(DIGITS[RebookOption.CALLBACK], choice))
    return found


def open_options(
    options: Sequence[MenuOption],
    *,
    settings: Settings,
    next_attempt: date | None,
    now: datetime,
) -> list[MenuOption]:
    """Those an SMS may still number at `now`: none once choosing has closed for the next
    attempt, and none whose day is no longer on offer."""
    if lock_moment(None, next_attempt=next_attempt, settings=settings, now=now) is not None:
        return []
    days = set(offered_days(settings, now))
    return [o for o in options if o.choice.day is None or o.choice.day in days]


def follows_missed_delivery(
    settings: Settings,
    *,
    depot: str | None,
    pickup_point: str | None,
    attempted_at: datetime,
    next_attempt: date | None,
    due_at: datetime,
) -> bool:
    """Whether a missed delivery's SMS due at `due_at` is followed by the options SMS."""
    options = menu_options(
        settings, depot=depot, pickup_point=pickup_point, attempted_at=attempted_at
    )
    if not options:
        return False
    later = due_at + STILL_OPEN_FOR
    return bool(open_options(options, settings=settings, next_attempt=next_attempt, now=later))


def option_for(options: Sequence[MenuOption], digit: int) -> MenuOption | None:
    return next((o for o in options if o.digit == digit), None)


def _slot_of(slots: Sequence[Slot], attempted_at: datetime, settings: Settings) -> Slot | None:
    # "HH:MM" text compares as times do, and a window may end at "24:00".
    local = attempted_at.astimezone(ZoneInfo(settings.company.timezone)).strftime("%H:%M")
    for slot in slots:
        start, end = slot.window.split("-", 1)
        if start <= local < end:
            return slot
    later = sorted((s for s in slots if s.window[:5] > local), key=lambda s: s.window)
    return later[0] if later else (slots[0] if slots else None)


def _pickup_place(settings: Settings, depot: str | None, pickup_point: str | None) -> str | None:
    points = [p.code for p in settings.pickup_points]
    if pickup_point in points:
        return pickup_point
    if points:
        return points[0]
    depots = [d.code for d in settings.depots]
    return depot if depot in depots else (depots[0] if depots else None)
