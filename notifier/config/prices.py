"""The [templates.sms_price] table: what one SMS segment costs, for the template previews."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class SmsPrice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # The provider's price of one segment (a long SMS is billed per segment), e.g. 0.075.
    per_segment: Decimal = Field(ge=0, le=100, allow_inf_nan=False)
    # ISO 4217, as the provider's invoice states it.
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
