"""Recipient feedback (issue 17, item 3): the DELIVERED message carries a one-tap rating link;
following it over real HTTP, a score and a comment are stored once per parcel, changeable
for a day, and the dashboard's summary counts them. SQLite, and PostgreSQL for the flow."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from notifier.config import Settings
from notifier.db.engine import engine_from, read_transaction
from notifier.db.tables import FEEDBACK, FEEDBACK_LINKS, OUTBOX
from notifier.feedback.links import hash_token
from notifier.feedback.store import feedback_summary
from notifier.feedback.summary import FeedbackComment
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.rendering.environment import build_environment
from notifier.sending.compose import WITHHELD
from notifier.sending.dispatch import Dispatcher
from notifier.vocabulary import Channel
from notifier.web.app import create_app
from notifier.web.guards import RateLimiter
from tests.conftest import EventFactory, make_settings
from tests.integration.printing import OPS, OPS_PASSWORD
from tests.integration.test_database_faults import held_by_another_writer
from tests.integration.test_links import Recording

ORIGIN = "https://notifier.rapido.example"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # Sunday 11:00 in Rome: no quiet hours
LINK = re.compile(re.escape(ORIGIN) + r"/f/([A-Za-z0-9_-]{22})")
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


class Clock:
    """The web's and the workers' `now`, moved by the test."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class Service:
    """Ingest, a dispatcher on recording channels, and the web app on one database."""

    def __init__(self, engine: Engine, stack: ExitStack, **feedback: Any) -> None:
        url = engine.url.render_as_string(hide_password=False)
        self.engine = engine
        self.settings: Settings = make_settings(
            url,
            env={"NOTIFIER_OPS_PASSWORD": OPS_PASSWORD},
            web={"public_base_url": ORIGIN},
            feedback={"enabled": True, **feedback},
        )
        self.clock = Clock()
        self.channels = {Channel.SMS: Recording("sms"), Channel.EMAIL: Recording("email")}
        self.dispatcher = Dispatcher(
            engine=engine,
            settings=self.settings,
            channels=self.channels,  # type: ignore[arg-type]
            templates=build_environment(self.settings),
            worker="w1",
        )
        app = create_app(self.settings, engine=engine, clock=self.clock)
        self.client = stack.enter_context(TestClient(app, base_url=ORIGIN))
        self.counter = 0

    def delivered(self, make_event: EventFactory, **recipient: str) -> str:
        """A parcel delivered a few minutes ago, its message sent: the message's body."""
        self.counter += 1
        who = {"name": "Giovanni Bianchi", "phone": f"+39 333 123 45{self.counter:02d}"}
        event = make_event(
            tracking_number=f"RP{self.counter:09d}IT",
            status="DELIVERED",
            occurred_at=(self.clock.now - timedelta(minutes=5)).isoformat(),
            recipient={**who, "locale": "it", **recipient},
        )
        items = [Incoming(0, event, json.dumps(event))]
        list(ingest(self.engine, items, settings=self.settings, now=lambda: self.clock.now))
        assert self.dispatcher.run_once(self.clock.now).claimed >= 1
        sent = [m for channel in self.channels.values() for m in channel.sent]
        return sent[-1].body

    def page(self, path: str, **params: str) -> Any:
        return self.client.get(path, params=params)

    def rate(self, path: str, *, csrf: str | None = None, **fields: str) -> Any:
        """A tap on the page's form, with the token the page gave (or the one given)."""
        if csrf is None:
            found = CSRF.search(self.page(path).text)
            assert found is not None
            csrf = found.group(1)
        return self.client.post(path, data={"csrf": csrf, **fields}, follow_redirects=False)

    def answers(self) -> list[dict[str, Any]]:
        with read_transaction(self.engine) as connection:
            query = select(FEEDBACK).order_by(FEEDBACK.c.id)
            return [dict(r) for r in connection.execute(query).mappings()]


@pytest.fixture
def service(engine: Engine) -> Iterator[Service]:
    with ExitStack() as stack:
        yield Service(engine, stack)


@pytest.fixture
def on_sqlite(sqlite_engine: Engine) -> Iterator[Service]:
    with ExitStack() as stack:
        yield Service(sqlite_engine, stack)


def link_path(body: str) -> str:
    found = LINK.search(body)
    assert found is not None, body
    return f"/f/{found.group(1)}"


def test_a_rating_sent_through_the_link_is_stored_once_and_changeable_for_a_day(
    service: Service, make_event: EventFactory
) -> None:
    """Both databases: message, page, tap, change, then the answer stands."""
    body = service.delivered(make_event)
    assert "Com'è andata la consegna? Dai un voto: " + ORIGIN + "/f/" in body
    path = link_path(body)
    # The outbox keeps the message but not the link's token.
    with read_transaction(service.engine) as connection:
        query = select(OUTBOX.c.body).where(OUTBOX.c.purpose == "delivered")
        kept = connection.execute(query).scalar_one()
    assert kept == body.replace(path, "/f/" + WITHHELD)

    question = service.page(path)
    assert question.status_code == 200
    assert question.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in question.headers["content-security-policy"]
    assert '<html lang="it">' in question.text
    assert "Com'è andata la consegna?" in html.unescape(question.text)
    assert question.text.count('type="submit" name="score"') == 5
    assert "RP00 0000 001IT" in question.text  # which parcel, and nothing about who

    comment = "Puntuale e gentile\u202e, vedi https://evil.example/x"
    answered = service.rate(path, score="4", comment=comment)
    assert answered.status_code == 303
    thanks = service.client.get(answered.headers["location"])
    assert "Grazie per la sua risposta" in thanks.text
    assert "4 su 5 (buona)" in thanks.text
    assert "evil[.]example/x" in thanks.text
    assert 'href="https://evil' not in thanks.text
    (row,) = service.answers()
    assert (row["score"], row["depot"], row["locale"]) == (4, "MI01", "it")
    assert row["comment"] == "Puntuale e gentile, vedi evil[.]example/x"
    assert row["created_at"] == NOW

    service.clock.now = NOW + timedelta(hours=23)
    assert service.rate(path, score="2", comment="").status_code == 303
    (row,) = service.answers()
    assert (row["score"], row["comment"]) == (2, None)
    assert (row["created_at"], row["updated_at"]) == (NOW, NOW + timedelta(hours=23))

    csrf = CSRF.search(service.page(path).text).group(1)  # type: ignore[union-attr]
    service.clock.now = NOW + timedelta(hours=24, minutes=1)
    refused = service.rate(path, csrf=csrf, score="5")
    assert refused.status_code == 409
    assert "il tempo per cambiare la risposta è scaduto" in refused.text
    assert [r["score"] for r in service.answers()] == [2]
    locked = service.page(path)
    assert "La sua risposta è registrata" in locked.text
    assert 'name="score"' not in locked.text

    with read_transaction(service.engine) as connection:
        summary = feedback_summary(
            connection, depot="MI01", since=NOW - timedelta(days=1), until=NOW + timedelta(days=1)
        )
    assert (summary.answers, summary.average) == (1, 2.0)
    assert summary.by_score == {1: 0, 2: 1, 3: 0, 4: 0, 5: 0}
    assert summary.comments == ()


def test_a_rating_submitted_through_the_link_appears_on_the_dashboard(
    on_sqlite: Service, make_event: EventFactory
) -> None:
    path = link_path(on_sqlite.delivered(make_event))
    comment = "Consegna rapidissima <b>grazie</b>"
    assert on_sqlite.rate(path, score="5", comment=comment).status_code == 303
    dashboard = on_sqlite.client.get("/ops?depot=MI01", headers=OPS)
    assert dashboard.status_code == 200
    assert "Consegna rapidissima &lt;b&gt;grazie&lt;/b&gt;" in dashboard.text
    assert "<b>grazie" not in dashboard.text


def test_the_link_is_random_stored_hashed_and_carries_nothing_else(
    on_sqlite: Service, make_event: EventFactory
) -> None:
    path = link_path(on_sqlite.delivered(make_event, email="giovanni@example.it"))
    token = path.removeprefix("/f/")
    with read_transaction(on_sqlite.engine) as connection:
        (row,) = connection.execute(select(FEEDBACK_LINKS)).mappings()
    assert token not in json.dumps({k: str(v) for k, v in row.items()})
    assert row["token_hash"] == hash_token(token)
    assert row["expires_at"] == NOW + timedelta(days=14)
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", token)  # 128 bits, nothing but the token
    for personal in ("Bianchi", "3331234", "@"):
        assert personal not in path


def test_an_english_message_and_page(on_sqlite: Service, make_event: EventFactory) -> None:
    body = on_sqlite.delivered(make_event, locale="en")
    assert "How was your delivery? Rate it: " + ORIGIN + "/f/" in body
    page = on_sqlite.page(link_path(body))
    assert '<html lang="en">' in page.text
    assert "How was your delivery?" in page.text


def test_one_parcels_link_cannot_touch_anothers_answer(
    on_sqlite: Service, make_event: EventFactory
) -> None:
    first = link_path(on_sqlite.delivered(make_event))
    second = link_path(on_sqlite.delivered(make_event))
    assert first != second
    assert on_sqlite.rate(first, score="5").status_code == 303
    first_csrf = CSRF.search(on_sqlite.page(first).text).group(1)  # type: ignore[union-attr]
    # The first page's form token is bound to the first link: refused on the second.
    assert on_sqlite.rate(second, csrf=first_csrf, score="1").status_code == 403
    assert on_sqlite.rate(second, score="1").status_code == 303
    scores = {r["shipment_id"]: r["score"] for r in on_sqlite.answers()}
    assert sorted(scores.values()) == [1, 5]
    assert len(scores) == 2


def test_expired_and_unknown_links_get_the_same_404(
    on_sqlite: Service, make_event: EventFactory
) -> None:
    path = link_path(on_sqlite.delivered(make_event))
    unknown = on_sqlite.page("/f/" + "A" * 22)
    assert unknown.status_code == 404
    assert "Questo link non funziona più" in unknown.text
    on_sqlite.clock.now = NOW + timedelta(days=14, seconds=1)
    expired = on_sqlite.page(path)
    assert expired.status_code == 404
    assert expired.text == unknown.text.replace("A" * 22, path.removeprefix("/f/"))
    assert on_sqlite.page(path, lang="en").text.count("This link no longer works") >= 1
    assert on_sqlite.answers() == []


def test_a_forged_or_missing_form_token_is_refused_and_the_form_kept(
    on_sqlite: Service, make_event: EventFactory
) -> None:
    path = link_path(on_sqlite.delivered(make_event))
    on_sqlite.page(path)  # the cookie is set
    for csrf in ("0" * 64, ""):
        refused = on_sqlite.rate(path, csrf=csrf, score="4", comment="Tutto bene")
        assert refused.status_code == 403
        assert "Il modulo era scaduto" in refused.text
        assert ">Tutto bene</textarea>" in refused.text
    bare = on_sqlite.client.post(path, data={"score": "4"}, follow_redirects=False)
    assert bare.status_code == 403
    assert on_sqlite.answers() == []


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"score": "0"}, "Voto: deve essere un numero intero da 1 a 5."),
        ({"score": "6"}, "Voto: deve essere un numero intero da 1 a 5."),
        ({"score": "x"}, "Voto: deve essere un numero intero da 1 a 5."),
        ({"comment": "ciao"}, "Voto: tocchi un voto da 1 a 5."),
        ({"score": "3", "comment": "a" * 501}, "Commento: è troppo lungo."),
    ],
    ids=["zero", "six", "letter", "no score", "comment too long"],
)
def test_bad_input_is_a_4xx_naming_the_field_with_the_form_kept(
    on_sqlite: Service, make_event: EventFactory, fields: dict[str, str], named: str
) -> None:
    path = link_path(on_sqlite.delivered(make_event))
    refused = on_sqlite.rate(path, **fields)
    assert refused.status_code == 422
    assert named in refused.text
    assert 'name="score"' in refused.text
    if "comment" in fields:
        assert f">{fields['comment']}</textarea>" in refused.text
    assert on_sqlite.answers() == []


def test_the_summary_counts_by_depot_and_period_with_the_newest_comments(
    on_sqlite: Service, make_event: EventFactory
) -> None:
    paths = [link_path(on_sqlite.delivered(make_event)) for _ in range(3)]
    for minutes, (path, score, comment) in enumerate(
        zip(paths, ("5", "4", "1"), ("Ottimo", "", "In ritardo"), strict=True)
    ):
        on_sqlite.clock.now = NOW + timedelta(minutes=minutes)
        assert on_sqlite.rate(path, score=score, comment=comment).status_code == 303
    period = {"since": NOW, "until": NOW + timedelta(hours=1)}
    with read_transaction(on_sqlite.engine) as connection:
        everyone = feedback_summary(connection, depot=None, **period)
        depot = feedback_summary(connection, depot="MI01", **period)
        other = feedback_summary(connection, depot="TO01", **period)
        before = feedback_summary(connection, depot=None, since=NOW - timedelta(days=1), until=NOW)
    assert everyone == depot
    assert (everyone.answers, everyone.average) == (3, 3.33)
    assert everyone.by_score == {1: 1, 2: 0, 3: 0, 4: 1, 5: 1}
    assert everyone.comments == (
        FeedbackComment(1, "In ritardo", "MI01", NOW + timedelta(minutes=2)),
        FeedbackComment(5, "Ottimo", "MI01", NOW),
    )
    assert (other.answers, other.average, other.comments) == (0, None, ())
    assert other.by_score == dict.fromkeys(range(1, 6), 0)
    assert before.answers == 0


def test_with_comments_off_the_page_offers_none_and_ignores_one(
    sqlite_engine: Engine, make_event: EventFactory
) -> None:
    with ExitStack() as stack:
        service = Service(sqlite_engine, stack, comments=False)
        path = link_path(service.delivered(make_event))
        assert "<textarea" not in service.page(path).text
        assert service.rate(path, score="3", comment="ignored").status_code == 303
        assert [(r["score"], r["comment"]) for r in service.answers()] == [(3, None)]


def test_disabled_feedback_changes_nothing_in_the_messages(
    sqlite_engine: Engine, make_event: EventFactory
) -> None:
    with ExitStack() as stack:
        service = Service(sqlite_engine, stack, enabled=False)
        body = service.delivered(make_event)
        assert "/f/" not in body
        assert "Dai un voto" not in body
        assert body.endswith("Per qualsiasi problema: +39 02 1234 5678")
        with read_transaction(sqlite_engine) as connection:
            assert connection.execute(select(FEEDBACK_LINKS)).first() is None


def test_the_email_carries_the_same_link_as_a_link(
    on_sqlite: Service, make_event: EventFactory
) -> None:
    on_sqlite.delivered(make_event, phone="", email="giovanni@example.it")
    (mail,) = on_sqlite.channels[Channel.EMAIL].sent
    path = link_path(mail.body)
    assert "Com'è andata la consegna? Dai un voto da 1 a 5: " in mail.body
    assert f'href="{ORIGIN}{path}"' in (mail.body_html or "")


def test_a_link_asked_too_often_is_paused_with_retry_after(
    on_sqlite: Service, make_event: EventFactory
) -> None:
    path = link_path(on_sqlite.delivered(make_event))
    limits = on_sqlite.client.app.state.feedback_limits  # type: ignore[attr-defined]
    limits["token"] = RateLimiter(limit=2, window=600.0)
    assert [on_sqlite.page(path).status_code for _ in range(2)] == [200, 200]
    paused = on_sqlite.client.post(path, data={"score": "4"})
    assert paused.status_code == 429
    assert int(paused.headers["retry-after"]) > 0
    assert on_sqlite.answers() == []


def test_a_held_database_gets_503_with_retry_after(
    migrated_sqlite_url: str, make_event: EventFactory
) -> None:
    settings = make_settings(
        migrated_sqlite_url, database={"url": migrated_sqlite_url, "lock_timeout_seconds": 1}
    )
    engine = engine_from(settings)
    with ExitStack() as stack:
        stack.callback(engine.dispose)
        service = Service(engine, stack)
        path = link_path(service.delivered(make_event))
        csrf = CSRF.search(service.page(path).text).group(1)  # type: ignore[union-attr]
        with held_by_another_writer(engine):
            busy = service.rate(path, csrf=csrf, score="4")
        assert busy.status_code == 503
        assert busy.headers["retry-after"].isdigit()
        assert "Non è stato registrato nulla" in busy.text
        assert service.answers() == []
        assert service.rate(path, csrf=csrf, score="4").status_code == 303
