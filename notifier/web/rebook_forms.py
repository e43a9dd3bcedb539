"""Reading the rebooking forms: the Choice a form asks for, or what is wrong with each field."""

from __future__ import annotations

from datetime import date
from typing import Any

from notifier.rebooking.choices import Choice
from notifier.untrusted import clean_line
from notifier.vocabulary import RebookOption

# Input limits of the free-text fields, in characters (the inputs' maxlength too).
TEXT_LIMITS = {"neighbour_name": 100, "neighbour_door": 100, "instructions": 300, "comment": 500}


def form_field(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def parse_choice(option: RebookOption, form: Any) -> tuple[Choice | None, dict[str, str]]:
    """The choice a form asks for, or what is wrong with each field."""
    errors: dict[str, str] = {}
    # What a recipient types reaches depot staff and couriers: one clean line each.
    text = {name: clean_line(form_field(form, name) or "").strip() for name in TEXT_LIMITS}
    for name, limit in TEXT_LIMITS.items():
        if len(text[name]) > limit:
            errors[name] = "too_long"
    if option in (RebookOption.SLOT, RebookOption.CALLBACK):
        day, _, window = (form_field(form, option) or "").partition("|")
        try:
            chosen = date.fromisoformat(day)
        except ValueError:
            errors[option] = "missing"
            return None, errors
        return (
            (None, errors)
            if errors
            else (Choice(kind=RebookOption(option), day=chosen, window=window), {})
        )
    if option == RebookOption.PICKUP:
        code = form_field(form, "pickup_point")
        if not code:
            errors["pickup_point"] = "missing"
        return (
            (None, errors) if errors else (Choice(kind=RebookOption.PICKUP, pickup_point=code), {})
        )
    if option == RebookOption.NEIGHBOUR:
        if not text["neighbour_name"]:
            errors["neighbour_name"] = "missing"
        if errors:
            return None, errors
        door = text["neighbour_door"] or None
        return Choice(
            kind=RebookOption.NEIGHBOUR, neighbour_name=text["neighbour_name"], neighbour_door=door
        ), {}
    if option == RebookOption.SAFE_PLACE:
        if not text["instructions"]:
            errors["instructions"] = "missing"
        if form_field(form, "accept") != "yes":
            errors["accept"] = "missing"
        if errors:
            return None, errors
        return Choice(kind=RebookOption.SAFE_PLACE, instructions=text["instructions"]), {}
    if errors:
        return None, errors
    return Choice(kind=RebookOption.DISPUTE, instructions=text["comment"] or None), {}
