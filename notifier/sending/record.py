"""Recording how a claimed row ended: sent, retried later, or finished, each in its own
transaction, and only while this worker still holds the row's lease."""

from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy import Engine

from notifier.config import Settings
from notifier.db.engine import write_transaction
from notifier.db.statements import StatementConnections
from notifier.errors import PermanentChannelError
from notifier.outbox import store as outbox
from notifier.outbox.rows import ClaimedRow
from notifier.sending import settle
from notifier.sending.fallback import queue_fallback
from notifier.sending.retry import gives_up, retry_delay
from notifier.sending.settle import SettleOutcome
from notifier.sending.store import TickReads
from notifier.vocabulary import Channel, OutboxState


class Recorder:
    """One worker's writes of outcomes; LOST when the lease ran out meanwhile."""

    def __init__(
        self, *, engine: Engine, settings: Settings, worker: str, rng: random.Random
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.worker = worker
        self.rng = rng
        # The sends' outcomes, each on its thread's own connection (db/statements.py).
        self.statements = StatementConnections(engine)

    def sent(
        self, message: ClaimedRow, now: datetime, provider_id: str | None, stored: dict[str, object]
    ) -> SettleOutcome:
        marked = self.statements.run(  # one UPDATE: atomic by itself
            lambda connection: outbox.mark_sent(
                connection,
                message,
                worker=self.worker,
                now=now,
                provider_id=provider_id,
                rendered=stored,
            )
        )
        return SettleOutcome.SENT if marked else SettleOutcome.LOST

    def retry(
        self, message: ClaimedRow, now: datetime, error: str, code: str | None
    ) -> SettleOutcome:
        config = self.settings.dispatch
        if gives_up(message.attempts, max_attempts=config.max_attempts):
            return self.final(message, now, OutboxState.DEAD, error, code)
        delay = retry_delay(
            message.attempts,
            base_seconds=config.retry_base_seconds,
            max_seconds=config.retry_max_seconds,
            rng=self.rng,
        )
        with write_transaction(self.engine) as connection:
            marked = outbox.mark_retry(
                connection,
                message,
                worker=self.worker,
                now=now,
                due_at=now + delay,
                error=error,
                code=code,
            )
        return SettleOutcome.RETRY if marked else SettleOutcome.LOST

    def paced(self, message: ClaimedRow, now: datetime, due_at: datetime) -> SettleOutcome:
        with write_transaction(self.engine) as connection:
            marked = outbox.mark_deferred(
                connection, message, worker=self.worker, now=now, due_at=due_at
            )
        return SettleOutcome.PACED if marked else SettleOutcome.LOST

    def final(
        self,
        message: ClaimedRow,
        now: datetime,
        state: OutboxState,
        error: str | None,
        code: str | None = None,
    ) -> SettleOutcome:
        with write_transaction(self.engine) as connection:
            marked = outbox.mark_final(
                connection,
                message,
                worker=self.worker,
                now=now,
                state=state,
                error=error,
                code=code,
            )
        return SettleOutcome(str(state)) if marked else SettleOutcome.LOST

    def suppressed(
        self, message: ClaimedRow, reads: TickReads, now: datetime, reason: str
    ) -> SettleOutcome:
        """The recipient opted out of this channel since the row was queued (a STOP, an
        unsubscribe): the message goes by the rule's next channel, as after a refusal."""
        target = self._fallback_target(message, reads)
        with write_transaction(self.engine) as connection:
            marked = outbox.mark_final(
                connection,
                message,
                worker=self.worker,
                now=now,
                state=OutboxState.SUPPRESSED,
                error=reason,
            )
            if not marked:
                return SettleOutcome.LOST
            queue_fallback(connection, message, target, settings=self.settings, now=now)
        return SettleOutcome.SUPPRESSED

    def _fallback_target(self, message: ClaimedRow, reads: TickReads) -> tuple[Channel, str] | None:
        return settle.fallback_target(
            message,
            event=reads.events.get(message.status_event_id or -1),
            contacts=reads.contacts.get(message.shipment_id, ()),
            opted_out=reads.opted_out,
            settings=self.settings,
        )

    def failed(
        self, message: ClaimedRow, reads: TickReads, now: datetime, exc: PermanentChannelError
    ) -> SettleOutcome:
        """Never retried; the opt-out and the fallback are recorded with the failure."""
        target = self._fallback_target(message, reads)
        with write_transaction(self.engine) as connection:
            marked = outbox.mark_final(
                connection,
                message,
                worker=self.worker,
                now=now,
                state=OutboxState.FAILED,
                error=str(exc),
                code=exc.code,
            )
            if not marked:
                return SettleOutcome.LOST
            if exc.opted_out:
                outbox.record_opt_out(
                    connection,
                    channel=message.channel,
                    address=message.recipient,
                    reason=f"provider error {exc.code}" if exc.code else "provider: opted out",
                    now=now,
                )
            queue_fallback(connection, message, target, settings=self.settings, now=now)
        return SettleOutcome.FAILED
