"""/openapi.json and /docs as served: what the document says of bodies, credentials and
errors, and a docs page that names no other origin. (tests/browser/test_docs_page.py runs
the page in chromium; test_openapi_schemathesis.py holds the app to the document.)"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from notifier.carriers.native import REQUIRED
from notifier.web.openapi_docs import (
    API_KEY,
    ERROR_DESCRIPTIONS,
    OPS_PASSWORD,
    error_responses,
    security,
)
from tests.conftest import DESIGN_EVENT
from tests.integration.conftest import AUTH, JSON, ClientFactory


@pytest.fixture
def client(sqlite_engine: Engine, make_client: ClientFactory) -> TestClient:
    env = {"NOTIFIER_API_KEY": "k" * 20, "NOTIFIER_OPS_PASSWORD": "p" * 12}
    return make_client(sqlite_engine, env=env)


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    found: dict[str, Any] = answer.json()
    return found


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def _undocumented_keys(value: Any, schema: dict[str, Any], at: str = "") -> list[str]:
    if not isinstance(value, dict):
        return []
    properties = schema.get("properties", {})
    missing = []
    for key, inner in value.items():
        if key not in properties:
            missing.append(at + key)
        else:
            missing += _undocumented_keys(inner, properties[key], f"{at}{key}.")
    return missing


def test_the_old_address_serves_the_same_document(client: TestClient) -> None:
    assert client.get("/api/openapi.json").json() == client.get("/openapi.json").json()


def test_every_operation_names_its_credentials(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["apiKey"] == {**schemes["apiKey"], "type": "http", "scheme": "bearer"}
    assert schemes["opsPassword"]["scheme"] == "basic"
    signature = schemes["twilioSignature"]
    assert (signature["type"], signature["in"], signature["name"]) == (
        "apiKey",
        "header",
        "X-Twilio-Signature",
    )
    for label, operation in _operations(document):
        if label == "GET /healthz":
            assert "security" not in operation
            continue
        requirements = operation["security"]
        assert requirements, label
        assert all(set(r) <= set(schemes) for r in requirements), label
        if "/api/v1/" in label:
            assert requirements == [{"apiKey": []}], label
        if " /ops" in label:
            assert requirements == [{"opsPassword": []}], label
        # Every secured operation says what a caller without credentials gets.
        assert {"401", "403", "404"} & set(operation["responses"]), label


def test_the_events_body_is_the_native_event(document: dict[str, Any]) -> None:
    operation = document["paths"]["/api/v1/events"]["post"]
    body = operation["requestBody"]
    assert body["required"] is True
    single, many = body["content"]["application/json"]["schema"]["oneOf"]
    assert many["items"] == single
    assert (many["minItems"], many["maxItems"]) == (1, 1000)
    assert set(single["required"]) == set(REQUIRED)
    assert _undocumented_keys(DESIGN_EVENT, single) == []
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert parameters["slip"]["schema"]["enum"] == ["zpl"]
    assert parameters["dpi"]["schema"]["enum"] == [203, 300]


def test_the_documented_example_is_accepted(client: TestClient) -> None:
    answer = client.post(
        "/api/v1/events",
        content=json.dumps(DESIGN_EVENT).encode(),
        headers={**AUTH, **JSON, "Authorization": "Bearer " + "k" * 20},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["result"] == "stored"


def test_the_events_errors_are_described_with_their_bodies(document: dict[str, Any]) -> None:
    responses = document["paths"]["/api/v1/events"]["post"]["responses"]
    ref = {"$ref": "#/components/schemas/ErrorBody"}
    for code in ("400", "401", "413", "415", "503"):
        assert responses[code]["content"]["application/json"]["schema"] == ref, code
        assert responses[code]["description"] == ERROR_DESCRIPTIONS[int(code)]
    assert "WWW-Authenticate" in responses["401"]["headers"]
    assert responses["503"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
    assert ref in responses["422"]["content"]["application/json"]["schema"]["anyOf"]
    assert responses["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EventsAnswer"
    }
    error_body = document["components"]["schemas"]["ErrorBody"]
    assert error_body["required"] == ["error"]


def test_the_label_documents_its_errors_as_json_beside_its_text(document: dict[str, Any]) -> None:
    responses = document["paths"]["/api/v1/shipments/{tracking}/slip.zpl"]["get"]["responses"]
    assert list(responses["200"]["content"]) == ["text/plain"]
    for code in ("401", "404", "422", "503"):
        assert list(responses[code]["content"]) == ["application/json"], code


def test_error_responses_gives_each_code_its_body_and_headers() -> None:
    given = error_responses(401, 413, 415, 422, 503)
    assert list(given) == [401, 413, 415, 422, 503]
    for code, entry in given.items():
        assert entry["description"] == ERROR_DESCRIPTIONS[code]
        schema = entry["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    assert set(given[401]["headers"]) == {"WWW-Authenticate"}
    assert set(given[503]["headers"]) == {"Retry-After"}
    assert "headers" not in given[413]


def test_the_docs_page_names_no_other_origin(client: TestClient) -> None:
    answer = client.get("/docs")
    assert answer.status_code == 200
    html = answer.text
    assert not re.search(r"(https?:)?//", html), "an absolute or scheme-relative URL"
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert "unsafe" not in policy
    assert "http" not in policy
    assert not re.search(r"<script>|<script\s+(?!src=)|\son\w+=", html), "an inline script"
    # Every asset the page loads is ours and is served.
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sorted(a for a in assets if a.startswith("/docs/")) == [
        "/docs/swagger-init.js",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-ui.css",
    ]
    for asset, kind in (
        ("/docs/swagger-ui-bundle.js", "text/javascript"),
        ("/docs/swagger-init.js", "text/javascript"),
        ("/docs/swagger-ui.css", "text/css"),
    ):
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert served.headers["content-type"].startswith(kind), asset
    assert "SwaggerUIBundle" in client.get("/docs/swagger-ui-bundle.js").text
    assert not re.search(r"https?://", client.get("/docs/swagger-init.js").text)


@pytest.mark.parametrize(
    "name", ["index.html", "swagger-initializer.js", "..%2Fapp.py", "oauth2-redirect.html"]
)
def test_the_docs_serve_only_their_own_assets(client: TestClient, name: str) -> None:
    # The package's own index.html and initializer load the Petstore from another origin.
    assert client.get(f"/docs/{name}").status_code == 404


def test_security_names_one_scheme_or_alternatives() -> None:
    assert security(API_KEY) == {"security": [{"apiKey": []}]}
    both = security(API_KEY, OPS_PASSWORD)
    assert both == {"security": [{"apiKey": []}, {"opsPassword": []}]}
    with pytest.raises(AssertionError, match="not in SECURITY_SCHEMES"):
        security("bearer")
