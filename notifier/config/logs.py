"""The [logging] section: how the processes write their logs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class Logging(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # `text` for a terminal, `json` (one object a line) for a log collector;
    # NOTIFIER_LOG_FORMAT overrides it.
    format: Literal["text", "json"] = "text"
