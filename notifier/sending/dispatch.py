"""Sending the outbox: claim due rows, judge, render and send each, record every outcome.

The decisions are pure and live elsewhere: whether a row still makes sense and where it
falls back to (settle.py), when it is tried again (retry.py); what one tick reads is in
dispatchstore.py, how a row becomes a message in compose.py, and how its outcome is
written in recording.py. This is the loop.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from jinja2 import Environment, TemplateError
from sqlalchemy import Engine

from notifier import metrics
from notifier.channels.base import OutgoingMessage, SendResult, Transport
from notifier.config import Settings
from notifier.db.engine import send_threads
from notifier.errors import NotifierError, PermanentChannelError, TemporaryChannelError
from notifier.outbox.rows import ClaimedRow
from notifier.sending import settle
from notifier.sending.batches import Batch, DispatchStats, take_batch, tally_all
from notifier.sending.compose import compose
from notifier.sending.pacing import Pacer, sms_pacer
from notifier.sending.record import Recorder
from notifier.sending.settle import SettleOutcome
from notifier.sending.store import TickReads
from notifier.vocabulary import Channel, OutboxState

log = logging.getLogger(__name__)


class Dispatcher:
    """One worker's sending loop; any number of them may run against one database."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        channels: Mapping[Channel, Transport],
        templates: Environment,
        worker: str,
        rng: random.Random | None = None,
        concurrency: int | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.channels = channels
        self.templates = templates
        self.worker = worker
        self.record = Recorder(
            engine=engine,
            settings=settings,
            worker=worker,
            rng=rng or random.Random(),  # noqa: S311  jitter, not secrecy
        )
        self.pacer = pacer if pacer is not None else sms_pacer(engine, settings)
        self.concurrency = concurrency or settings.dispatch.concurrency
        # Threads, not asyncio: the Twilio client (requests) and smtplib block, and a
        # send is mostly a wait on the provider, which a thread spends without the GIL.
        # A quarter more threads than provider slots: one composing or recording (on a
        # connection of its own) leaves its slot to a thread with a message ready.
        threads = send_threads(self.concurrency)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="send") if threads > 1 else None
        self._at_provider = threading.BoundedSemaphore(self.concurrency)

    @property
    def concurrent(self) -> bool:
        """Whether sends run on threads of their own (more than one in flight)."""
        return self._pool is not None

    @property
    def batch_limit(self) -> int:
        """Rows one claim takes: a batch, and never fewer than the sends kept in flight."""
        return max(self.settings.dispatch.batch_size, self.concurrency)

    def run_once(self, now: datetime) -> DispatchStats:
        """Claim one batch of due rows and settle every one of them, up to `concurrency`
        at a time; returns when all are settled (none is left leased by this call)."""
        stats = DispatchStats()
        with self.record.statements.borrowed():
            if (batch := self.take(now)) is not None:
                tally_all(stats, batch, self.start(batch))
        return stats

    def take(self, now: datetime) -> Batch | None:
        """Claim a batch and read what its rows need, or None when nothing is due."""
        return take_batch(
            self.engine, self.settings, worker=self.worker, limit=self.batch_limit, now=now
        )

    def start(self, batch: Batch) -> Iterator[SettleOutcome]:
        """Every row of the batch handed to the send threads at once (or settled here, in
        turn, without them); the outcomes come back in the batch's order."""

        def settle_one(message: ClaimedRow) -> SettleOutcome:
            try:
                return self._settle(message, batch.reads, batch.unsubscribe_urls, batch.now)
            except Exception as exc:
                # One row's surprise must not keep the rest of the batch leased. The type
                # is logged, never the message: it may quote an address or a body.
                log.error("outbox row %d: %s while settling", message.id, _kind(exc))
                return self._contain(message, batch.now, exc)

        if self._pool is None:
            return map(settle_one, batch.claimed)
        return self._pool.map(settle_one, batch.claimed)

    def close(self) -> None:
        """Wait for the sends in flight, then free the threads and their connections."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self.record.statements.close()

    def _settle(
        self,
        message: ClaimedRow,
        reads: TickReads,
        unsubscribe_urls: Mapping[str, str],
        now: datetime,
    ) -> SettleOutcome:
        shipment = reads.shipments[message.shipment_id]
        event = reads.events.get(message.status_event_id or -1)
        booking = reads.bookings.get(message.rebooking_id or -1)
        verdict = settle.before_sending(
            message,
            shipment=shipment,
            event=event,
            booking=booking,
            choice=reads.choices.get(message.shipment_id),
            promise=reads.promises.get(message.id),
            opted_out=reads.opted_out,
            settings=self.settings,
        )
        if verdict is not None and verdict.state is OutboxState.SUPPRESSED:
            return self.record.suppressed(message, reads, now, verdict.reason)
        if verdict is not None:
            return self.record.final(message, now, verdict.state, verdict.reason)
        try:
            composed = compose(
                message,
                shipment=shipment,
                # A message about a booking tells of the attempt its link stood for.
                event=event or reads.booked_attempts.get(message.rebooking_id or -1),
                link=reads.links.get(message.shipment_id),
                booking=booking,
                contacts=reads.contacts.get(message.shipment_id, ()),
                settings=self.settings,
                templates=self.templates,
                now=now,
                unsubscribe_url=unsubscribe_urls.get(message.recipient),
                promise=reads.promises.get(message.id),
                feedback_url=reads.feedback_urls.get(message.shipment_id),
            )
        except (NotifierError, TemplateError) as exc:
            # A broken template is ops' to fix; retrying keeps the message until they do.
            return self.record.retry(message, now, f"template: {exc}", None)
        pacer = self.pacer if composed.outgoing.channel is Channel.SMS else None
        if pacer is not None and (later := pacer.wait_turn()) is not None:
            return self.record.paced(message, now, later)
        try:
            with self._at_provider:  # at most `concurrency` calls in flight
                result = _send_timed(self.channels[composed.outgoing.channel], composed.outgoing)
        except TemporaryChannelError as exc:
            if pacer is not None and exc.slow_down:
                pacer.hold_back()
            return self.record.retry(message, now, str(exc), exc.code)
        except PermanentChannelError as exc:
            return self.record.failed(message, reads, now, exc)
        return self.record.sent(message, now, result.provider_id, composed.stored)

    def _contain(self, message: ClaimedRow, now: datetime, exc: Exception) -> SettleOutcome:
        """An unexpected error is a retry (then dead) for its row alone."""
        try:
            return self.record.retry(message, now, f"unexpected error: {_kind(exc)}", None)
        except Exception as again:
            # The database itself is failing: the lease runs out and the row is claimed again.
            log.error("outbox row %d: %s recording the retry", message.id, _kind(again))
            return SettleOutcome.LOST


def _send_timed(channel: Transport, outgoing: OutgoingMessage) -> SendResult:
    """The provider call, its duration observed whether it succeeds or raises."""
    with metrics.SEND_SECONDS.labels(outgoing.channel).time():
        return channel.send(outgoing)


def _kind(exc: BaseException) -> str:
    kind = type(exc)
    return f"{kind.__module__}.{kind.__qualname__}"
