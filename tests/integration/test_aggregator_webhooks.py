"""POST /webhooks/{source}: aggregators' payloads, signed as each provider signs them, through
the app to the database; forged, replayed, foreign and broken deliveries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from notifier import cli
from notifier.db.engine import make_engine
from notifier.db.tables import EVENTS, OUTBOX, SHIPMENTS
from notifier.web.app import create_app
from tests.conftest import NOW, REPO, TEST_SECRET_KEY, make_settings
from tests.unit.carrier_payloads import own

SECRETS = {
    "aftership": "aftership-secret-1",
    "easypost": "sécret-easypost",  # EasyPost keys with the NFKD form: é is two code points
    "karrio": "karrio-webhook-secret",
    "shippo": "shippo-token-3b9f",
}
ENV = {f"NOTIFIER_WEBHOOK_SECRET_{name.upper()}": key for name, key in SECRETS.items()}


def signed(source: str, body: bytes, secret: str | None = None) -> tuple[dict[str, str], str]:
    """The headers and query a provider sends with `body`, computed as its docs say."""
    key = secret if secret is not None else SECRETS[source]
    if source == "aftership":
        digest = hmac.new(key.encode(), body, hashlib.sha256).digest()
        return {"aftership-hmac-sha256": base64.b64encode(digest).decode()}, ""
    if source == "easypost":
        nfkd = unicodedata.normalize("NFKD", key).encode()
        hexdigest = hmac.new(nfkd, body, hashlib.sha256).hexdigest()
        return {"X-Hmac-Signature": f"hmac-sha256-hex={hexdigest}"}, ""
    if source == "karrio":
        return {"X-Event-Id": key}, ""
    return {}, f"?token={key}"


class Webhooks:
    def __init__(self, engine: Engine, env: dict[str, str] | None = None) -> None:
        url = engine.url.render_as_string(hide_password=False)
        self.engine = engine
        settings = make_settings(url, env=ENV if env is None else env)
        self.client = TestClient(create_app(settings, engine=engine, clock=lambda: NOW))

    def post(
        self, source: str, body: bytes, *, secret: str | None = None, headers: Any = None
    ) -> Any:
        proof, query = signed(source, body, secret)
        sent = {"Content-Type": "application/json", **proof, **(headers or {})}
        return self.client.post(f"/webhooks/{source}{query}", content=body, headers=sent)

    def count(self, table: Any) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(table)).scalar_one())

    def shipment(self, tracking_number: str) -> str | None:
        with self.engine.connect() as connection:
            query = select(SHIPMENTS.c.status).where(SHIPMENTS.c.tracking_number == tracking_number)
            return connection.execute(query).scalar_one_or_none()


@pytest.fixture
def hooks(engine: Engine) -> Webhooks:
    return Webhooks(engine)


def body_of(name: str) -> bytes:
    _, raw = own(name)
    return raw.encode()


ITALIAN = [
    ("aftership", "aftership_attempt_fail.json", "BRT0601234567", "DELIVERY_ATTEMPTED"),
    ("aftership", "aftership_available_for_pickup.json", None, "AVAILABLE_FOR_PICKUP"),
    ("aftership", "aftership_returning.json", None, "RETURNING"),
    ("easypost", "easypost_failure.json", None, "EXCEPTION"),
    ("easypost", "easypost_available_for_pickup.json", None, "AVAILABLE_FOR_PICKUP"),
    ("easypost", "easypost_returning.json", None, "RETURNING"),
    ("karrio", "karrio_delivery_failed.json", "GLS1122334455", "DELIVERY_ATTEMPTED"),
    ("karrio", "karrio_ready_for_pickup.json", None, "AVAILABLE_FOR_PICKUP"),
    ("karrio", "karrio_delivery_delayed.json", None, "EXCEPTION"),
    ("shippo", "shippo_delivery_attempted.json", "JJD000390007812345678", "DELIVERY_ATTEMPTED"),
    ("shippo", "shippo_pickup_available.json", None, "AVAILABLE_FOR_PICKUP"),
    ("shippo", "shippo_returned.json", None, "RETURNING"),
]


def tracking_number_in(source: str, payload: dict[str, Any]) -> str:
    if source == "aftership":
        return str(payload["msg"]["tracking_number"])
    if source == "easypost":
        return str(payload["result"]["tracking_code"])
    return str(payload["data"]["tracking_number"])


@pytest.mark.parametrize(("source", "name", "number", "status"), ITALIAN)
def test_a_signed_italian_payload_becomes_its_native_status(
    hooks: Webhooks, source: str, name: str, number: str | None, status: str
) -> None:
    payload, raw = own(name)
    number = number or tracking_number_in(source, payload)
    answer = hooks.post(source, raw.encode())
    assert answer.status_code == 200, answer.text
    assert answer.json()["stored"] == 1
    assert hooks.shipment(number) == status
    with hooks.engine.connect() as connection:
        (kept,) = connection.execute(select(EVENTS.c.payload)).scalars()
    assert json.loads(kept) == payload  # the provider's payload, as it came


def test_an_attempt_with_a_phone_is_queued_for_the_recipient(hooks: Webhooks) -> None:
    answer = hooks.post("aftership", body_of("aftership_attempt_fail.json"))
    assert answer.json()["stored"] == 1
    with hooks.engine.connect() as connection:
        rows = connection.execute(select(OUTBOX.c.channel, OUTBOX.c.purpose)).all()
    assert ("sms", "missed_delivery") in [tuple(r) for r in rows]


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("aftership", "aftership_unknown_tag.json"),
        ("easypost", "easypost_unknown_status.json"),
        ("karrio", "karrio_unknown_status.json"),
        ("shippo", "shippo_unknown_status.json"),
    ],
)
def test_an_unknown_code_is_stored_as_unknown_and_notifies_nobody(
    hooks: Webhooks, source: str, name: str
) -> None:
    payload, raw = own(name)
    answer = hooks.post(source, raw.encode())
    assert answer.status_code == 200
    assert (answer.json()["stored"], answer.json()["unknown_statuses"]) == (1, 1)
    assert hooks.shipment(tracking_number_in(source, payload)) == "UNKNOWN"
    assert hooks.count(OUTBOX) == 0


@pytest.mark.parametrize("source", sorted(SECRETS))
def test_a_forged_delivery_is_refused_and_stores_nothing(hooks: Webhooks, source: str) -> None:
    body = body_of(f"{source}_out_for_delivery.json")
    forged = hooks.post(source, body, secret="not-the-secret")
    assert forged.status_code == 401
    assert source in forged.json()["error"]
    unsigned = hooks.client.post(
        f"/webhooks/{source}", content=body, headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 401
    assert hooks.count(EVENTS) == 0


def test_a_body_changed_after_signing_is_refused(hooks: Webhooks) -> None:
    body = body_of("aftership_out_for_delivery.json")
    proof, _ = signed("aftership", body)
    tampered = body.replace(b"OutForDelivery", b"Delivered")
    answer = hooks.client.post("/webhooks/aftership", content=tampered, headers=proof)
    assert answer.status_code == 401
    assert hooks.count(EVENTS) == 0


def test_easypost_keys_its_hmac_with_the_secrets_nfkd_form(hooks: Webhooks) -> None:
    # The same secret typed with a precomposed é (U+00E9): EasyPost normalises it first.
    composed = unicodedata.normalize("NFC", SECRETS["easypost"])
    assert composed != unicodedata.normalize("NFKD", composed)
    answer = hooks.post("easypost", body_of("easypost_out_for_delivery.json"), secret=composed)
    assert answer.status_code == 200


@pytest.mark.parametrize("source", sorted(SECRETS))
def test_the_same_delivery_twice_stores_one_event(hooks: Webhooks, source: str) -> None:
    body = body_of(f"{source}_out_for_delivery.json")
    assert hooks.post(source, body).json()["stored"] == 1
    again = hooks.post(source, body)
    assert again.status_code == 200
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 1)
    assert hooks.count(EVENTS) == 1


def test_during_a_rotation_the_old_and_the_new_secret_both_open(engine: Engine) -> None:
    rotating = {**ENV, "NOTIFIER_WEBHOOK_SECRET_AFTERSHIP": "old-secret, new-secret"}
    hooks = Webhooks(engine, env=rotating)
    body = body_of("aftership_out_for_delivery.json")
    assert hooks.post("aftership", body, secret="new-secret").status_code == 200
    assert hooks.post("aftership", body, secret="old-secret").json()["duplicates"] == 1
    assert hooks.post("aftership", body, secret="another").status_code == 401


def test_a_source_with_no_secret_is_off_until_configured(engine: Engine) -> None:
    hooks = Webhooks(engine, env={})
    answer = hooks.post("shippo", body_of("shippo_out_for_delivery.json"), secret="anything")
    assert answer.status_code == 503
    assert "NOTIFIER_WEBHOOK_SECRET_SHIPPO" in answer.json()["error"]
    assert hooks.count(EVENTS) == 0


def test_karrio_may_carry_its_secret_in_the_url_instead(hooks: Webhooks) -> None:
    body = body_of("karrio_out_for_delivery.json")
    answer = hooks.client.post(
        f"/webhooks/karrio?token={SECRETS['karrio']}",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 200
    assert answer.json()["stored"] == 1


@pytest.mark.parametrize(
    ("source", "envelope"),
    [
        ("easypost", {"object": "Event", "description": "batch.updated", "result": {}}),
        ("shippo", {"event": "transaction_created", "test": False, "data": {}}),
        ("karrio", {"event": "shipment.purchased", "data": {"id": "shp_1"}}),
    ],
)
def test_other_news_on_the_same_url_is_acknowledged_and_left_alone(
    hooks: Webhooks, source: str, envelope: dict[str, Any]
) -> None:
    answer = hooks.post(source, json.dumps(envelope).encode())
    assert answer.status_code == 200
    kind = envelope.get("description") or envelope["event"]
    assert (answer.json()["ignored"], answer.json()["stored"]) == (kind, 0)
    assert hooks.count(EVENTS) == 0


def test_broken_bodies_get_a_clear_error_naming_why(hooks: Webhooks) -> None:
    not_json = hooks.post("aftership", b'{"msg": ')
    assert (not_json.status_code, not_json.json()["error"][:26]) == (
        400,
        "the body is not valid JSON",
    )
    nan = hooks.post("aftership", b'{"msg": {"tracking_number": NaN}}')
    assert nan.status_code == 400
    payload, _ = own("aftership_attempt_fail.json")
    del payload["msg"]["tracking_number"]
    missing = hooks.post("aftership", json.dumps(payload).encode())
    assert missing.status_code == 422
    assert "msg.tracking_number" in [e["field"] for e in missing.json()["errors"]]
    huge = hooks.post("aftership", b" " * 1_100_000)
    assert huge.status_code == 413
    empty = hooks.post("aftership", b"{}")
    assert empty.status_code == 422
    assert "tracking_number" in [e["field"] for e in empty.json()["errors"]]
    assert hooks.client.post("/webhooks/fedex", content=b"{}").status_code == 404
    assert hooks.client.post("/webhooks/twilio", content=b"{}").status_code == 404
    assert hooks.count(EVENTS) == 0


def test_with_the_database_down_the_provider_is_told_to_retry(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'notifier.db'}")
    try:
        answer = Webhooks(engine).post("karrio", body_of("karrio_delivery_failed.json"))
    finally:
        engine.dispose()
    assert answer.status_code == 503
    assert int(answer.headers["retry-after"]) > 0


def test_the_cli_prints_each_aggregators_address_and_whether_it_is_on(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    config.write_text(
        text.replace('"http://127.0.0.1:8000"', '"https://notifier.rapido.example"'), "utf-8"
    )
    env = {
        "NOTIFIER_SECRET_KEY": TEST_SECRET_KEY,
        "NOTIFIER_CONFIG": None,
        "NOTIFIER_WEBHOOK_SECRET_SHIPPO": SECRETS["shippo"],
    }
    result = CliRunner().invoke(cli.app, ["webhooks", "--config", str(config)], env=env)
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    shippo = (
        "https://notifier.rapido.example/webhooks/shippo?token=<NOTIFIER_WEBHOOK_SECRET_SHIPPO>"
    )
    assert lines["shippo"].split()[2:] == [shippo, "(on)"]
    assert "https://notifier.rapido.example/webhooks/aftership" in lines["aftership"]
    assert "off: set NOTIFIER_WEBHOOK_SECRET_AFTERSHIP" in lines["aftership"]
    assert SECRETS["shippo"] not in result.stdout  # a secret is never printed
