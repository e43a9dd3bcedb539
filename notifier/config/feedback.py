"""The [feedback] section: whether a delivered parcel's message asks how the delivery went."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Off unless ops turn it on: the DELIVERED SMS and email then carry a one-tap link
    # asking for a 1-5 rating of the delivery (service quality only, nothing promotional).
    enabled: bool = False
    # How long after the message its link still opens the rating page.
    link_valid_days: int = Field(default=14, ge=1, le=90)
    # An answer can be changed for this long after it was first given, then it stands.
    change_hours: int = Field(default=24, ge=0, le=168)
    # Whether the page offers a free-text comment next to the score.
    comments: bool = True
    comment_max_chars: int = Field(default=500, ge=20, le=2000)
