"""Schemathesis against the app's own /openapi.json, on SQLite and on PostgreSQL.

Every operation in the document gets schema-valid (positive) and schema-breaking
(negative) requests, each sent with working credentials or with none. The checks:

- not_a_server_error: no 5xx at all (the database is healthy here, so even the documented
  503 would be a bug);
- status_code_conformance, content_type_conformance, response_schema_conformance and
  response_headers_conformance: every answer is one the document describes.

Left out, on purpose: negative_data_rejection and positive_data_acceptance. The events API
is lenient by design (a number where a string is documented is read as text, an unknown
status is stored as UNKNOWN) and rejects what JSON Schema cannot say (an occurred_at more
than a day ahead): per-event verdicts are native.py's, tested in tests/unit. Authentication
is checked here directly instead of by schemathesis's ignored_auth: without credentials a
secured operation must refuse.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import unicodedata
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine
from twilio.request_validator import RequestValidator

from notifier.config import Settings
from notifier.config.secrets import AGGREGATORS, WEBHOOK_SECRET_ENV
from notifier.urls import public_url, webhook_token
from notifier.web.app import create_app
from notifier.web.guards import RateLimiter
from notifier.web.openapi_docs import AGGREGATOR_PROOFS
from notifier.web.ops_login import LoginLimits
from tests.conftest import make_settings
from tests.integration.conftest import API_KEY

PUBLIC_BASE_URL = "https://notifier.example"
OPS_PASSWORD = "ops-password-for-schemathesis"
TWILIO_AUTH_TOKEN = "twilio-auth-token-for-schemathesis"
# Each aggregator's webhook secret: the webhooks are on, as in a deployment that uses them.
WEBHOOK_SECRETS = {name: f"{name}-webhook-secret" for name in AGGREGATORS}
ENV = {
    "NOTIFIER_API_KEY": API_KEY,
    "NOTIFIER_OPS_PASSWORD": OPS_PASSWORD,
    "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
    **{f"{WEBHOOK_SECRET_ENV}{n.upper()}": key for n, key in WEBHOOK_SECRETS.items()},
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES = 40  # per operation, mode and database: the file runs in about a minute
# The names Twilio webhooks' path tokens are derived under (notifier.urls).
TWILIO_TOKEN_NAMES = {
    "twilio-status": "/webhooks/twilio/status/",
    "twilio-inbound": "/webhooks/twilio/inbound/",
}
REFUSED_WITHOUT = {
    "apiKey": {401},
    "opsPassword": {401, 429},  # 429 once this client's wrong passwords reach the budget
    "twilioSignature": {403, 404},
    **{scheme: {401} for scheme in AGGREGATOR_PROOFS.values()},
}


@pytest.fixture
def app_settings(engine: Engine) -> Settings:
    url = engine.url.render_as_string(hide_password=False)
    return make_settings(url, env=ENV, web={"public_base_url": PUBLIC_BASE_URL})


@pytest.fixture
def api_schema(engine: Engine, app_settings: Settings) -> Any:
    app = create_app(app_settings, engine=engine)
    # The fuzzer sends thousands of made-up credentials from one client: the ops login
    # throttle (tested on its own in test_ops_login.py) would soon answer all with 429.
    roomy = {"limit": 1_000_000, "window": 600.0}
    app.state.ops_logins = LoginLimits(client=RateLimiter(**roomy), everyone=RateLimiter(**roomy))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _scheme(operation: Any) -> str | None:
    security = operation.definition.raw.get("security") or []
    return next(iter(security[0]), None) if security else None


def _credentials(case: Any, scheme: str | None, settings: Settings) -> dict[str, str]:
    """The headers (and, for Twilio, the path token) a caller with the secrets sends."""
    if scheme == "apiKey":
        return {"Authorization": f"Bearer {API_KEY}"}
    if scheme == "opsPassword":
        encoded = base64.b64encode(f"ops:{OPS_PASSWORD}".encode()).decode()
        # Origin too, as the ops page's own forms send it (ops.py refuses forms without).
        return {"Authorization": f"Basic {encoded}", "Origin": PUBLIC_BASE_URL}
    if scheme == "twilioSignature":
        name = next(n for n, p in TWILIO_TOKEN_NAMES.items() if case.path.startswith(p))
        token = webhook_token(settings, name)
        case.path_parameters = {**(case.path_parameters or {}), "token": token}
        url = public_url(settings, TWILIO_TOKEN_NAMES[name] + token)
        form = case.body if isinstance(case.body, dict) else {}
        params = {str(k): str(v) for k, v in form.items()}
        signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(url, params)
        return {"X-Twilio-Signature": signature}
    source = next((n for n, proof in AGGREGATOR_PROOFS.items() if proof == scheme), None)
    if source is not None:
        return _aggregator_proof(case, source)
    return {}


def _aggregator_proof(case: Any, source: str) -> dict[str, str]:
    """The proof the provider sends; a signature is over the exact bytes, so the body is
    serialised here and sent as those bytes."""
    secret = WEBHOOK_SECRETS[source]
    if source in ("karrio", "shippo"):
        if source == "shippo":
            case.query = {**(case.query or {}), "token": secret}
            return {}
        return {"X-Event-Id": secret}
    raw = case.body if isinstance(case.body, bytes) else json.dumps(case.body).encode()
    case.body = raw
    if source == "aftership":
        digest = hmac.new(secret.encode(), raw, hashlib.sha256).digest()
        return {"aftership-hmac-sha256": base64.b64encode(digest).decode()}
    hexdigest = hmac.new(unicodedata.normalize("NFKD", secret).encode(), raw, hashlib.sha256)
    return {"X-Hmac-Signature": f"hmac-sha256-hex={hexdigest.hexdigest()}"}


def _operations(api_schema: Any) -> list[Any]:
    found = [result.ok() for result in api_schema.get_all_operations()]
    assert found, "the document lists no operation"
    return found


def _fuzz(
    operation: Any, mode: schemathesis.GenerationMode, app_settings: Settings, statuses: set[int]
) -> None:
    """EXAMPLES requests to one operation, each checked; the statuses seen go to `statuses`."""
    scheme = _scheme(operation)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), authenticated=st.booleans())
    def run(case: Any, authenticated: bool) -> None:
        headers = _credentials(case, scheme, app_settings) if authenticated else {}
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)
        if authenticated:
            statuses.add(response.status_code)
        elif scheme is not None:
            assert response.status_code in REFUSED_WITHOUT[scheme], (
                f"{operation.label} answered {response.status_code} without credentials"
            )

    run()


@pytest.mark.slow
@pytest.mark.parametrize(
    "mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
)
def test_every_operation_answers_as_documented(
    api_schema: Any, app_settings: Settings, mode: schemathesis.GenerationMode
) -> None:
    seen: dict[str, set[int]] = {}
    refusals: dict[str, set[int]] = {}
    for operation in _operations(api_schema):
        scheme = _scheme(operation)
        assert scheme is None or scheme in REFUSED_WITHOUT, (
            f"{operation.label}: add how {scheme!r} is proven (_credentials) and refused"
        )
        refusals[operation.label] = REFUSED_WITHOUT[scheme] if scheme else set()
        try:
            _fuzz(operation, mode, app_settings, seen.setdefault(operation.label, set()))
        except Unsatisfiable:
            # Nothing to break: no input (GET /healthz), or only unconstrained strings.
            assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
            assert "requestBody" not in operation.definition.raw, operation.label
    # With credentials the handlers were reached: something beyond a refusal came back.
    if mode is schemathesis.GenerationMode.POSITIVE:
        reached = {label for label, codes in seen.items() if codes - refusals[label]}
        assert reached == set(seen), f"never past authentication: {set(seen) - reached}"


def test_the_document_describes_every_public_operation(api_schema: Any) -> None:
    labels = {operation.label for operation in _operations(api_schema)}
    expected = {
        "POST /api/v1/events",
        "GET /api/v1/shipments/{tracking}/slip.zpl",
        "GET /healthz",
        "GET /ops",
        "GET /ops/slips.pdf",
        "GET /ops/route-pack.pdf",
        "GET /ops/final-notices.pdf",
        "GET /ops/bookings",
        "GET /ops/callbacks",
        "POST /ops/callbacks/{promise_id}/done",
        "POST /webhooks/twilio/status/{token}",
        "POST /webhooks/twilio/inbound/{token}",
        *(f"POST /webhooks/{name}" for name in AGGREGATORS),
    }
    assert expected <= labels, expected - labels
    # The recipients' pages are reached by link, not by an integrator: not in the document.
    assert not {label for label in labels if " /r" in label or " /u/" in label}
