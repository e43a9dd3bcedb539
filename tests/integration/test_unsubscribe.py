"""One-click email unsubscribe (RFC 8058): an email received by a real SMTP server carries
List-Unsubscribe; its URL, posted with no cookie, stops every later email to that address,
and nothing else: not the texts, not the depot's mail. Both databases."""

from __future__ import annotations

import json
import re
import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from notifier.channels.email_smtp import SmtpEmailChannel
from notifier.channels.sms_twilio import TwilioSmsChannel, build_twilio_client
from notifier.config import Settings
from notifier.db.engine import make_engine, read_transaction, write_transaction
from notifier.db.tables import OPT_OUTS, OUTBOX, SHIPMENTS, UNSUBSCRIBE_TOKENS
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.outbox import unsubscribe
from notifier.purposes import Purpose
from notifier.rebooking import links
from notifier.rendering.environment import build_environment
from notifier.sending.dispatch import Dispatcher
from notifier.vocabulary import Channel
from notifier.web.app import create_app
from notifier.web.guards import RateLimiter
from notifier.web.unsubscribe import accepted_language, masked
from tests.conftest import BASE_CONFIG, make_settings
from tests.integration.test_rebook_pages import CSRF
from tests.providers import FakeTwilio, RedirectingHttpClient, SmtpServer

ORIGIN = "https://notifier.rapido.example"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}
DEPOT_EMAIL = "mi01@rapido.example"
# Email first, then SMS: an address that unsubscribed is skipped, the phone still used.
# DELIVERED keeps the default order (SMS, then email as the fallback).
EMAIL_FIRST = {
    status: {"channels": ["email", "sms"]} for status in ("DELIVERY_ATTEMPTED", "OUT_FOR_DELIVERY")
}
TOKEN_IN_URL = re.compile(re.escape(ORIGIN) + r"/u/([A-Za-z0-9_-]{22})")


class Mailroom:
    """The service with email to a real SMTP server and SMS to our fake Twilio, its web app,
    and the wall clock the pages read (quiet hours put half a day away from it)."""

    def __init__(
        self, engine: Engine, smtp: SmtpServer, twilio: FakeTwilio, client: TestClient
    ) -> None:
        self.engine, self.smtp, self.twilio, self.client = engine, smtp, twilio, client
        self.settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
        self.now = datetime.now(UTC)
        self.counter = 0

        def connect() -> smtplib.SMTP:
            return smtplib.SMTP("127.0.0.1", smtp.port, timeout=5)

        self.dispatcher = Dispatcher(
            engine=engine,
            settings=self.settings,
            channels={
                Channel.SMS: TwilioSmsChannel(
                    client=build_twilio_client(
                        "AC" + "1" * 32, "token", RedirectingHttpClient(twilio.url)
                    ),
                    from_number="+390212345678",
                    messaging_service_sid=None,
                    status_callback_url=None,
                ),
                Channel.EMAIL: SmtpEmailChannel(
                    connect,
                    from_address="avvisi@rapido.example",
                    from_name="Rapido",
                    message_id_domain="rapido.example",
                ),
            },
            templates=build_environment(self.settings),
            worker="w1",
        )

    def missed(self, *, status: str = "DELIVERY_ATTEMPTED", **recipient: str) -> str:
        """A new parcel's event a few minutes ago; its tracking number."""
        self.counter += 1
        tracking = f"RP{self.counter:09d}IT"
        event = {
            "event_id": f"e-{tracking}",
            "source": "tms",
            "tracking_number": tracking,
            "status": status,
            "reason": "RECIPIENT_ABSENT" if status == "DELIVERY_ATTEMPTED" else None,
            "occurred_at": (self.now - timedelta(minutes=5)).isoformat(),
            "depot": "MI01",
            "recipient": {"name": "Giovanni Bianchi", "locale": "it", **recipient},
        }
        event = {k: v for k, v in event.items() if v is not None}
        items = [Incoming(0, event, json.dumps(event))]
        list(ingest(self.engine, items, settings=self.settings, now=lambda: self.now))
        return tracking

    def tick(self, later: timedelta = timedelta(0)) -> dict[str, int]:
        outcomes = self.dispatcher.run_once(self.now + later).outcomes
        return {str(k): v for k, v in outcomes.items()}

    def mail_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.smtp.received if m["To"] == address]

    def path(self, mail: EmailMessage) -> str:
        """The path of the email's one-click URL, as a mail client posts it to our origin."""
        match = TOKEN_IN_URL.fullmatch(mail["List-Unsubscribe"].strip("<>"))
        assert match is not None, mail["List-Unsubscribe"]
        return f"/u/{match.group(1)}"

    def rows(self, table: Any) -> list[dict[str, Any]]:
        with read_transaction(self.engine) as connection:
            query = select(table).order_by(table.c.id)
            return [dict(r) for r in connection.execute(query).mappings()]

    def link_token(self, tracking: str) -> str:
        with read_transaction(self.engine) as connection:
            query = select(SHIPMENTS.c.id).where(SHIPMENTS.c.tracking_number == tracking)
            shipment = connection.execute(query).scalar_one()
            key = self.settings.link_key
            live = links.live_links(
                connection, [shipment], key=key, settings=self.settings, now=self.now
            )
        return live[shipment].token

    def choose(self, tracking: str, option: str, **fields: str) -> None:
        """A choice made on the real rebooking page."""
        token = self.link_token(tracking)
        page = self.client.get(f"/r/{token}/{option}")
        csrf = CSRF.search(page.text)
        assert csrf is not None, page.text
        answer = self.client.post(f"/r/{token}/{option}", data={"csrf": csrf.group(1), **fields})
        assert answer.status_code == 200, answer.text


def quiet_hours_away_from(now: datetime) -> dict[str, str]:
    far = now.astimezone(ZoneInfo("Europe/Rome")) + timedelta(hours=12)
    return {"start": far.strftime("%H:%M"), "end": (far + timedelta(minutes=1)).strftime("%H:%M")}


def settings_for(engine: Engine) -> Settings:
    depots = [{**BASE_CONFIG["depots"][0], "email": DEPOT_EMAIL}]
    return make_settings(
        engine.url.render_as_string(hide_password=False),
        web={"public_base_url": ORIGIN},
        quiet_hours=quiet_hours_away_from(datetime.now(UTC)),
        rules=EMAIL_FIRST,
        depots=depots,
    )


@pytest.fixture
def mailroom(
    engine: Engine, smtp_server: SmtpServer, fake_twilio: FakeTwilio
) -> Iterator[Mailroom]:
    # On our public origin: the rebooking page's cookie is Secure there, as in production.
    app = create_app(settings_for(engine), engine=engine)
    with TestClient(app, base_url=ORIGIN) as client:
        yield Mailroom(engine, smtp_server, fake_twilio, client)


# ----------------------------------------------------------------- the headers and the POST


def test_a_received_email_unsubscribes_in_one_click_and_the_next_email_is_suppressed(
    mailroom: Mailroom,
) -> None:
    mailroom.missed(email="giovanni@example.it")
    assert mailroom.tick() == {"sent": 1}
    (mail,) = mailroom.smtp.received
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = mail["List-Unsubscribe"].removeprefix("<").removesuffix(">")
    assert TOKEN_IN_URL.fullmatch(url), url

    # What a mail client sends to that URL (RFC 8058 section 3.2): a form body and nothing
    # else, no cookie, no page before it, no CSRF token.
    mailroom.client.cookies.clear()
    answer = mailroom.client.post(url, data=ONE_CLICK)
    assert answer.status_code == 200, answer.text
    assert "set-cookie" not in answer.headers
    assert answer.headers["cache-control"] == "no-store"
    assert "Iscrizione annullata" in answer.text
    assert "g***@example.it" in answer.text
    assert "giovanni@example.it" not in answer.text
    (opt_out,) = mailroom.rows(OPT_OUTS)
    assert (opt_out["channel"], opt_out["address"]) == ("email", "giovanni@example.it")

    # The missed delivery's reminder, queued before the click, is held back when due.
    assert mailroom.tick(timedelta(hours=25)) == {"suppressed": 1}
    assert len(mailroom.smtp.received) == 1
    reminder = mailroom.rows(OUTBOX)[-1]
    assert (reminder["purpose"], reminder["state"], reminder["last_error"]) == (
        "missed_delivery_reminder",
        "suppressed",
        "recipient opted out",
    )


def test_the_post_is_idempotent(mailroom: Mailroom) -> None:
    mailroom.missed(email="giovanni@example.it")
    mailroom.tick()
    path = mailroom.path(mailroom.smtp.received[0])
    for _ in range(3):
        assert mailroom.client.post(path, data=ONE_CLICK).status_code == 200
    assert len(mailroom.rows(OPT_OUTS)) == 1
    # Multipart is the other body RFC 8058 allows.
    again = mailroom.client.post(path, files={"List-Unsubscribe": (None, "One-Click")})
    assert again.status_code == 200
    assert len(mailroom.rows(OPT_OUTS)) == 1


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"data": {}}, id="empty"),
        pytest.param({"data": {"List-Unsubscribe": "Yes"}}, id="other-value"),
        pytest.param({"data": {"unsubscribe": "One-Click"}}, id="other-field"),
        pytest.param(
            {"content": b"List-Unsubscribe=One-Click", "headers": {"Content-Type": "text/plain"}},
            id="not-a-form",
        ),
    ],
)
def test_a_post_without_the_one_click_pair_changes_nothing(
    mailroom: Mailroom, body: dict[str, Any]
) -> None:
    mailroom.missed(email="giovanni@example.it")
    mailroom.tick()
    path = mailroom.path(mailroom.smtp.received[0])
    answer = mailroom.client.post(path, **body)
    assert answer.status_code == 400
    # The page it shows holds the button that sends the right body.
    assert 'name="List-Unsubscribe" value="One-Click"' in answer.text
    assert mailroom.rows(OPT_OUTS) == []


# ----------------------------------------------------------------- GET, and the page


def test_following_the_link_unsubscribes_nothing_and_the_page_posts_the_one_click_body(
    mailroom: Mailroom,
) -> None:
    mailroom.missed(email="giovanni@example.it", locale="en")
    mailroom.tick()
    path = mailroom.path(mailroom.smtp.received[0])
    for _ in range(3):  # a scanner, a preview, the person
        page = mailroom.client.get(path, headers={"Accept-Language": "en-GB,en;q=0.9,it;q=0.5"})
        assert page.status_code == 200
    assert mailroom.rows(OPT_OUTS) == []
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    html = page.text
    assert '<html lang="en">' in html
    assert "Stop emails about your parcels?" in html
    assert "g***@example.it" in html
    assert "giovanni@example.it" not in html
    # What stops and what does not; one button, and a way back that changes nothing.
    assert "Our emails about your parcels to this address" in html
    assert "we may still send you a text about a parcel on its way" in html
    assert html.count("<button") == 1
    (form,) = re.findall(r'<form method="post" action="([^"]+)">', html)
    assert form == f"{path}?lang=en"
    assert 'name="List-Unsubscribe" value="One-Click"' in html
    assert '<a href="https://rapido.example">No, keep my emails</a>' in html
    assert "<script" not in html
    # Nothing loaded from elsewhere: every address is ours, the company's, a phone or mail.
    for target in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert target.startswith(("/", "https://rapido.example", "tel:", "mailto:")), target

    # The person presses the button: the form's own POST, the same handler.
    done = mailroom.client.post(form, data=ONE_CLICK)
    assert done.status_code == 200
    assert "You are unsubscribed" in done.text
    assert len(mailroom.rows(OPT_OUTS)) == 1
    # Coming back later shows where things stand, and the way back.
    again = mailroom.client.get(path + "?lang=it")
    assert "Iscrizione annullata" in again.text
    assert f'action="{path}/resubscribe?lang=it"' in again.text


def test_the_way_back_takes_back_only_the_pages_own_opt_out(mailroom: Mailroom) -> None:
    mailroom.missed(email="giovanni@example.it")
    mailroom.tick()
    path = mailroom.path(mailroom.smtp.received[0])
    mailroom.client.post(path, data=ONE_CLICK)

    back = mailroom.client.post(f"{path}/resubscribe")
    assert back.status_code == 200
    assert "le scriveremo di nuovo" in back.text
    assert mailroom.rows(OPT_OUTS) == []
    mailroom.missed(email="giovanni@example.it")
    assert mailroom.tick(timedelta(minutes=1)) == {"sent": 1}
    assert len(mailroom.mail_to("giovanni@example.it")) == 2

    # An opt-out recorded for another reason (ops, a provider) is not this page's to lift.
    with write_transaction(mailroom.engine) as connection:
        connection.execute(
            OPT_OUTS.insert().values(
                channel="email",
                address="giovanni@example.it",
                reason="asked by phone",
                created_at=mailroom.now,
            )
        )
    page = mailroom.client.get(path)
    assert "Per riceverle di nuovo, contatti il servizio clienti" in page.text
    assert "resubscribe" not in page.text
    mailroom.client.post(f"{path}/resubscribe")
    assert [r["reason"] for r in mailroom.rows(OPT_OUTS)] == ["asked by phone"]


def test_the_one_click_post_is_limited_per_link_never_per_client(mailroom: Mailroom) -> None:
    """Mailbox providers post for many of their users from one address of theirs."""
    limits = mailroom.client.app.state.unsubscribe_limits  # type: ignore[attr-defined]
    limits["client"] = RateLimiter(limit=1, window=600.0)
    limits["token"] = RateLimiter(limit=2, window=600.0)
    for n in range(3):
        mailroom.missed(email=f"utente{n}@example.it")
    mailroom.tick()
    paths = [mailroom.path(mail) for mail in mailroom.smtp.received]
    assert [mailroom.client.post(p, data=ONE_CLICK).status_code for p in paths] == [200] * 3
    assert len(mailroom.rows(OPT_OUTS)) == 3
    # A person's pages count per client as well.
    assert mailroom.client.get(paths[0]).status_code == 200
    paused = mailroom.client.get(paths[1])
    assert paused.status_code == 429
    assert int(paused.headers["retry-after"]) > 0
    # And every request counts per link.
    assert mailroom.client.post(paths[0], data=ONE_CLICK).status_code == 429


# ----------------------------------------------------------------- the token


def test_the_url_carries_an_opaque_token_stored_only_as_its_hash(mailroom: Mailroom) -> None:
    mailroom.missed(email="giovanni@example.it")
    mailroom.missed(email="anna@example.it")
    mailroom.tick()
    urls = {m["To"]: m["List-Unsubscribe"].strip("<>") for m in mailroom.smtp.received}
    rows = {r["address"]: r for r in mailroom.rows(UNSUBSCRIBE_TOKENS)}
    key = mailroom.settings.link_key
    for address, url in urls.items():
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc, parts.query) == ("https", "notifier.rapido.example", "")
        segments = parts.path.split("/")
        assert segments[:2] == ["", "u"]
        assert len(segments) == 3
        token = segments[2]
        # 128 bits derived from the row's random salt: no row id, no address, no name.
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", token)
        row = rows[address]
        assert token == unsubscribe.derive_token(key, row["salt"])
        assert row["token_hash"] == unsubscribe.hash_token(token)
        assert token not in json.dumps({k: str(v) for k, v in row.items()})
        assert address.split("@")[0] not in url
        outbox_ids = {str(r["id"]) for r in mailroom.rows(OUTBOX)}
        assert not outbox_ids & set(segments)
        assert str(row["id"]) not in segments
    assert len(set(urls.values())) == 2


def test_every_email_keeps_the_same_url_alive_for_a_year_more(mailroom: Mailroom) -> None:
    mailroom.missed(email="giovanni@example.it")
    mailroom.tick()
    (first,) = mailroom.rows(UNSUBSCRIBE_TOKENS)
    assert first["expires_at"] == mailroom.now + unsubscribe.TOKEN_LIFETIME
    # The reminder a day later: the same URL, a year from then.
    assert mailroom.tick(timedelta(hours=25)) == {"sent": 1}
    early, late = mailroom.mail_to("giovanni@example.it")
    assert early["List-Unsubscribe"] == late["List-Unsubscribe"]
    (second,) = mailroom.rows(UNSUBSCRIBE_TOKENS)
    assert (second["salt"], second["token_hash"]) == (first["salt"], first["token_hash"])
    assert second["expires_at"] == mailroom.now + timedelta(hours=25) + unsubscribe.TOKEN_LIFETIME
    assert second["created_at"] == first["created_at"]


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("expired", id="expired"),
        pytest.param("A" * 22, id="unknown"),
        pytest.param("x" * 300, id="too-long"),
        pytest.param("%3Cscript%3E", id="markup"),
    ],
)
def test_an_expired_or_unknown_token_says_the_link_no_longer_works_and_changes_nothing(
    mailroom: Mailroom, token: str
) -> None:
    if token == "expired":
        with write_transaction(mailroom.engine) as connection:
            issued = unsubscribe.issue_tokens(
                connection,
                {"old@example.it"},
                key=mailroom.settings.link_key,
                now=mailroom.now - unsubscribe.TOKEN_LIFETIME - timedelta(days=1),
            )
        token = issued["old@example.it"]
    before = mailroom.rows(UNSUBSCRIBE_TOKENS)
    for answer in (
        mailroom.client.get(f"/u/{token}"),
        mailroom.client.post(f"/u/{token}", data=ONE_CLICK),
        mailroom.client.post(f"/u/{token}/resubscribe"),
    ):
        assert answer.status_code == 404
        assert "Questo link non funziona più" in answer.text
        assert "assistenza@rapido.example" in answer.text  # whom to ask instead
        assert "<script" not in answer.text
    assert mailroom.rows(OPT_OUTS) == []
    assert mailroom.rows(UNSUBSCRIBE_TOKENS) == before


def test_with_the_database_down_the_page_and_the_post_answer_503_with_retry_after(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'notifier.db'}")
    settings = make_settings(str(engine.url), web={"public_base_url": ORIGIN})
    try:
        with TestClient(create_app(settings, engine=engine)) as client:
            answers = [
                client.get("/u/" + "A" * 22),
                client.post("/u/" + "A" * 22, data=ONE_CLICK),
                client.post("/u/" + "A" * 22 + "/resubscribe"),
            ]
    finally:
        engine.dispose()
    for answer in answers:
        assert answer.status_code == 503
        assert int(answer.headers["retry-after"]) > 0
        assert "Non è stato cambiato nulla" in answer.text


# ----------------------------------------------------------------- what it does not stop


def test_an_email_unsubscribe_leaves_the_texts_alone(mailroom: Mailroom) -> None:
    mailroom.missed(email="giovanni@example.it")
    mailroom.tick()
    mailroom.client.post(mailroom.path(mailroom.smtp.received[0]), data=ONE_CLICK)

    # The next parcel's news, email first by the rules: the email is skipped, the text goes.
    mailroom.missed(status="OUT_FOR_DELIVERY", email="giovanni@example.it", phone="+39 333 1234567")
    assert mailroom.tick(timedelta(minutes=10)) == {"sent": 1}
    (text,) = mailroom.twilio.requests
    assert text["To"] == "+393331234567"
    assert len(mailroom.smtp.received) == 1
    by_channel = {
        r["channel"]: r for r in mailroom.rows(OUTBOX) if r["purpose"] == "arriving_today"
    }
    assert by_channel["email"]["state"] == "suppressed"
    assert by_channel["sms"]["state"] == "sent"
    assert [r["channel"] for r in mailroom.rows(OPT_OUTS)] == ["email"]


def test_a_refused_text_does_not_fall_back_to_an_unsubscribed_address(mailroom: Mailroom) -> None:
    mailroom.missed(email="giovanni@example.it")
    mailroom.tick()
    mailroom.client.post(mailroom.path(mailroom.smtp.received[0]), data=ONE_CLICK)

    # SMS first for a delivery; a permanent refusal would fall back to the email address.
    mailroom.twilio.script((400, 21211))
    mailroom.missed(status="DELIVERED", email="giovanni@example.it", phone="+39 333 1234567")
    assert mailroom.tick(timedelta(minutes=1)) == {"failed": 1}
    assert mailroom.tick(timedelta(minutes=2)) == {}
    assert len(mailroom.smtp.received) == 1
    assert [r["channel"] for r in mailroom.rows(OUTBOX) if r["purpose"] == "delivered"] == ["sms"]


def test_a_confirmation_is_held_back_and_the_depots_mail_is_not(mailroom: Mailroom) -> None:
    """A depot clerk's own parcel: the clerk unsubscribes the depot's address from parcel
    news; "I was at home" still reaches the depot there, with no unsubscribe header."""
    tracking = mailroom.missed(email=DEPOT_EMAIL)
    mailroom.tick()
    (news,) = mailroom.mail_to(DEPOT_EMAIL)
    mailroom.client.post(mailroom.path(news), data=ONE_CLICK)
    (token,) = mailroom.rows(UNSUBSCRIBE_TOKENS)

    mailroom.choose(tracking, "dispute", comment="Ero in casa")
    outcomes = mailroom.tick(timedelta(minutes=1))

    assert outcomes == {"suppressed": 1, "sent": 1}
    states = {r["purpose"]: r["state"] for r in mailroom.rows(OUTBOX)}
    assert states[Purpose.REBOOKING_CONFIRMED] == "suppressed"
    assert states[Purpose.DISPUTE_FORWARD] == "sent"
    _, forward = mailroom.mail_to(DEPOT_EMAIL)
    assert forward["List-Unsubscribe"] is None
    assert forward["List-Unsubscribe-Post"] is None
    assert mailroom.rows(UNSUBSCRIBE_TOKENS) == [token]  # not kept alive by the depot's mail


# ----------------------------------------------------------------- small pure parts


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en-GB,en;q=0.9,it;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,it;q=0.7,en;q=0.6", "it"),
        ("en;q=0.2, it", "it"),
        ("it;q=0, en;q=0.1", "en"),
        ("fr, de", None),
        ("", None),
        ("en;q=nonsense, it;q=0.5", "it"),
    ],
)
def test_accept_language_picks_the_highest_weighted_shipped_language(
    header: str, expected: str | None
) -> None:
    assert accepted_language(header) == expected


def test_the_page_shows_an_address_masked() -> None:
    assert masked("giovanni@example.it") == "g***@example.it"
    assert masked("a@b.example") == "a***@b.example"
