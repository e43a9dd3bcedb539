"""Asking the provider what became of SMS whose delivery receipt never came.

Twilio retries a status callback only once, so one lost to a deploy or a database fault
leaves its row `sent` for good. Rows still `sent` past `channels.sms.receipt_deadline_minutes`
are asked about through the SMS channel, and a final answer goes through the very rules a
callback does (receipts.apply_receipt). Any number of workers may run this at once: each
row is taken by one of them per round (outbox.claim_receipt_checks) and asked about outside
any transaction. After `receipt_max_checks` asks without a final answer a row stays `sent`:
many networks never report delivery, so "sent" is then the last thing anyone will know,
and neither "undelivered" nor a fallback email would be true. Ops see its receipt_checks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Engine

from notifier.channels.base import StatusSource, Transport
from notifier.config import Settings
from notifier.errors import ChannelError, PermanentChannelError
from notifier.outbox import store as outbox
from notifier.outbox.rows import ReceiptCheck
from notifier.sending.receipts import FINAL, apply_receipt
from notifier.vocabulary import Channel


class CheckOutcome(StrEnum):
    """What one ask about one row came to."""

    RECORDED = "recorded"  # a final status, recorded as a callback would have been
    RESENDING = "resending"  # 30003 with tries left: the SMS goes again (receipts.py)
    UNCHANGED = "unchanged"  # final, but a callback got there between claim and answer
    UNKNOWN = "unknown"  # the row no longer carries that provider id
    NOT_FINAL = "not final"  # queued, sending, sent: asked again after the re-check interval
    UNANSWERED = "unanswered"  # the provider could not say (404, 429, 5xx, network)


@dataclass
class ReconcileStats:
    """How one round went. Row ids and provider codes only: never a number or a text."""

    outcomes: Counter[CheckOutcome] = field(default_factory=Counter)
    unanswered: list[tuple[int, str]] = field(default_factory=list)  # (row id, why)
    gave_up: list[int] = field(default_factory=list)  # rows asked about for the last time

    @property
    def asked(self) -> int:
        return sum(self.outcomes.values())


class Reconciler:
    """One worker's rounds of questions; it does nothing when SMS cannot be asked (console)."""

    def __init__(
        self, *, engine: Engine, settings: Settings, channels: Mapping[Channel, Transport]
    ) -> None:
        self.engine = engine
        self.settings = settings
        sms = channels.get(Channel.SMS)
        self.source: StatusSource | None = sms if isinstance(sms, StatusSource) else None

    def run_once(self, now: datetime) -> ReconcileStats:
        """Take one batch of rows whose receipt is overdue and ask about each."""
        stats = ReconcileStats()
        config = self.settings.channels.sms
        if self.source is None or config.receipt_max_checks == 0:
            return stats
        claimed = outbox.claim_receipt_checks(
            self.engine,
            now=now,
            sent_before=now - config.receipt_deadline,
            checked_before=now - config.receipt_recheck,
            max_checks=config.receipt_max_checks,
            limit=self.settings.dispatch.batch_size,
        )
        for check in claimed:
            outcome = self._check(self.source, check, stats, now)
            stats.outcomes[outcome] += 1
            last = check.checks >= config.receipt_max_checks
            if last and outcome in (CheckOutcome.NOT_FINAL, CheckOutcome.UNANSWERED):
                stats.gave_up.append(check.id)
        return stats

    def _check(
        self, source: StatusSource, check: ReceiptCheck, stats: ReconcileStats, now: datetime
    ) -> CheckOutcome:
        """Ask about one row; whatever goes wrong stays with that row and the round goes on."""
        try:
            answer = source.fetch_status(check.provider_id)
        except ChannelError as exc:
            # An unknown id (404) will not become known; a busy or failing provider may
            # answer next time. Both leave the row `sent`, the check counted.
            kind = "refused" if isinstance(exc, PermanentChannelError) else "failed for now"
            stats.unanswered.append((check.id, f"{kind}: {exc.code or exc}"))
            return CheckOutcome.UNANSWERED
        except Exception as exc:
            stats.unanswered.append((check.id, f"unexpected error: {_kind(exc)}"))
            return CheckOutcome.UNANSWERED
        if answer.status not in FINAL:
            return CheckOutcome.NOT_FINAL
        try:
            recorded = apply_receipt(
                self.engine,
                provider_id=check.provider_id,
                status=answer.status,
                error_code=answer.error_code,
                settings=self.settings,
                now=now,
            )
        except Exception as exc:
            # The database failing under one row: the answer is asked for again later.
            stats.unanswered.append((check.id, f"recording failed: {_kind(exc)}"))
            return CheckOutcome.UNANSWERED
        return CheckOutcome(str(recorded))


def _kind(exc: BaseException) -> str:
    kind = type(exc)
    return f"{kind.__module__}.{kind.__qualname__}"
