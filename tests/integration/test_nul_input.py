"""A NUL character in a request, on SQLite and PostgreSQL: refused as bad input, never a 500
or a 503. PostgreSQL's text cannot hold one, so before these checks it failed the query
(schemathesis found each of them: test_openapi_schemathesis.py)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from twilio.request_validator import RequestValidator

from notifier.db.tables import INBOUND
from notifier.rebooking.promises import CallbackRefusedError, check_call
from notifier.urls import twilio_inbound_url, twilio_status_url
from notifier.web.app import create_app
from tests.conftest import make_settings
from tests.integration.conftest import API_KEY, AUTH, rows

BASE = "https://notifier.example"
OPS_PASSWORD = "ops-password-for-nul-tests"
TWILIO_AUTH_TOKEN = "twilio-auth-token-for-nul-tests"
OPS = {
    "Authorization": "Basic " + base64.b64encode(f"ops:{OPS_PASSWORD}".encode()).decode(),
    "Origin": BASE,
}


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    env = {
        "NOTIFIER_API_KEY": API_KEY,
        "NOTIFIER_OPS_PASSWORD": OPS_PASSWORD,
        "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
    }
    url = engine.url.render_as_string(hide_password=False)
    settings = make_settings(url, env=env, web={"public_base_url": BASE})
    # Server errors come back as answers, so a regression reads as its status code.
    with TestClient(create_app(settings, engine=engine), raise_server_exceptions=False) as c:
        yield c


def test_a_label_for_a_tracking_number_with_a_nul_is_not_found(client: TestClient) -> None:
    answer = client.get("/api/v1/shipments/RP1%00X/slip.zpl", headers=AUTH)
    assert answer.status_code == 404
    assert "no open missed delivery" in answer.json()["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/ops/slips.pdf",
        "/ops/route-pack.pdf",
        "/ops/final-notices.pdf",
        "/ops/bookings",
        "/ops/callbacks",
    ],
)
def test_an_ops_depot_with_a_nul_is_refused_naming_depot(client: TestClient, path: str) -> None:
    answer = client.get(f"{path}?date=2026-11-22&depot=MI%0001", headers=OPS)
    assert answer.status_code == 422
    assert answer.json()["error"].startswith("depot: ")


def test_a_callback_marked_with_a_nul_is_refused_naming_the_field(client: TestClient) -> None:
    form = {"by": "Anna\x00", "date": "2026-11-22"}
    answer = client.post("/ops/callbacks/1/done", data=form, headers=OPS, follow_redirects=False)
    assert answer.status_code == 422
    assert "by: must not hold a NUL character" in answer.text


@pytest.mark.parametrize(
    ("by", "note", "field"), [("Anna\x00", None, "by"), ("Anna", "a\x00", "note")]
)
def test_check_call_refuses_a_nul(by: str, note: str | None, field: str) -> None:
    with pytest.raises(CallbackRefusedError) as refused:
        check_call(by, None, note)
    assert refused.value.field == field


def _signed(client: TestClient, url: str, form: dict[str, str]) -> Any:
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(url, form)
    path = url.removeprefix(BASE)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def test_an_incoming_sms_with_a_nul_is_a_bad_request(client: TestClient, engine: Engine) -> None:
    settings = client.app.state.settings  # type: ignore[attr-defined]
    form = {"MessageSid": "SM\x00" + "1" * 30, "From": "+393331234567", "Body": "STOP"}
    answer = _signed(client, twilio_inbound_url(settings), form)
    assert answer.status_code == 400
    assert answer.text == "a parameter holds a NUL character"
    assert rows(engine, INBOUND) == []
    # The same request without the NUL is answered: the check is the NUL, not the form.
    form["MessageSid"] = "SM" + "1" * 32
    assert _signed(client, twilio_inbound_url(settings), form).status_code == 200


def test_a_receipt_with_a_nul_is_a_bad_request(client: TestClient) -> None:
    settings = client.app.state.settings  # type: ignore[attr-defined]
    form = {"MessageSid": "SM" + "2" * 32, "MessageStatus": "deliv\x00ered"}
    answer = _signed(client, twilio_status_url(settings), form)
    assert answer.status_code == 400
    form["MessageStatus"] = "delivered"
    answered = _signed(client, twilio_status_url(settings), form)
    assert (answered.status_code, answered.text) == (200, "unknown")
