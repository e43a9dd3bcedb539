"""The console channel: prints each message readably instead of sending it (`make run`)."""

from __future__ import annotations

import threading
from typing import TextIO

from notifier.channels.base import OutgoingMessage, SendResult


class ConsoleChannel:
    def __init__(self, name: str, stream: TextIO) -> None:
        self.name = name
        self.stream = stream
        self._lock = threading.Lock()  # one message at a time, never interleaved

    def send(self, message: OutgoingMessage) -> SendResult:
        rule = "─" * 60
        lines = [rule, f"{self.name.upper()} to {message.recipient}  (outbox #{message.outbox_id})"]
        if message.subject:
            lines.append(f"Subject: {message.subject}")
        if message.unsubscribe_url:
            lines.append(f"List-Unsubscribe: <{message.unsubscribe_url}>")
        lines += ["", message.body, rule, ""]
        with self._lock:
            self.stream.write("\n".join(lines))
            self.stream.flush()
        return SendResult(provider_id=f"console-{message.outbox_id}", provider_status="printed")
