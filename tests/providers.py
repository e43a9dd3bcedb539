"""Fixtures for real provider stand-ins: SMTP server, Prism with Twilio's spec, fake Twilio."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from twilio.http.response import Response

from notifier.channels.sms_twilio import BaseUrlHttpClient

REPO = Path(__file__).resolve().parent.parent
PRISM = REPO / "node_modules" / ".bin" / "prism"
DEADLINE_SECONDS = 30


def free_port() -> int:
    # aiosmtpd's Controller(port=0) fails its own readiness check: take a port first.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# ---------------------------------------------------------------- SMTP (aiosmtpd)


@dataclass
class SmtpServer:
    port: int
    received: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)
    # Replies for RCPT TO, in turn, e.g. ["450 4.2.1 try later"]; empty: accept.
    rcpt_replies: list[str] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self,
        _server: SMTP,
        _session: Session,
        envelope: Envelope,
        address: str,
        _options: list[str],
    ) -> str:
        if self.server.rcpt_replies:
            return self.server.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.server.received.append(message)
        self.server.envelopes.append(envelope)
        self.server.arrived.set()
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(port=free_port())
    controller = Controller(_Handler(server), hostname="127.0.0.1", port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


# ---------------------------------------------------------------- Twilio


class RedirectingHttpClient(BaseUrlHttpClient):
    """The product's own seam (channels.sms.api_base_url) to a local server, recording
    what went out as the official client addressed it (Twilio's URL)."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url, timeout=10)
        self.sent: list[dict[str, Any]] = []

    def request(  # type: ignore[override]
        self, method: str, url: str, params: Any = None, data: Any = None, **kwargs: Any
    ) -> Response:
        self.sent.append({"method": method, "url": url, "data": dict(data or {})})
        return super().request(method, url, params=params, data=data, **kwargs)


def twilio_error(status: int, code: int) -> dict[str, Any]:
    """Twilio's error body (twilio.com/docs/usage/twilios-response)."""
    return {
        "code": code,
        "message": f"error {code}",
        "status": status,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
    }


@dataclass
class FakeTwilio:
    """Our own small Twilio: answers POST .../Messages.json from a script of replies, and
    GET .../Messages/{Sid}.json from each message's scripted status."""

    url: str
    requests: list[dict[str, str]] = field(default_factory=list)
    replies: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    counter: int = 0
    # GET .../Messages/{Sid}.json: the answer per sid (unscripted: Twilio's 404, 20404),
    # and every sid asked about, in order.
    statuses: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)
    # The server answers requests on threads of its own: one at a time through the books.
    lock: threading.Lock = field(default_factory=threading.Lock)
    # When set, every POST waits here before it is answered: N parties prove that N
    # sends were in flight at once (a broken barrier fails the request with a 500).
    gate: threading.Barrier | None = None
    # POSTs being answered now, and the most there ever were at once.
    in_flight: int = 0
    peak_in_flight: int = 0

    @staticmethod
    def sid(n: int) -> str:
        """The sid of the n-th message this fake accepted (from 1)."""
        return f"SM{n:032x}"

    def answer_fetch(self, sid: str, status: str, error_code: int | None = None) -> None:
        body = {
            "sid": sid,
            "status": status,
            "error_code": error_code,
            "account_sid": "AC" + "0" * 32,
        }
        self.statuses[sid] = (200, body)

    def fail_fetch(self, sid: str, status: int, code: int) -> None:
        self.statuses[sid] = (status, twilio_error(status, code))

    def script(self, *replies: tuple[int, int | None]) -> None:
        """(HTTP status, Twilio error code or None for success), answered in turn."""
        for status, code in replies:
            if code is None:
                self.replies.append((status, {}))
            else:
                body = {
                    "code": code,
                    "message": f"error {code}",
                    "status": status,
                    "more_info": f"https://www.twilio.com/docs/errors/{code}",
                }
                self.replies.append((status, body))


_MESSAGE_PATH = re.compile(r"^/2010-04-01/Accounts/AC[0-9a-fA-F]{32}/Messages/(\w+)\.json$")


def _fake_handler(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            with fake.lock:
                fake.in_flight += 1
                fake.peak_in_flight = max(fake.peak_in_flight, fake.in_flight)
            try:
                self._answer_post(form)
            finally:
                with fake.lock:
                    fake.in_flight -= 1

        def _answer_post(self, form: dict[str, str]) -> None:
            if fake.gate is not None:
                try:
                    fake.gate.wait()
                except threading.BrokenBarrierError:
                    self.send_error(500)
                    return
            with fake.lock:
                fake.requests.append(form)
                status, body = fake.replies.pop(0) if fake.replies else (201, {})
                if not body:
                    fake.counter += 1
                    sid = f"SM{fake.counter:032x}"
                    body = {
                        "sid": sid,
                        "status": "queued",
                        "to": form.get("To"),
                        "body": form.get("Body"),
                        "account_sid": "AC" + "0" * 32,
                        "num_segments": "1",
                    }
                    status = 201 if status < 300 else status
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            match = _MESSAGE_PATH.match(self.path)
            if match is None:
                status, body = 404, twilio_error(404, 20404)
            else:
                sid = match.group(1)
                fake.fetched.append(sid)
                status, body = fake.statuses.get(sid, (404, twilio_error(404, 20404)))
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_args: Any) -> None:  # keep test output clean
            pass

    return Handler


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _fake_handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def prism_twilio() -> Iterator[str]:
    """Prism serving Twilio's own OpenAPI description of the Messages API; its base URL."""
    from tests.conftest import require

    # Kept in the repository (tests/fixtures/twilio, Apache-2.0): a fresh clone runs it too.
    spec = Path(__file__).parent / "fixtures" / "twilio" / "twilio_messages_min.json"
    if not PRISM.exists():
        require("prism", f"{PRISM} missing: npm install --no-save @stoplight/prism-cli")
    port = free_port()
    process = subprocess.Popen(
        [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(spec)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=DEADLINE_SECONDS)
