"""GET /metrics after real traffic: the counts, the outbox gauges against the database, no
personal data or token anywhere in it, who may read it, and a database that fails."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, func, select
from twilio.request_validator import RequestValidator

from notifier.channels.registry import build_channels
from notifier.db.engine import make_engine, read_transaction
from notifier.db.tables import OUTBOX, SHIPMENTS
from notifier.rebooking import links
from notifier.rendering.environment import build_environment
from notifier.sending.dispatch import Dispatcher
from notifier.urls import twilio_inbound_url, twilio_status_url
from notifier.web.app import create_app
from tests.conftest import NOW, make_settings
from tests.integration.conftest import API_KEY, post_events
from tests.integration.test_aggregator_webhooks import ENV as WEBHOOK_ENV
from tests.integration.test_aggregator_webhooks import body_of, signed

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

LOOPBACK = ("127.0.0.1", 50000)
TWILIO_AUTH_TOKEN = "twilio-auth-token-for-metrics"
PHONE, EMAIL = "+39 333 765 4321", "zebedeo@example.it"
TRACKING, SHIPPO_TRACKING = "RP987654321IT", "JJD000390007812345678"
# Every form the test's personal data could take in the exposition.
SECRETS_IN_TRAFFIC = (PHONE, "3337654321", EMAIL, "Zebedeo", TRACKING, SHIPPO_TRACKING, "evt-m")


def parse(text: str) -> Samples:
    """Every sample of an exposition by name and labels (the parser fails on bad syntax)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def event(event_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "source": "tms",
        "carrier": "rapido",
        "tracking_number": TRACKING,
        "status": "DELIVERY_ATTEMPTED",
        "reason": "RECIPIENT_ABSENT",
        "occurred_at": "2026-11-22T10:49:00+01:00",
        "depot": "MI01",
        "recipient": {"name": "Zebedeo Quintavalle", "phone": PHONE, "email": EMAIL},
        **changes,
    }


class Service:
    """The real app on a database, its requests from loopback unless said otherwise."""

    def __init__(self, engine: Engine, **sections: Any) -> None:
        self.engine = engine
        url = engine.url.render_as_string(hide_password=False)
        env = {
            "NOTIFIER_API_KEY": API_KEY,
            "NOTIFIER_OPS_PASSWORD": "ops-pw",
            "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
            **WEBHOOK_ENV,
        }
        self.settings = make_settings(url, env=env, **sections)
        self.app = create_app(self.settings, engine=engine, clock=lambda: NOW)
        self.client = TestClient(self.app, client=LOOPBACK)

    def scrape(self) -> tuple[str, Samples]:
        answer = self.client.get("/metrics")
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/plain")
        return answer.text, parse(answer.text)

    def token(self, tracking: str) -> str:
        with read_transaction(self.engine) as connection:
            query = select(SHIPMENTS.c.id).where(SHIPMENTS.c.tracking_number == tracking)
            ids = [row.id for row in connection.execute(query)]
            key = self.settings.link_key
            live = links.live_links(connection, ids, key=key, settings=self.settings, now=NOW)
        (link,) = live.values()
        return link.token

    def dispatch(self) -> dict[str, int]:
        dispatcher = Dispatcher(
            engine=self.engine,
            settings=self.settings,
            channels=build_channels(self.settings, stream=io.StringIO()),
            templates=build_environment(self.settings),
            worker="metrics-test",
        )
        return {str(k): v for k, v in dispatcher.run_once(NOW).outcomes.items()}

    def outbox_depth(self) -> tuple[int, float]:
        pending = OUTBOX.c.state == "pending"
        with read_transaction(self.engine) as connection:
            count = connection.execute(
                select(func.count()).select_from(OUTBOX).where(pending)
            ).scalar_one()
            oldest = connection.execute(
                select(func.min(OUTBOX.c.due_at)).where(pending, OUTBOX.c.due_at <= NOW)
            ).scalar_one()
        return int(count), (NOW - oldest).total_seconds() if oldest else 0.0


@pytest.fixture
def service(sqlite_engine: Engine) -> Service:
    return Service(sqlite_engine)


def test_metrics_count_real_traffic_without_a_token_or_personal_data(service: Service) -> None:
    _, before = service.scrape()

    answer = post_events(
        service.client,
        [
            event("evt-m1"),
            event("evt-m1"),  # the same again: a duplicate
            event("evt-m2", source="Magazzino di Zebedeo", tracking_number="RP2IT"),
            event("evt-m3", occurred_at="yesterday"),  # rejected
        ],
    )
    assert answer.status_code in (200, 207), answer.text
    body = body_of("shippo_delivery_attempted.json")
    _, query = signed("shippo", body)  # Shippo proves itself by a token in the query
    hook = service.client.post(
        f"/webhooks/shippo{query}", content=body, headers={"Content-Type": "application/json"}
    )
    assert hook.status_code == 200, hook.text
    forged = service.client.post("/webhooks/shippo?token=wrong", content=body)
    assert forged.status_code == 401
    token = service.token(TRACKING)
    assert service.client.get(f"/r/{token}").status_code == 200
    assert service.client.get(f"/no/such/page/{TRACKING}").status_code == 404
    outcomes = service.dispatch()
    assert outcomes.get("sent", 0) >= 1, outcomes

    text, after = service.scrape()

    events = "notifier_events_total"
    attempted = {"status": "DELIVERY_ATTEMPTED"}
    assert delta(before, after, events, result="stored", source="tms", **attempted) == 1
    assert delta(before, after, events, result="duplicate", source="tms", **attempted) == 1
    assert delta(before, after, events, result="stored", source="other", **attempted) == 1
    assert delta(before, after, events, result="rejected", status="none", source="unknown") == 1
    shippo = {"result": "stored", "source": "shippo", "status": "DELIVERY_ATTEMPTED"}
    assert delta(before, after, events, **shippo) == 1
    hooks = "notifier_webhooks_total"
    assert delta(before, after, hooks, source="shippo", result="stored") == 1
    assert delta(before, after, hooks, source="shippo", result="refused") == 1
    for outcome, count in outcomes.items():
        sent = sum(
            delta(before, after, "notifier_messages_total", channel=channel, outcome=outcome)
            for channel in ("sms", "email")
        )
        assert sent == count, outcome
    timed = sum(
        delta(before, after, "notifier_send_seconds_count", channel=channel)
        for channel in ("sms", "email")
    )
    assert timed == outcomes["sent"]
    responses = "notifier_http_responses_total"
    assert delta(before, after, responses, route="/r/{token}", status="2xx") == 1
    assert delta(before, after, responses, route="/api/v1/events", status="2xx") == 1
    assert delta(before, after, responses, route="/webhooks/shippo", status="4xx") == 1
    assert delta(before, after, responses, route="unmatched", status="4xx") == 1
    latency = "notifier_http_response_seconds_count"
    assert delta(before, after, latency, route="/r/{token}") == 1
    for secret in (*SECRETS_IN_TRAFFIC, token, "Magazzino"):
        assert secret not in text, secret


def test_twilio_callbacks_are_counted_by_result(service: Service) -> None:
    def twilio(url: str, params: dict[str, str], key: str = TWILIO_AUTH_TOKEN) -> int:
        signature = RequestValidator(key).compute_signature(url, params)
        path = url.removeprefix(str(service.settings.web.public_base_url).rstrip("/"))
        headers = {"X-Twilio-Signature": signature}
        return service.client.post(path, data=params, headers=headers).status_code

    status_url = twilio_status_url(service.settings)
    inbound_url = twilio_inbound_url(service.settings)
    _, before = service.scrape()
    receipt = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}
    assert twilio(status_url, receipt) == 200  # no SMS of ours: ignored
    assert twilio(status_url, receipt, key="forged") == 403
    assert twilio(status_url, {"MessageSid": "SM" + "1" * 32}) == 400
    assert twilio(inbound_url, {"MessageSid": "SM" + "2" * 32, "From": "+393337654321"}) == 200
    text, after = service.scrape()

    hooks = "notifier_webhooks_total"
    assert delta(before, after, hooks, source="twilio_status", result="ignored") == 1
    assert delta(before, after, hooks, source="twilio_status", result="refused") == 1
    assert delta(before, after, hooks, source="twilio_status", result="invalid") == 1
    assert delta(before, after, hooks, source="twilio_inbound", result="stored") == 1
    route = "/webhooks/twilio/status/{token}"
    assert delta(before, after, "notifier_http_responses_total", route=route, status="4xx") == 2
    assert "3337654321" not in text
    assert status_url.rsplit("/", 1)[1] not in text  # the path's token


def test_the_outbox_gauges_are_the_databases(engine: Engine) -> None:
    service = Service(engine)
    empty = service.scrape()[1]
    assert value(empty, "notifier_outbox_pending") == 0
    assert value(empty, "notifier_outbox_oldest_due_seconds") == 0
    assert value(empty, "notifier_metrics_database_error") == 0

    post_events(service.client, [event("evt-g1"), event("evt-g2", tracking_number="RP1IT")])
    with service.engine.begin() as connection:  # one row fell due an hour ago
        first = connection.execute(select(func.min(OUTBOX.c.id))).scalar_one()
        connection.execute(
            OUTBOX.update().where(OUTBOX.c.id == first).values(due_at=NOW - timedelta(hours=1))
        )
    pending, oldest = service.outbox_depth()
    assert pending >= 2
    assert oldest == 3600
    samples = service.scrape()[1]
    assert value(samples, "notifier_outbox_pending") == pending
    assert value(samples, "notifier_outbox_oldest_due_seconds") == oldest

    service.dispatch()
    pending, oldest = service.outbox_depth()
    samples = service.scrape()[1]
    assert value(samples, "notifier_outbox_pending") == pending
    assert value(samples, "notifier_outbox_oldest_due_seconds") == oldest


def test_a_database_that_fails_leaves_the_gauges_out_rather_than_fail_the_scrape(
    sqlite_url: str,
) -> None:
    engine = make_engine(sqlite_url)  # never migrated: no outbox table to read
    try:
        samples = Service(engine).scrape()[1]
    finally:
        engine.dispose()
    assert value(samples, "notifier_metrics_database_error") == 1
    assert ("notifier_outbox_pending", frozenset()) not in samples


@pytest.mark.parametrize(
    ("mode", "client", "headers", "status"),
    [
        ("loopback", LOOPBACK, {}, 200),
        ("loopback", ("10.1.2.3", 40000), {}, 403),
        ("loopback", ("testclient", 50000), {}, 403),
        # A proxy on this host relays the public: its requests come from loopback too.
        ("loopback", LOOPBACK, {"X-Forwarded-For": "203.0.113.9"}, 403),
        ("loopback", LOOPBACK, {"Forwarded": "for=203.0.113.9"}, 403),
        ("ops", ("10.1.2.3", 40000), {}, 401),
        ("ops", ("10.1.2.3", 40000), {"Authorization": "Basic b3BzOm9wcy1wdw=="}, 200),
        ("ops", LOOPBACK, {}, 200),
        ("open", ("10.1.2.3", 40000), {}, 200),
        ("off", LOOPBACK, {}, 404),
    ],
    ids=[
        "loopback",
        "loopback-remote",
        "loopback-unknown-client",
        "loopback-proxied",
        "loopback-forwarded",
        "ops-without-password",
        "ops-with-password",
        "ops-loopback",
        "open",
        "off",
    ],
)
def test_who_may_read_the_metrics(
    sqlite_engine: Engine, mode: str, client: tuple[str, int], headers: dict[str, str], status: int
) -> None:
    service = Service(sqlite_engine, web={"metrics": mode})
    caller = TestClient(service.app, client=client)
    answer = caller.get("/metrics", headers=headers)
    assert answer.status_code == status, answer.text
    if status == 200:
        assert "notifier_outbox_pending" in answer.text
    else:
        assert "notifier_" not in answer.text


def test_the_metrics_page_is_not_in_the_api_document(service: Service) -> None:
    document = service.client.get("/openapi.json").json()
    assert "/metrics" not in document["paths"]
    assert json.dumps(document).count("prometheus") == 0
