"""No database work on the web's event loop. A read waits on no lock, but it waits for a
pooled connection: with the pool exhausted, one handler waiting on the loop would stall
every page and /healthz. Every connection the app takes is watched for where it is taken."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select

from notifier.db.engine import read_transaction
from notifier.db.tables import SHIPMENTS
from notifier.ingest.batches import ingest
from notifier.ingest.checking import Incoming
from notifier.rebooking import links
from notifier.web.app import create_app
from tests.conftest import NOW, make_settings
from tests.integration.conftest import API_KEY
from tests.unit.carrier_payloads import own

OPS = "a-long-ops-password-for-tests"
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def on_the_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_no_handler_takes_a_database_connection_on_the_event_loop(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    env = {
        "NOTIFIER_API_KEY": API_KEY,
        "NOTIFIER_OPS_PASSWORD": OPS,
        "NOTIFIER_WEBHOOK_SECRET_SHIPPO": "shippo-token",
    }
    settings = make_settings(url, env=env)
    event_body = {
        "event_id": "e-1",
        "tracking_number": "RP123456789IT",
        "status": "DELIVERY_ATTEMPTED",
        "reason": "RECIPIENT_ABSENT",
        "occurred_at": (NOW - timedelta(minutes=20)).isoformat(),
        "depot": "MI01",
        "recipient": {"name": "Giovanni Bianchi", "phone": "+39 333 123 4567"},
    }
    items = [Incoming(0, event_body, json.dumps(event_body))]
    list(ingest(engine, items, settings=settings, now=lambda: NOW))
    with read_transaction(engine) as connection:
        ids = [r.id for r in connection.execute(select(SHIPMENTS.c.id))]
        live = links.live_links(connection, ids, key=settings.link_key, settings=settings, now=NOW)
    (link,) = live.values()

    taken: list[tuple[str, bool]] = []
    current = ["setup"]

    def checkout(*_: Any) -> None:
        taken.append((current[0], on_the_event_loop()))

    event.listen(engine, "checkout", checkout)
    try:
        with TestClient(create_app(settings, engine=engine, clock=lambda: NOW)) as client:
            code_page = client.get("/r")
            csrf = CSRF.search(code_page.text)
            assert csrf is not None
            requests: list[tuple[str, str, dict[str, Any]]] = [
                ("GET", "/healthz", {}),
                ("GET", f"/r/{link.token}", {}),
                ("GET", f"/r/{link.token}/callback", {}),
                ("POST", "/r", {"data": {"code": "ABCD-EFGH", "csrf": csrf.group(1)}}),
                ("GET", "/ops", {"auth": ("ops", OPS)}),
                ("GET", "/ops/callbacks", {"auth": ("ops", OPS)}),
                ("GET", "/ops/bookings?date=2026-11-22", {"auth": ("ops", OPS)}),
                (
                    "POST",
                    "/api/v1/events",
                    {
                        "content": json.dumps({**event_body, "event_id": "e-2"}),
                        "headers": {
                            "Authorization": f"Bearer {API_KEY}",
                            "Content-Type": "application/json",
                        },
                    },
                ),
                (
                    "POST",
                    "/webhooks/shippo?token=shippo-token",
                    {"content": own("shippo_out_for_delivery.json")[1]},
                ),
                (
                    "GET",
                    "/api/v1/shipments/RP123456789IT/slip.zpl",
                    {"headers": {"Authorization": f"Bearer {API_KEY}"}},
                ),
            ]
            for method, path, options in requests:
                current[0] = f"{method} {path}"
                before = len(taken)
                answer = client.request(method, path, **options)
                assert answer.status_code < 500, (path, answer.status_code, answer.text[:200])
                assert len(taken) > before, f"{path} took no connection: the check saw nothing"
    finally:
        event.remove(engine, "checkout", checkout)
    on_loop = sorted({where for where, loop in taken if loop})
    assert on_loop == [], f"database connections taken on the event loop by: {on_loop}"
